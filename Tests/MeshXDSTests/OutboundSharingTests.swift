import Foundation
import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// The producer generates a sidecar's shared resources once per ``OutboundSharingKey``; these
/// tests hold every golden case to the contract that makes that sound.
@Suite struct OutboundSharingTests {
    static let splitting = GeneratorRegistry.standard.typeURLs.filter {
        GeneratorRegistry.standard.generator(for: $0)?.splitsSharedPart == true
    }

    /// `name → serialized bytes`, so resources compare regardless of order.
    static func bytes(_ resources: [GeneratedResource]) throws -> [String: Data] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var out: [String: Data] = [:]
        for resource in resources {
            #expect(out[resource.name] == nil, "\(resource.name) generated twice")
            out[resource.name] = try resource.message.serializedBytes(options: options)
        }
        return out
    }

    static func generate(_ typeURL: String, _ request: GenerationRequest, part: GenerationRequest.Part) throws -> [String: Data] {
        var request = request
        request.part = part
        return try bytes(GeneratorRegistry.standard.generate(typeURL, request) ?? [])
    }

    @Test(arguments: TranslationCase.all.map(TranslationCase.init(name:)))
    func sharedAndOwnPartsMakeTheWhole(_ testCase: TranslationCase) throws {
        let request = try testCase.request()
        // With EnvoyFilters (patches per workload) the producer generates every type whole.
        guard OutboundSharing(snapshot: request.snapshot).enabled else { return }
        for typeURL in Self.splitting {
            let whole = try Self.generate(typeURL, request, part: .all)
            let shared = try Self.generate(typeURL, request, part: .shared)
            let own = try Self.generate(typeURL, request, part: .own)
            #expect(Set(shared.keys).isDisjoint(with: own.keys), "\(typeURL): a resource is in both parts")
            #expect(shared.merging(own) { a, _ in a } == whole, "\(typeURL): shared + own differs from the whole")
        }
    }

    /// Another instance of the same workload (other address, name and service account, and other
    /// labels when no config selects by labels) gets the same key and byte-identical shared resources.
    @Test(arguments: TranslationCase.all.map(TranslationCase.init(name:)))
    func anotherInstanceWithTheSameKeyGetsTheSameSharedPart(_ testCase: TranslationCase) throws {
        let request = try testCase.request()
        let sharing = OutboundSharing(snapshot: request.snapshot)
        guard let key = sharing.key(for: request.proxy) else { return }
        let proxy = request.proxy
        var identity = proxy.identity
        identity.ipAddress = proxy.ipAddress == "127.0.9.9" ? "127.0.9.8" : "127.0.9.9"
        identity.workloadName = "sibling-\(proxy.identity.workloadName)"
        var labels = proxy.labels
        if !sharing.labelSensitive { labels["pod-template-hash"] = "sibling" }
        let sibling = ProxyView(
            identity: identity, ipAddresses: [identity.ipAddress], labels: labels, serviceAccount: "sibling-sa",
            workloadName: identity.workloadName, interceptionMode: proxy.interceptionMode, clusterID: proxy.clusterID,
            istioVersion: proxy.istioVersion, locality: proxy.locality)
        #expect(sharing.key(for: sibling) == key)
        var siblingRequest = request
        siblingRequest.proxy = sibling
        for typeURL in Self.splitting {
            #expect(try Self.generate(typeURL, request, part: .shared) == Self.generate(typeURL, siblingRequest, part: .shared),
                    "\(typeURL): the shared part depends on something outside the sharing key")
        }
    }

    @Test func labelSelectedConfigPutsLabelsInTheKey() throws {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: r, namespace: shop}
            spec:
              host: ratings.shop.svc.cluster.local
              workloadSelector: {matchLabels: {app: cart}}
              trafficPolicy: {loadBalancer: {simple: RANDOM}}
            """
        let output = ConfigDecoder().decode(yaml, file: "dr.yaml")
        try #require(!output.hasErrors, "\(output.errors)")
        let sharing = OutboundSharing(snapshot: MeshSnapshot(resources: output.resources))
        #expect(sharing.labelSensitive)
        let identity = ProxyIdentity(type: .sidecar, ipAddress: "127.0.0.5", workloadName: "cart-1", namespace: "shop", dnsDomain: "shop.svc.cluster.local")
        let cart = ProxyView(identity: identity, labels: ["app": "cart"])
        let web = ProxyView(identity: identity, labels: ["app": "web"])
        #expect(sharing.key(for: cart) != sharing.key(for: web))

        let plain = OutboundSharing(snapshot: MeshSnapshot(resources: []))
        #expect(!plain.labelSensitive)
        #expect(plain.key(for: cart) == plain.key(for: web))
        var router = identity
        router.type = .router
        #expect(plain.key(for: ProxyView(identity: router)) == nil, "gateways are generated whole")
    }
}
