/// Kubernetes object metadata, as Istio resources carry it.
public struct ObjectMeta: Sendable, Hashable, Codable {
    /// The resource's name.
    public var name: String
    /// The namespace; `default` when a document leaves it out.
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var generation: Int64?
    public var resourceVersion: String?
    public var uid: String?
    public var creationTimestamp: String?

    public init(
        name: String,
        namespace: String = "default",
        labels: [String: String] = [:],
        annotations: [String: String] = [:]
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }

    enum CodingKeys: String, CodingKey {
        case name, namespace, labels, annotations, generation, resourceVersion, uid, creationTimestamp
        case generateName, finalizers, ownerReferences, managedFields, deletionTimestamp
        case deletionGracePeriodSeconds, selfLink
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace) ?? ""
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        generation = try c.decodeIfPresent(Int64.self, forKey: .generation)
        resourceVersion = try c.decodeIfPresent(String.self, forKey: .resourceVersion)
        uid = try c.decodeIfPresent(String.self, forKey: .uid)
        creationTimestamp = try c.decodeIfPresent(String.self, forKey: .creationTimestamp)
        // Fields the API server manages: accepted and ignored, as kubectl does.
        _ = try c.decodeIfPresent(String.self, forKey: .generateName)
        _ = try c.decodeIfPresent([String].self, forKey: .finalizers)
        _ = try c.decodeIfPresent(JSONValue.self, forKey: .ownerReferences)
        _ = try c.decodeIfPresent(JSONValue.self, forKey: .managedFields)
        _ = try c.decodeIfPresent(String.self, forKey: .deletionTimestamp)
        _ = try c.decodeIfPresent(Int64.self, forKey: .deletionGracePeriodSeconds)
        _ = try c.decodeIfPresent(String.self, forKey: .selfLink)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(namespace, forKey: .namespace)
        if !labels.isEmpty { try c.encode(labels, forKey: .labels) }
        if !annotations.isEmpty { try c.encode(annotations, forKey: .annotations) }
        try c.encodeIfPresent(generation, forKey: .generation)
        try c.encodeIfPresent(resourceVersion, forKey: .resourceVersion)
    }
}
