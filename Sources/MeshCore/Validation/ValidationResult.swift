/// One problem found in a resource: where it is and what is wrong.
public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
    /// The field path, e.g. `spec.http[0].route[1].weight`.
    public var path: FieldPath
    public var message: String

    public init(path: FieldPath, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.components.isEmpty ? message : "\(path): \(message)" }
}

/// The outcome of validating a resource: errors reject it, warnings do not.
///
/// This mirrors Istio's `ValidateFunc`, which returns warnings and an error separately.
public struct ValidationResult: Sendable, Hashable {
    public var errors: [ValidationIssue]
    public var warnings: [ValidationIssue]

    public init(errors: [ValidationIssue] = [], warnings: [ValidationIssue] = []) {
        self.errors = errors
        self.warnings = warnings
    }

    /// True when there are no errors (warnings allowed).
    public var isValid: Bool { errors.isEmpty }

    /// Records an error at `path`.
    public mutating func error(_ path: FieldPath, _ message: String) {
        errors.append(ValidationIssue(path: path, message: message))
    }

    /// Records a warning at `path`.
    public mutating func warning(_ path: FieldPath, _ message: String) {
        warnings.append(ValidationIssue(path: path, message: message))
    }

    /// Appends another result's findings.
    public mutating func merge(_ other: ValidationResult) {
        errors += other.errors
        warnings += other.warnings
    }
}

/// What validation may consult besides the spec: the resource's metadata and mesh settings.
public struct ValidationContext: Sendable {
    public var meta: ObjectMeta
    public var mesh: MeshConfig

    public init(meta: ObjectMeta, mesh: MeshConfig = MeshConfig()) {
        self.meta = meta
        self.mesh = mesh
    }

    /// The mesh's root namespace (`istio-system` unless MeshConfig says otherwise).
    public var rootNamespace: String { mesh.rootNamespace ?? "istio-system" }

    /// Kubernetes rules for names, namespaces, labels and annotations, and Istio's annotation rules
    /// for every kind (`validateMetadata` in istio pkg/config/validation): `istio.io/dry-run` only on
    /// AuthorizationPolicy, and none of `internal.istio.io/webhook-always-reject`,
    /// `internal.istio.io/parents` or `internal.istio.io/parent-namespace`.
    /// - Parameters:
    ///   - meta: the resource's metadata.
    ///   - kind: the resource's kind; nil skips the kind-specific rules.
    public static func validateMetadata(_ meta: ObjectMeta, kind: ResourceKind? = nil) -> ValidationResult {
        var result = ValidationResult()
        if meta.name.isEmpty {
            result.error("metadata.name", "name is required")
        } else if !Validators.isDNS1123Subdomain(meta.name) {
            result.error("metadata.name", "invalid name \"\(meta.name)\": must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; start and end alphanumeric; at most 253 characters)")
        }
        if !Validators.isDNS1123Label(meta.namespace) {
            result.error("metadata.namespace", "invalid namespace \"\(meta.namespace)\": must be a lowercase RFC 1123 label (a-z, 0-9, '-'; at most 63 characters)")
        }
        result.merge(Validators.labels(meta.labels, at: "metadata.labels"))
        for key in meta.annotations.keys.sorted() where !Validators.isQualifiedName(key) {
            result.error(FieldPath("metadata.annotations").key(key), "invalid annotation key \"\(key)\"")
        }
        if let kind, kind != .authorizationPolicy {
            result.merge(Validators.dryRunAnnotationUnsupported(meta))
        }
        if meta.annotations["internal.istio.io/webhook-always-reject"] != nil {
            result.error(FieldPath("metadata.annotations").key("internal.istio.io/webhook-always-reject"),
                         "\"internal.istio.io/webhook-always-reject\" annotation found, rejecting")
        }
        for key in ["internal.istio.io/parent-namespace", "internal.istio.io/parents"] where meta.annotations[key] != nil {
            result.error(FieldPath("metadata.annotations").key(key), "\"\(key)\" annotation found, this may not be set by users")
        }
        return result
    }
}
