import Logging
@testable import MeshProxy
import MeshXDS
import NIOHTTP1
import SwiftProtobuf
import Testing

/// `x-forwarded-client-cert` as Envoy's connection manager writes it for each
/// `forward_client_cert_details` mode, on mutual TLS and plaintext connections.
@Suite struct ForwardedClientCertTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static func runtime(_ mode: HCM.ForwardClientCertDetails, details: Bool = true) throws -> HTTPConnectionManagerRuntime {
        var hcm = HCM()
        hcm.statPrefix = "inbound_0.0.0.0_9080"
        hcm.rds.routeConfigName = "inbound|9080||"
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
        hcm.httpFilters = [router]
        hcm.forwardClientCertDetails = mode
        if details { hcm.setCurrentClientCertDetails = .with { $0.subject = .init(true); $0.uri = true; $0.dns = true } }
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: .standard)
        return try HTTPConnectionManagerRuntime(configuration: configuration, state: ProxyStateStore(), stats: StatsStore(), bufferLimit: 1 << 20, logger: Logger(label: "test"))
    }

    static let mutual = DownstreamConnectionInfo(remoteAddress: nil, localAddress: nil, isTLS: true, tls: {
        var info = DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/bookinfo/sa/client"],
                                     peerDNSSANs: ["client.bookinfo"], peerSubject: "", localURISANs: ["spiffe://cluster.local/ns/bookinfo/sa/reviews"])
        info.peerCertificateSHA256 = String(repeating: "ab", count: 32)
        return info
    }())
    static let plaintext = DownstreamConnectionInfo(remoteAddress: nil, localAddress: nil, isTLS: false)
    static let element = "By=spiffe://cluster.local/ns/bookinfo/sa/reviews;Hash=\(String(repeating: "ab", count: 32));Subject=\"\";URI=spiffe://cluster.local/ns/bookinfo/sa/client;DNS=client.bookinfo"

    static func xfcc(_ mode: HCM.ForwardClientCertDetails, _ connection: DownstreamConnectionInfo, incoming: String?, details: Bool = true) throws -> String? {
        var headers = HTTPHeaders()
        if let incoming { headers.add(name: "x-forwarded-client-cert", value: incoming) }
        try runtime(mode, details: details).applyForwardedClientCert(&headers, connection: connection)
        return headers.first(name: "x-forwarded-client-cert")
    }

    @Test func modesOnMutualTLS() throws {
        #expect(try Self.xfcc(.appendForward, Self.mutual, incoming: nil) == Self.element)
        #expect(try Self.xfcc(.appendForward, Self.mutual, incoming: "By=a") == "By=a," + Self.element)
        #expect(try Self.xfcc(.sanitizeSet, Self.mutual, incoming: "By=forged") == Self.element)
        #expect(try Self.xfcc(.forwardOnly, Self.mutual, incoming: "By=a") == "By=a")
        #expect(try Self.xfcc(.sanitize, Self.mutual, incoming: "By=a") == nil)
        #expect(try Self.xfcc(.appendForward, Self.mutual, incoming: nil, details: false)
                == "By=spiffe://cluster.local/ns/bookinfo/sa/reviews;Hash=\(String(repeating: "ab", count: 32))")
    }

    @Test func plaintextConnectionsCarryNoClientCertificate() throws {
        #expect(try Self.xfcc(.appendForward, Self.plaintext, incoming: "By=forged") == nil)
        #expect(try Self.xfcc(.sanitizeSet, Self.plaintext, incoming: "By=forged") == nil)
        #expect(try Self.xfcc(.forwardOnly, Self.plaintext, incoming: "By=forged") == nil)
        #expect(try Self.xfcc(.alwaysForwardOnly, Self.plaintext, incoming: "By=kept") == "By=kept")
    }
}
