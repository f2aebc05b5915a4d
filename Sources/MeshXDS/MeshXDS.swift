// MeshXDS
