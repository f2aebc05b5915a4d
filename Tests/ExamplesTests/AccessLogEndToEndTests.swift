import Foundation
import MeshTestSupport
import Testing

/// MeshConfig `accessLogFile` end to end: istiod puts Istio's file access log (default TEXT
/// format) on the sidecar's connection managers, and the same requests produce the same lines on
/// real Envoy and on the Swift proxy: method, path, protocol, status, response flags (`-`, `NR`,
/// `UH`, `UF` with `URX`, `DC`), details (`max_duration_timeout` for a route timeout), bytes, upstream host and cluster, route name; and a TCP proxy connection
/// logs `"- - -" 0 -` with its byte counts when it closes.
@Suite(.serialized, .timeLimit(.minutes(4))) struct AccessLogEndToEndTests {
    static let domain = "bookinfo.svc.cluster.local"

    /// One line of Istio's default format, split into its fields.
    struct Line: CustomStringConvertible {
        var raw: String
        var fields: [String]

        /// Splits `[time] "GET /p HTTP/1.1" 200 - ...`: brackets and double quotes group words.
        init?(_ raw: String) {
            guard raw.hasPrefix("[") else { return nil }
            self.raw = raw
            var fields: [String] = []
            var current = ""
            var quoted = false
            var bracketed = false
            for char in raw {
                if char == "\"" && !bracketed { quoted.toggle(); continue }
                if char == "[" && !quoted && current.isEmpty { bracketed = true; continue }
                if char == "]" && bracketed { bracketed = false; continue }
                if char == " " && !quoted && !bracketed {
                    fields.append(current)
                    current = ""
                    continue
                }
                current.append(char)
            }
            fields.append(current)
            guard fields.count == 22 else { return nil }
            self.fields = fields
        }

        var request: [Substring] { fields[1].split(separator: " ") }
        var method: String { String(request.first ?? "") }
        var path: String { request.count > 1 ? String(request[1]) : "" }
        var proto: String { request.count > 2 ? String(request[2]) : "" }
        var status: Int? { Int(fields[2]) }
        var flags: Set<String> { Set(fields[3].split(separator: ",").map(String.init)) }
        var details: String { fields[4] }
        var bytesReceived: Int? { Int(fields[7]) }
        var bytesSent: Int? { Int(fields[8]) }
        var duration: Int? { Int(fields[9]) }
        var requestID: String { fields[13] }
        var authority: String { fields[14] }
        var upstreamHost: String { fields[15] }
        var upstreamCluster: String { fields[16] }
        var routeName: String { fields[21] }
        var description: String { raw }
    }

    /// The `reviews` ServiceEntry, its one endpoint the echo workload.
    static func reviewsEntry(_ reviews: LoopbackMesh.Workload) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          hosts: [reviews.\(domain)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(reviews.port)}]
          endpoints: [{address: \(reviews.ip)}]
        """
    }

    /// The client's Sidecar: an HTTP_PROXY egress listener on `ip:port`, plus `extraEgress` items.
    static func clientSidecar(ip: String, port: Int, extraEgress: String = "") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: client, namespace: bookinfo}
        spec:
          workloadSelector: {labels: {app: client}}
          egress:
          - port: {number: \(port), protocol: HTTP_PROXY, name: egress-http}
            bind: \(ip)
            captureMode: NONE
            hosts: ["./*"]
        \(extraEgress)
        """
    }

    static func lines(in path: String) -> [Line] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { Line(String($0)) }
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func requestsProduceIstioLines(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("access-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let logPath = scratch.appendingPathComponent("access.log").path
        let meshFile = scratch.appendingPathComponent("mesh.yaml")
        try "accessLogFile: \(logPath)\n".write(to: meshFile, atomically: true, encoding: .utf8)
        guard let mesh = try await LoopbackMesh.start(istiodArguments: ["--mesh-config", meshFile.path], dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        print("data plane: \(dataPlane)")

        let reviews = try await mesh.startEcho("reviews-v1")
        let deadIP = LoopbackAddresses.next()
        let deadPort = try LoopbackNetwork.freePort(on: deadIP)  // nothing listens there: connections are refused
        let clientIP = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        let tcpPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("services.yaml", """
            \(Self.reviewsEntry(reviews))
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: down, namespace: bookinfo}
            spec:
              hosts: [down.\(Self.domain)]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(deadPort)}]
              endpoints: [{address: \(deadIP)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: empty, namespace: bookinfo}
            spec:
              hosts: [empty.\(Self.domain)]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: tcp-echo, namespace: bookinfo}
            spec:
              hosts: [tcp-echo.\(Self.domain)]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: \(tcpPort), name: tcp, protocol: TCP, targetPort: \(reviews.port)}]
              endpoints: [{address: \(reviews.ip)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews.\(Self.domain)]
              http:
              - name: served
                match: [{uri: {prefix: /served}}]
                route: [{destination: {host: reviews.\(Self.domain)}}]
              - name: timed
                match: [{uri: {prefix: /delay/}}]
                timeout: 200ms
                route: [{destination: {host: reviews.\(Self.domain)}}]
              - name: hang
                match: [{uri: {prefix: /hang/}}]
                rewrite: {uri: /delay/}
                route: [{destination: {host: reviews.\(Self.domain)}}]
            ---
            \(Self.clientSidecar(ip: clientIP, port: proxyPort, extraEgress: """
              - port: {number: \(tcpPort), protocol: TCP, name: egress-tcp}
                bind: \(clientIP)
                captureMode: NONE
                hosts: ["./tcp-echo.\(Self.domain)"]
            """))
            """)
        let client = try await mesh.startProxy(namespace: "bookinfo", labels: ["app": "client"], serviceAccount: "client", ip: clientIP)
        guard await mesh.waitUntilReady(client) else {
            Issue.record("the client's proxy never became ready\n\(mesh.diagnostics)")
            return
        }

        func send(_ host: String, _ path: String, id: String, method: String = "GET", body: String = "") async -> LoopbackMesh.Response {
            await mesh.requestThroughProxy(client, port: proxyPort, url: "http://\(host).\(Self.domain):9080\(path)", method: method,
                                           headers: [("x-request-id", id), ("user-agent", "access-log-test")], body: body)
        }
        let warm = await LoopbackMesh.eventually { await send("reviews", "/served/warm", id: "warm-\(UUID())").status == 200 }
        #expect(warm, "no traffic through the client's proxy\n\(mesh.diagnostics)")
        guard warm else { return }

        let run = UUID().uuidString.prefix(8)
        let ok = await send("reviews", "/served/ok", id: "ok-\(run)")
        let posted = await send("reviews", "/served/post", id: "post-\(run)", method: "POST", body: "hello access log")
        let noRoute = await send("reviews", "/elsewhere", id: "nr-\(run)")
        let noHost = await send("empty", "/", id: "uh-\(run)")
        let refused = await send("down", "/", id: "uf-\(run)")
        let timedOut = await send("reviews", "/delay/1000", id: "ut-\(run)")
        // The client gives up after 300 ms of a 1000 ms answer: a downstream disconnect.
        _ = await LoopbackMesh.request(host: clientIP, port: proxyPort, path: "http://reviews.\(Self.domain):9080/hang/1000",
                                       authority: "reviews.\(Self.domain):9080", headers: [("x-request-id", "dc-\(run)")], timeout: .milliseconds(300))
        // A TCP proxy connection carrying one HTTP exchange: logged when it closes.
        let tcp = await LoopbackMesh.request(host: clientIP, port: tcpPort, path: "/tcp", authority: "tcp-echo")
        print("statuses: tcp \(tcp.status), ok \(ok.status), post \(posted.status), no route \(noRoute.status), no host \(noHost.status), refused \(refused.status)")
        #expect(ok.status == 200 && posted.status == 200)
        #expect(noRoute.status == 404)
        #expect(noHost.status == 503 && refused.status == 503 && timedOut.status == 504)
        #expect(tcp.status == 200)

        // Envoy writes its buffer every 10 seconds (its default flush interval), the Swift proxy every second.
        let ids = ["ok", "post", "nr", "uh", "uf", "ut", "dc"].map { "\($0)-\(run)" }
        let tcpCluster = "outbound|\(tcpPort)||tcp-echo.\(Self.domain)"
        var byID: [String: Line] = [:]
        var tcpLine: Line?
        let complete = await LoopbackMesh.eventually(timeout: .seconds(40)) {
            let lines = Self.lines(in: logPath)
            byID = Dictionary(lines.map { ($0.requestID, $0) }, uniquingKeysWith: { a, _ in a })
            tcpLine = lines.first { $0.upstreamCluster == tcpCluster }
            return ids.allSatisfy { byID[$0] != nil } && tcpLine != nil
        }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "<no file>"
        print("access log:\n\(text.split(separator: "\n").filter { $0.contains(run) || $0.contains(tcpCluster) }.joined(separator: "\n"))")
        #expect(complete, "missing lines for \(ids.filter { byID[$0] == nil }) in\n\(text)")

        let reviewsCluster = "outbound|9080||reviews.\(Self.domain)"
        if let line = byID["ok-\(run)"] {
            #expect(line.method == "GET" && line.path == "/served/ok" && line.proto == "HTTP/1.1", "\(line)")
            #expect(line.status == 200 && line.flags == ["-"] && line.details == "via_upstream", "\(line)")
            #expect(line.bytesReceived == 0 && line.bytesSent == ok.body.utf8.count, "\(line)")
            #expect(line.upstreamHost == "\(reviews.ip):\(reviews.port)" && line.upstreamCluster == reviewsCluster, "\(line)")
            #expect(line.authority == "reviews.\(Self.domain):9080" && line.routeName == "served", "\(line)")
            #expect(line.duration != nil, "\(line)")
        }
        if let line = byID["post-\(run)"] {
            #expect(line.method == "POST" && line.status == 200 && line.flags == ["-"], "\(line)")
            #expect(line.bytesReceived == "hello access log".utf8.count && line.bytesSent == posted.body.utf8.count, "\(line)")
        }
        if let line = byID["nr-\(run)"] {
            #expect(line.status == 404 && line.flags == ["NR"] && line.details == "route_not_found", "\(line)")
            #expect(line.upstreamHost == "-" && line.upstreamCluster == "-" && line.bytesSent == 0, "\(line)")
        }
        if let line = byID["uh-\(run)"] {
            #expect(line.status == 503 && line.flags.contains("UH") && line.details == "no_healthy_upstream", "\(line)")
            #expect(line.upstreamCluster == "outbound|9080||empty.\(Self.domain)" && line.upstreamHost == "-", "\(line)")
        }
        if let line = byID["uf-\(run)"] {
            // Istio's default retry policy retries connect failures: exhausted, they add URX.
            #expect(line.status == 503 && line.flags.contains("UF") && line.flags.contains("URX"), "\(line)")
            #expect(line.details.hasPrefix("upstream_reset_before_response_started"), "\(line)")
            #expect(line.upstreamCluster == "outbound|9080||down.\(Self.domain)" && line.upstreamHost == "\(deadIP):\(deadPort)", "\(line)")
        }
        if let line = byID["ut-\(run)"] {
            // Istio's route timeouts are stream-duration limits: Envoy logs them without UT.
            #expect(line.status == 504 && line.flags == ["-"] && line.details == "max_duration_timeout", "\(line)")
        }
        if let line = byID["dc-\(run)"] {
            #expect(line.status == 0 && line.flags == ["DC"] && line.details == "downstream_remote_disconnect", "\(line)")
            #expect(line.path == "/hang/1000" && line.routeName == "hang", "\(line)")
        }
        if let line = tcpLine {
            #expect(line.fields[1] == "- - -" && line.status == 0 && line.flags == ["-"] && line.details == "-", "\(line)")
            #expect((line.bytesReceived ?? 0) > 0 && (line.bytesSent ?? 0) > tcp.body.utf8.count, "\(line)")
            #expect(line.upstreamHost == "\(reviews.ip):\(reviews.port)" && line.routeName == "-", "\(line)")
        }
    }

    /// Telemetry `accessLogging` end to end: a mesh-wide Telemetry names a MeshConfig file
    /// provider with JSON labels and filters on `response.code >= 400`; istiod turns the filter
    /// into Envoy's status code filter, and both data planes log the 404 and not the 200.
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func telemetryAccessLoggingWithAProviderAndAFilter(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let logPath = scratch.appendingPathComponent("errors.log").path
        let meshFile = scratch.appendingPathComponent("mesh.yaml")
        try """
            extensionProviders:
            - name: errors-json
              envoyFileAccessLog:
                path: \(logPath)
                logFormat:
                  labels: {code: "%RESPONSE_CODE%", path: "%REQ(:PATH)%", id: "%REQ(X-REQUEST-ID)%", flags: "%RESPONSE_FLAGS%"}
            """.write(to: meshFile, atomically: true, encoding: .utf8)
        guard let mesh = try await LoopbackMesh.start(istiodArguments: ["--mesh-config", meshFile.path], dataPlane: dataPlane) else { return }
        defer { mesh.stop() }

        let reviews = try await mesh.startEcho("reviews-v1")
        let clientIP = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("services.yaml", """
            \(Self.reviewsEntry(reviews))
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews.\(Self.domain)]
              http:
              - match: [{uri: {prefix: /served}}]
                route: [{destination: {host: reviews.\(Self.domain)}}]
            ---
            \(Self.clientSidecar(ip: clientIP, port: proxyPort))
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging:
              - providers: [{name: errors-json}]
                filter: {expression: "response.code >= 400"}
            """)
        let client = try await mesh.startProxy(namespace: "bookinfo", labels: ["app": "client"], serviceAccount: "client", ip: clientIP)
        guard await mesh.waitUntilReady(client) else {
            Issue.record("the client's proxy never became ready\n\(mesh.diagnostics)")
            return
        }
        func send(_ path: String, id: String) async -> LoopbackMesh.Response {
            await mesh.requestThroughProxy(client, port: proxyPort, url: "http://reviews.\(Self.domain):9080\(path)", headers: [("x-request-id", id)])
        }
        let warm = await LoopbackMesh.eventually { await send("/served/warm", id: "warm-\(UUID())").status == 200 }
        try #require(warm, "no traffic through the client's proxy\n\(mesh.diagnostics)")
        let run = UUID().uuidString.prefix(8)
        #expect(await send("/served/ok", id: "ok-\(run)").status == 200)
        #expect(await send("/nowhere", id: "nr-\(run)").status == 404)

        var entries: [[String: String]] = []
        let logged = await LoopbackMesh.eventually(timeout: .seconds(40)) {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            entries = text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?.mapValues { "\($0)" }
            }
            return entries.contains { $0["id"] == "nr-\(run)" }
        }
        print("telemetry access log (\(dataPlane)): \(entries)")
        #expect(logged, "no JSON line for the 404 in \(logPath): \(entries)\n\(mesh.diagnostics)")
        if let line = entries.first(where: { $0["id"] == "nr-\(run)" }) {
            #expect(line["code"] == "404" && line["path"] == "/nowhere" && line["flags"] == "NR", "\(line)")
        }
        #expect(!entries.contains { $0["id"] == "ok-\(run)" || ($0["id"] ?? "").hasPrefix("warm-") }, "the filter let a 200 through: \(entries)")
    }
}
