// Per-proxy translation of a large synthetic mesh: CDS, EDS, LDS and RDS generation times,
// resources per second and serialized bytes, without and with mesh-wide EnvoyFilters.
//
//   swift build -c release --product TranslationBenchmark
//   .build/release/TranslationBenchmark [--services 1000] [--proxies 3]
//
// Each proxy is a captured (REDIRECT) sidecar of one synthetic service, in its own namespace when
// there are enough; with no Sidecar scoping every proxy sees every service. Baselines printed in
// the same run: building the MeshSnapshot, and binary serialization of the generated resources.
import Foundation
import MeshCore
import MeshTestSupport
import MeshXDS
import SwiftProtobuf

func argument(_ name: String, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let n = Int(args[i + 1]), n > 0 else { return value }
    return n
}

let services = argument("--services", default: 1000)
let proxies = argument("--proxies", default: 3)
let mesh = SyntheticMesh(services: services)
let clock = ContinuousClock()

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func measure<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
    let start = clock.now
    let value = try body()
    return (value, clock.now - start)
}

/// Three mesh-wide patches touching every HTTP listener, every outbound cluster and every virtual host.
let envoyFilters = """
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: mesh-tuning, namespace: istio-system}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.fault
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
          abort: {http_status: 503, percentage: {numerator: 1, denominator: MILLION}}
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch: {operation: MERGE, value: {connect_timeout: 3s}}
  - applyTo: VIRTUAL_HOST
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: MERGE
      value:
        response_headers_to_add:
        - header: {key: x-mesh, value: swiftmesh}

"""

let (output, decodeTime) = measure { ConfigDecoder().decode(mesh.yaml() + envoyFilters, file: "mesh.yaml") }
precondition(!output.hasErrors, "synthetic mesh must be valid: \(output.errors.prefix(3))")
let plain = output.resources.filter { $0.kind != .envoyFilter }
let (snapshot, indexTime) = measure { MeshSnapshot(resources: plain) }
let patchedSnapshot = MeshSnapshot(resources: output.resources)

let registry = GeneratorRegistry.standard
let options = TranslationOptions()
let types: [(String, String)] = [
    ("CDS", EnvoyTypeURL.cluster), ("EDS", EnvoyTypeURL.clusterLoadAssignment),
    ("LDS", EnvoyTypeURL.listener), ("RDS", EnvoyTypeURL.routeConfiguration),
]

func proxy(_ k: Int) throws -> ProxyView {
    let i = (k * max(1, services / max(1, proxies))) % services
    let ns = mesh.namespace(of: i)
    let name = "svc-\(i)"
    let octet2 = (i / 250) % 250, octet3 = i % 250 + 1
    return ProxyView(
        identity: try ProxyIdentity(nodeID: "sidecar~127.\(octet2).\(octet3).1~\(name)-v1.\(ns)~\(ns).svc.cluster.local"),
        labels: ["app": name, "version": "v1"], serviceAccount: name, interceptionMode: .redirect, istioVersion: "1.24.2")
}

struct Totals {
    var resources = 0
    var bytes = 0
    var generate = Duration.zero
    var serialize = Duration.zero
}

func run(_ snapshot: MeshSnapshot) throws -> [String: Totals] {
    var totals: [String: Totals] = [:]
    for k in 0..<proxies {
        let request = GenerationRequest(snapshot: snapshot, proxy: try proxy(k), options: options)
        for (label, typeURL) in types {
            let (generated, time) = measure { registry.generate(typeURL, request) ?? [] }
            let (bytes, encodeTime) = try measure { try generated.reduce(0) { $0 + (try $1.message.serializedBytes() as [UInt8]).count } }
            totals[label, default: Totals()].resources += generated.count
            totals[label, default: Totals()].bytes += bytes
            totals[label, default: Totals()].generate += time
            totals[label, default: Totals()].serialize += encodeTime
        }
    }
    return totals
}

// Warm up on a small mesh.
_ = try {
    let small = SyntheticMesh(services: 20)
    let warm = MeshSnapshot(resources: ConfigDecoder().decode(small.yaml(), file: "warm.yaml").resources)
    let request = GenerationRequest(snapshot: warm, proxy: try ProxyView(identity: ProxyIdentity(nodeID: "sidecar~127.0.1.1~svc-1-v1.ns-0~ns-0.svc.cluster.local")), options: options)
    for (_, typeURL) in types { _ = registry.generate(typeURL, request) }
}()

print("Translation: \(services) services, \(plain.count) resources, \(proxies) sidecar proxies (REDIRECT, no Sidecar scoping)")
print(String(format: "decode + validate %.1f ms; MeshSnapshot %.1f ms (baseline, once per push)", seconds(decodeTime) * 1000, seconds(indexTime) * 1000))

func report(_ title: String, _ totals: [String: Totals]) -> Duration {
    print("\n\(title)")
    print("type  resources/proxy  KiB/proxy  ms/proxy  resources/s  MiB/s   (serialize ms/proxy)")
    var all = Duration.zero
    var allResources = 0
    for (label, _) in types {
        let t = totals[label]!
        let perProxy = seconds(t.generate) * 1000 / Double(proxies)
        print(String(format: "%@  %15d  %9.1f  %8.1f  %11.0f  %5.1f   (%.1f)", label, t.resources / proxies, Double(t.bytes) / 1024 / Double(proxies),
                     perProxy, Double(t.resources) / seconds(t.generate), Double(t.bytes) / 1_048_576 / seconds(t.generate),
                     seconds(t.serialize) * 1000 / Double(proxies)))
        all += t.generate
        allResources += t.resources
    }
    print(String(format: "all   %15d  %9.1f  %8.1f  %11.0f", allResources / proxies,
                 Double(totals.values.reduce(0) { $0 + $1.bytes }) / 1024 / Double(proxies), seconds(all) * 1000 / Double(proxies), Double(allResources) / seconds(all)))
    return all
}

let base = report("Without EnvoyFilters", try run(snapshot))
let patched = report("With a mesh-wide EnvoyFilter (HTTP_FILTER INSERT_BEFORE, CLUSTER MERGE, VIRTUAL_HOST MERGE)", try run(patchedSnapshot))
print(String(format: "\nEnvoyFilter overhead: %.2fx the plain translation time", seconds(patched) / seconds(base)))
