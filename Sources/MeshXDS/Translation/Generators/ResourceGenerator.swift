public import MeshCore
public import SwiftProtobuf

/// What a generator is asked for: the mesh, the proxy and, optionally, which resources by name.
public struct GenerationRequest: Sendable {
    public var snapshot: MeshSnapshot
    public var proxy: ProxyView
    public var options: TranslationOptions
    /// The names the proxy subscribed to (EDS and RDS); nil means every resource.
    public var resourceNames: Set<String>?
    /// Which part of the proxy's resources to generate (see ``ResourceGenerator/splitsSharedPart``).
    public var part: Part

    /// The resources of a type split in two for generators that support it: the part every proxy
    /// with the same ``OutboundSharingKey`` gets alike, and the part that is the proxy's own.
    public enum Part: Sendable, Hashable {
        /// Every resource.
        case all
        /// Only the resources that depend on nothing but the proxy's ``OutboundSharingKey``.
        case shared
        /// Only the proxy's own resources (inbound ones, say).
        case own
    }

    public init(
        snapshot: MeshSnapshot, proxy: ProxyView, options: TranslationOptions, resourceNames: Set<String>? = nil,
        part: Part = .all
    ) {
        self.snapshot = snapshot
        self.proxy = proxy
        self.options = options
        self.resourceNames = resourceNames
        self.part = part
    }

    func wants(_ name: String) -> Bool { resourceNames.map { $0.contains(name) } ?? true }
    /// Whether the resources shared by proxies with equal sharing keys are asked for.
    var includesShared: Bool { part != .own }
    /// Whether the proxy's own resources are asked for.
    var includesOwn: Bool { part != .shared }
}

/// One generated xDS resource and its name.
public struct GeneratedResource: Sendable {
    public var name: String
    /// A `Cluster`, `ClusterLoadAssignment`, `Listener`, `RouteConfiguration` or `Secret`.
    public var message: any SwiftProtobuf.Message

    public init(name: String, message: any SwiftProtobuf.Message) {
        self.name = name
        self.message = message
    }

    /// The resource packed for a `DiscoveryResponse`.
    public var packed: Google_Protobuf_Any { Proto.any(message) }
}

/// Generates the resources of one xDS type for a proxy, as a pure function of the request.
///
/// The ADS server calls ``generate(_:)`` on every push for each subscribed type; it must not do
/// I/O or read clocks or globals, so equal requests give equal resources in the same order.
public protocol ResourceGenerator: Sendable {
    /// The type URL it serves, e.g. ``EnvoyTypeURL/cluster``.
    var typeURL: String { get }
    /// The resources for the request, in a stable order.
    func generate(_ request: GenerationRequest) -> [GeneratedResource]
    /// Whether ``generate(_:)`` honours ``GenerationRequest/part``: for `.shared` it returns only
    /// resources that are a function of the snapshot, the options and the proxy's
    /// ``OutboundSharingKey``, for `.own` the rest, and the two together equal `.all`. Producers
    /// then generate the shared part once per key. False (the default) means every request
    /// is generated whole.
    var splitsSharedPart: Bool { get }
}

extension ResourceGenerator {
    public var splitsSharedPart: Bool { false }
}

/// The generators by type URL, passed explicitly to whoever serves xDS.
///
/// ```swift
/// let registry = GeneratorRegistry.standard
/// let listeners = registry.generate(EnvoyTypeURL.listener, request)
/// ```
public struct GeneratorRegistry: Sendable {
    private var generators: [String: any ResourceGenerator]

    /// A registry holding `generators`; a later one replaces an earlier one for the same type URL.
    public init(_ generators: [any ResourceGenerator]) {
        var byType: [String: any ResourceGenerator] = [:]
        for generator in generators { byType[generator.typeURL] = generator }
        self.generators = byType
    }

    /// CDS, EDS, LDS, RDS and SDS (gateway credentials, see ``SecretGenerator``).
    public static var standard: GeneratorRegistry {
        GeneratorRegistry([ClusterGenerator(), EndpointGenerator(), ListenerGenerator(), RouteGenerator(), SecretGenerator()])
    }

    /// The type URLs served, sorted.
    public var typeURLs: [String] { generators.keys.sorted() }

    /// The generator for `typeURL`, if any.
    public func generator(for typeURL: String) -> (any ResourceGenerator)? { generators[typeURL] }

    /// Adds or replaces the generator for its type URL.
    public mutating func register(_ generator: any ResourceGenerator) { generators[generator.typeURL] = generator }

    /// The resources of `typeURL` for the request, or nil when no generator serves it.
    ///
    /// The EnvoyFilters that select the proxy are applied to clusters, listeners and route
    /// configurations last, after all other translation, as in Istio (see ``EnvoyFilterPatches``).
    public func generate(_ typeURL: String, _ request: GenerationRequest) -> [GeneratedResource]? {
        guard let generated = generators[typeURL]?.generate(request) else { return nil }
        return EnvoyFilterPatches.applyLast(to: generated, typeURL: typeURL, request: request)
    }
}
