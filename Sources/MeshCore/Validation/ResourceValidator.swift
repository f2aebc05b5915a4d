/// Validation a layer above MeshCore adds for some kinds: checks that need a library MeshCore
/// does not depend on, such as parsing certificates and matching keys (MeshCA provides one for
/// `Secret`s).
///
/// ``ConfigDecoder`` calls it once per decoded resource, after the kind's own rules passed; its
/// errors reject the resource like any other validation error, so a ``DirectoryConfigStore`` keeps
/// the file's last good version. Paths are relative to the document root. Messages must not quote
/// secret values.
///
/// ```swift
/// struct NoTestNamespace: ResourceValidator {
///     func validate(_ resource: AnyResource, mesh: MeshConfig) -> ValidationResult {
///         var result = ValidationResult()
///         if resource.meta.namespace == "test" { result.error("metadata.namespace", "not here") }
///         return result
///     }
/// }
/// ```
public protocol ResourceValidator: Sendable {
    /// Findings for `resource`.
    /// - Parameters:
    ///   - resource: a decoded resource that passed its kind's validation.
    ///   - mesh: mesh-wide settings.
    func validate(_ resource: AnyResource, mesh: MeshConfig) -> ValidationResult
}
