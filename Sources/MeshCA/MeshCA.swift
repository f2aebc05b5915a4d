// MeshCA
