import Foundation
import MeshTestSupport
import Testing

/// Istio's standard metrics from two Swift sidecars talking mutual TLS: the client's sidecar
/// reports `reporter="source"`, the server's `reporter="destination"`, each naming both workloads
/// (learnt through Istio's exchange headers), both SPIFFE principals and the service; Prometheus'
/// `promtool` accepts both expositions, a real Prometheus server scrapes them and answers PromQL
/// over them, and a Telemetry resource changes the server's tags.
///
/// Only the Swift proxy runs Istio's stats filter: upstream Envoy does not have it, so istiod
/// sends it only to proxies that list it in their node's extensions.
@Suite(.serialized, .timeLimit(.minutes(5))) struct IstioMetricsEndToEndTests {
    static let namespace = "bookinfo"

    /// `name{labels} value` lines of one metric, as label maps with their values.
    static func samples(_ text: String, metric: String) -> [(labels: [String: String], value: Double)] {
        text.split(separator: "\n").compactMap { line -> (labels: [String: String], value: Double)? in
            guard line.hasPrefix("\(metric){"), let close = line.lastIndex(of: "}") else { return nil }
            let body = line[line.index(line.startIndex, offsetBy: metric.count + 1)..<close]
            var labels: [String: String] = [:]
            var rest = Substring(body)
            while let equals = rest.firstIndex(of: "=") {
                let name = String(rest[..<equals])
                rest = rest[rest.index(equals, offsetBy: 2)...]
                guard let quote = rest.firstIndex(of: "\"") else { break }
                labels[name] = String(rest[..<quote])
                rest = rest[rest.index(after: quote)...].drop { $0 == "," }
            }
            guard let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)) else { return nil }
            return (labels, value)
        }
    }

    /// Runs `promtool check metrics` on an exposition; nil when promtool is not installed
    /// (outside CI only: under `CI=true` a missing promtool is a failure).
    static func promtool(_ text: String) throws -> (status: Int32, output: String)? {
        let candidates = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("promtool is not installed (apt-get install prometheus)") }
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A Prometheus server scraping `targets`' `/stats/prometheus` every second.
    struct Prometheus {
        var process: ChildProcess
        var host: String
        var port: Int
        var directory: URL
    }

    /// Starts Debian's `prometheus`; nil when it is not installed (outside CI only).
    static func startPrometheus(targets: [LoopbackMesh.Proxy]) async throws -> Prometheus? {
        let binary = URL(fileURLWithPath: "/usr/bin/prometheus")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("prometheus is not installed (apt-get install prometheus)") }
            return nil
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let list = targets.map { "\"\($0.ip):\($0.adminPort)\"" }.joined(separator: ", ")
        let config = directory.appendingPathComponent("prometheus.yml")
        try """
            global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
            scrape_configs:
            - job_name: sidecars
              metrics_path: /stats/prometheus
              static_configs: [{targets: [\(list)]}]
            """.write(to: config, atomically: true, encoding: .utf8)
        let host = LoopbackAddresses.next()
        let port = try LoopbackNetwork.freePort(on: host)
        let process = try ChildProcess(binary, [
            "--config.file=\(config.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=\(host):\(port)", "--log.level=warn",
        ])
        guard await LoopbackNetwork.waitUntilAccepting(host: host, port: port, timeout: .seconds(30)) else {
            ChildProcess.terminate([process])
            throw HarnessError("prometheus never listened on \(host):\(port)\n\(process.output.suffix(2000))")
        }
        return Prometheus(process: process, host: host, port: port, directory: directory)
    }

    /// An instant PromQL query's JSON answer.
    static func query(_ prometheus: Prometheus, _ promQL: String) async -> String? {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        guard let encoded = promQL.addingPercentEncoding(withAllowedCharacters: allowed) else { return nil }
        let response = await LoopbackMesh.request(host: prometheus.host, port: prometheus.port, path: "/api/v1/query?query=\(encoded)")
        return response.status == 200 ? response.body : nil
    }

    @Test func swiftSidecarsReportIstioStandardMetrics() async throws {
        guard let started = try await LoopbackMesh.startWithCA(namespace: Self.namespace, dataPlane: .swift) else { return }
        let (mesh, ca) = started
        defer {
            mesh.stop()
            ca.remove()
        }
        let serverIP = LoopbackAddresses.next(), clientIP = LoopbackAddresses.next()
        let echo = try await mesh.startEcho("reviews", ip: serverIP)
        let ingressPort = try LoopbackNetwork.freePort(on: serverIP)
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("services.yaml", MutualTLSEndToEndTests.services(
            serverIP: serverIP, ingressPort: ingressPort, echoPort: echo.port, clientIP: clientIP, proxyPort: proxyPort))
        try mesh.write("peer-authentication.yaml", MutualTLSEndToEndTests.peerAuthentication("STRICT"))
        let tlsMode = ["security.istio.io/tlsMode": "istio"]
        let server = try await mesh.startSecureProxy(
            ca: ca, namespace: Self.namespace, labels: tlsMode.merging(["app": "reviews", "version": "v2"]) { a, _ in a },
            serviceAccount: "reviews", ip: serverIP)
        let client = try await mesh.startSecureProxy(
            ca: ca, namespace: Self.namespace, labels: tlsMode.merging(["app": "client"]) { a, _ in a }, serviceAccount: "client", ip: clientIP)
        let ready = await mesh.waitUntilReady(server, timeout: .seconds(60))
        let clientReady = await mesh.waitUntilReady(client, timeout: .seconds(60))
        try #require(ready && clientReady, "\(mesh.diagnostics)")

        func viaClient(_ path: String = "/hello") async -> LoopbackMesh.Response {
            await mesh.requestThroughProxy(client, port: proxyPort, url: "http://reviews.bookinfo.svc.cluster.local:9080\(path)")
        }
        var response = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let through = await LoopbackMesh.eventually(timeout: .seconds(45)) {
            response = await viaClient()
            return response.status == 200
        }
        try #require(through, "no answer through the client's sidecar: \(response)\n\(mesh.diagnostics)")
        // The exchange headers stay between the sidecars: the application and the client see none.
        #expect(response.echoHeaders["x-envoy-peer-metadata"] == nil, "\(response.echoHeaders)")
        #expect(response.header("x-envoy-peer-metadata") == nil && response.header("x-envoy-peer-metadata-id") == nil)
        for _ in 0..<4 {
            let next = await viaClient()
            #expect(next.status == 200)
        }
        let missing = await viaClient("/status/404")
        #expect(missing.status == 404 || missing.status == 200, "\(missing)")

        let clientText = await mesh.admin(client, "/stats/prometheus") ?? ""
        let serverText = await mesh.admin(server, "/stats/prometheus") ?? ""
        let clientOK = Self.samples(clientText, metric: "istio_requests_total").filter { $0.labels["response_code"] == "200" }
        let serverOK = Self.samples(serverText, metric: "istio_requests_total").filter { $0.labels["response_code"] == "200" }
        try #require(clientOK.count == 1, "client series:\n\(clientText.split(separator: "\n").filter { $0.hasPrefix("istio_") }.joined(separator: "\n"))")
        try #require(serverOK.count == 1, "server series:\n\(serverText.split(separator: "\n").filter { $0.hasPrefix("istio_") }.joined(separator: "\n"))")

        let expectedCommon = [
            "source_workload": "client", "source_workload_namespace": "bookinfo", "source_app": "client",
            "source_canonical_service": "client", "source_principal": "spiffe://cluster.local/ns/bookinfo/sa/client",
            "destination_workload": "reviews", "destination_workload_namespace": "bookinfo", "destination_app": "reviews",
            "destination_version": "v2", "destination_canonical_revision": "v2",
            "destination_principal": "spiffe://cluster.local/ns/bookinfo/sa/reviews",
            "destination_service": "reviews.bookinfo.svc.cluster.local", "destination_service_name": "reviews",
            "destination_service_namespace": "bookinfo", "request_protocol": "http", "response_flags": "-",
            "source_cluster": "Kubernetes", "destination_cluster": "Kubernetes", "grpc_response_status": "",
        ]
        for (key, value) in expectedCommon {
            #expect(clientOK[0].labels[key] == value, "client \(key): \(clientOK[0].labels)")
            #expect(serverOK[0].labels[key] == value, "server \(key): \(serverOK[0].labels)")
        }
        #expect(clientOK[0].labels["reporter"] == "source")
        #expect(serverOK[0].labels["reporter"] == "destination")
        #expect(clientOK[0].labels["connection_security_policy"] == "unknown")
        #expect(serverOK[0].labels["connection_security_policy"] == "mutual_tls")
        #expect(clientOK[0].value == 5 && serverOK[0].value == 5, "client \(clientOK[0].value), server \(serverOK[0].value)")
        let durations = Self.samples(serverText, metric: "istio_request_duration_milliseconds_count").filter { $0.labels["response_code"] == "200" }
        #expect(durations.first?.value == 5, "\(durations)")
        let sizes = Self.samples(clientText, metric: "istio_response_bytes_sum").filter { $0.labels["response_code"] == "200" }
        #expect((sizes.first?.value ?? 0) > 0, "\(sizes)")

        for (name, text) in [("client", clientText), ("server", serverText)] {
            if let check = try Self.promtool(text) {
                // Exit 1 is a parse error; 3 means lint findings, which Envoy's own metric names
                // (counters without `_total`, no HELP) always produce. Istio's metrics must have
                // none but the one their fixed name implies (milliseconds, not seconds).
                #expect(check.status == 0 || check.status == 3, "promtool check metrics on the \(name)'s /stats/prometheus: \(check.output)")
                let istioFindings = check.output.split(separator: "\n").filter { $0.hasPrefix("istio_") && !$0.contains("base unit") }
                #expect(istioFindings.isEmpty, "promtool on the \(name)'s Istio metrics: \(istioFindings)")
            }
        }

        // A real Prometheus server scrapes both sidecars: both targets are up (the whole
        // exposition parsed) and PromQL sees the server's view of the client's requests.
        if let prometheus = try await Self.startPrometheus(targets: [client, server]) {
            var answer = ""
            let scraped = await LoopbackMesh.eventually(timeout: .seconds(30)) {
                answer = await Self.query(prometheus, "count(up == 1)") ?? ""
                guard answer.contains("\"2\"") else { return false }
                answer = await Self.query(prometheus, #"sum(istio_requests_total{reporter="destination",source_workload="client",destination_service_name="reviews",response_code="200",connection_security_policy="mutual_tls"})"#) ?? ""
                return answer.contains("\"5\"")
            }
            #expect(scraped, "Prometheus never saw both sidecars' metrics: \(answer)\n\(prometheus.process.output.suffix(2000))")
            // Stopped and drained (its output pipes closed) before it is released.
            await prometheus.process.stop()
            try? FileManager.default.removeItem(at: prometheus.directory)
        }

        // A Telemetry resource for the server: source_version is dropped, a literal tag added.
        try mesh.write("telemetry.yaml", """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: reviews-metrics, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: reviews}}
              metrics:
              - providers: [{name: prometheus}]
                overrides:
                - match: {metric: REQUEST_COUNT, mode: SERVER}
                  tagOverrides:
                    source_version: {operation: REMOVE}
                    mesh_tier: {value: "'backend'"}
            """)
        var tagged: [(labels: [String: String], value: Double)] = []
        let retagged = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            _ = await viaClient()
            let text = await mesh.admin(server, "/stats/prometheus") ?? ""
            tagged = Self.samples(text, metric: "istio_requests_total").filter { $0.labels["mesh_tier"] == "backend" }
            return !tagged.isEmpty
        }
        #expect(retagged, "the Telemetry override never reached the server's metrics")
        #expect(tagged.allSatisfy { $0.labels["source_version"] == nil && $0.labels["source_workload"] == "client" }, "\(tagged)")
    }
}
