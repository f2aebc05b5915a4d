/// The `spec` of an Istio resource: a Codable value that knows its kind and validates itself.
public protocol ResourceSpec: Sendable, Hashable, Codable {
    /// The kind this spec belongs to.
    static var kind: ResourceKind { get }

    /// Applies Istio's validation rules for this kind.
    ///
    /// Called once per decoded document. Paths in the result are relative to the document
    /// root and start with `spec` (or `metadata`).
    /// - Parameter context: the resource's metadata and mesh-wide settings.
    func validate(in context: ValidationContext) -> ValidationResult
}

/// A typed Istio resource: metadata plus spec.
public struct Resource<Spec: ResourceSpec>: Sendable, Hashable {
    public var meta: ObjectMeta
    public var spec: Spec
    /// Where it was read from, when it came from a file.
    public var source: SourceLocation?

    public init(meta: ObjectMeta, spec: Spec, source: SourceLocation? = nil) {
        self.meta = meta
        self.spec = spec
        self.source = source
    }

    /// `namespace/name`.
    public var key: ResourceKey { ResourceKey(kind: Spec.kind, namespace: meta.namespace, name: meta.name) }

    /// This resource without its static type.
    public var erased: AnyResource { AnyResource(meta: meta, spec: spec, source: source) }
}

/// An Istio resource of any kind.
public struct AnyResource: Sendable, Hashable {
    public var meta: ObjectMeta
    public var spec: any ResourceSpec
    public var source: SourceLocation?

    public init(meta: ObjectMeta, spec: any ResourceSpec, source: SourceLocation? = nil) {
        self.meta = meta
        self.spec = spec
        self.source = source
    }

    public var kind: ResourceKind { type(of: spec).kind }

    public var key: ResourceKey { ResourceKey(kind: kind, namespace: meta.namespace, name: meta.name) }

    /// The typed resource, when the spec is of type `S`.
    public func typed<S: ResourceSpec>(as type: S.Type = S.self) -> Resource<S>? {
        guard let spec = spec as? S else { return nil }
        return Resource(meta: meta, spec: spec, source: source)
    }

    /// Validates the spec and the metadata.
    public func validate(mesh: MeshConfig = MeshConfig()) -> ValidationResult {
        var result = ValidationContext.validateMetadata(meta, kind: kind)
        result.merge(spec.validate(in: ValidationContext(meta: meta, mesh: mesh)))
        return result
    }

    public static func == (lhs: AnyResource, rhs: AnyResource) -> Bool {
        lhs.meta == rhs.meta && lhs.source == rhs.source && lhs.spec.isEqual(to: rhs.spec)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(meta)
        hasher.combine(kind)
        hasher.combine(spec)
    }
}

extension ResourceSpec {
    func isEqual(to other: any ResourceSpec) -> Bool {
        guard let other = other as? Self else { return false }
        return self == other
    }
}

/// Identifies a resource in a store: kind, namespace and name.
public struct ResourceKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var kind: ResourceKind
    public var namespace: String
    public var name: String

    public init(kind: ResourceKind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// `Kind namespace/name`, the form findings use.
    public var description: String { "\(kind.kind) \(namespace)/\(name)" }

    public static func < (lhs: ResourceKey, rhs: ResourceKey) -> Bool {
        (lhs.kind.kind, lhs.namespace, lhs.name) < (rhs.kind.kind, rhs.namespace, rhs.name)
    }
}

extension ResourceKey: Codable {
    enum CodingKeys: String, CodingKey { case group, kind, namespace, name }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let group = try c.decode(String.self, forKey: .group)
        let kindName = try c.decode(String.self, forKey: .kind)
        guard let kind = ResourceKind.lookup(group: group, kind: kindName) else {
            throw decoder.valueError("unknown kind \(group)/\(kindName)")
        }
        self.init(kind: kind, namespace: try c.decode(String.self, forKey: .namespace), name: try c.decode(String.self, forKey: .name))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.group, forKey: .group)
        try c.encode(kind.kind, forKey: .kind)
        try c.encode(namespace, forKey: .namespace)
        try c.encode(name, forKey: .name)
    }
}
