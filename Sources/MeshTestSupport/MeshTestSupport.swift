// MeshTestSupport
