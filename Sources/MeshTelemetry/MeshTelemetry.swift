// MeshTelemetry
