// MeshProxy
