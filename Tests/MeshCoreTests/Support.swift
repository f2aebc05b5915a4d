import Testing
import MeshCore

/// Decodes YAML that the test expects to be valid, recording an issue for any error.
func decodeValid(_ yaml: String, file: String = "test.yaml", sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [AnyResource] {
    let output = ConfigDecoder().decode(yaml, file: file)
    for error in output.errors { Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation) }
    return output.resources
}
