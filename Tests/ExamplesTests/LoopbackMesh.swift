import Foundation
import MeshTestSupport
import Synchronization
import Testing

/// A whole mesh on loopback for end-to-end tests: a config folder followed by `istiod`,
/// `echo-server` workloads and Envoy proxies started through `sidecar --proxy envoy`, each on its
/// own 127.0.0.N.
///
/// ```swift
/// guard let mesh = try await LoopbackMesh.start() else { return }   // nil: no Envoy (fails under CI)
/// defer { mesh.stop() }
/// let reviews = try await mesh.startEcho("reviews-v1")
/// try mesh.write("services.yaml", "...")
/// let client = try await mesh.startProxy(namespace: "bookinfo", labels: ["app": "client"])
/// let response = await mesh.request(to: client.ip, port: 15080, url: "http://reviews:9080/")
/// ```
///
/// Processes are stopped with SIGTERM (so the agent stops its Envoy) by ``stop()``.
final class LoopbackMesh: Sendable {
    /// A running echo-server.
    struct Workload: Sendable {
        var name: String
        var ip: String
        var port: Int
        var process: ChildProcess
    }

    /// A running Envoy behind the sidecar agent.
    struct Proxy: Sendable {
        var ip: String
        var adminPort: Int
        /// Istio's node id, as istiod's debug endpoints show it.
        var nodeID: String
        var process: ChildProcess
    }

    /// One HTTP/1.1 exchange's outcome; `status` is -1 when the connection failed.
    struct Response: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String
        var error: String?
        /// From connecting to the end of the answer, so time spent waiting for a thread to send
        /// the request on does not count.
        var elapsed: Duration = .zero

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// The echo-server's JSON answer, if the body is one.
        var json: [String: Any]? {
            guard let data = body.data(using: .utf8) else { return nil }
            return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        }

        /// The name of the echo-server that answered.
        var echoName: String? { json?["name"] as? String }

        /// The path the echo-server saw.
        var echoPath: String? { (json?["request"] as? [String: Any])?["path"] as? String }

        /// The request headers the echo-server saw (lower-cased names).
        var echoHeaders: [String: String] {
            guard let request = json?["request"] as? [String: Any] else { return [:] }
            if let headers = request["headers"] as? [String: String] {
                return Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
            }
            return [:]
        }
    }

    /// Which proxy the mesh's sidecars run: Envoy through the agent, or the Swift proxy.
    enum DataPlane: String, CaseIterable, Sendable, CustomStringConvertible {
        case envoy, swift
        var description: String { rawValue }
    }

    let configDir: URL
    let envoy: URL
    let xdsPort: Int
    let debugPort: Int
    /// istiod's own loopback address: never 127.0.0.1, whose ports the kernel also hands out as the
    /// source ports of connections, so a port found free there can be taken before istiod binds it.
    let controlIP: String
    /// The proxy ``startProxy(namespace:labels:serviceAccount:type:ip:arguments:)`` starts.
    let dataPlane: DataPlane
    private let state = Mutex(State())

    private struct State {
        var processes: [ChildProcess] = []
        var istiod: ChildProcess?
    }

    private init(configDir: URL, envoy: URL, controlIP: String, xdsPort: Int, debugPort: Int, dataPlane: DataPlane) {
        self.controlIP = controlIP
        self.dataPlane = dataPlane
        self.configDir = configDir
        self.envoy = envoy
        self.xdsPort = xdsPort
        self.debugPort = debugPort
    }

    /// Creates the config folder, writes `files` into it and starts istiod on it.
    ///
    /// Returns nil when Envoy is not installed (recorded as a failure under `CI=true`).
    static func start(files: [String: String] = [:], istiodArguments: [String] = [], dataPlane: DataPlane = .envoy) async throws -> LoopbackMesh? {
        guard let envoy = EnvoyForTests.binary() else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loopback-mesh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let controlIP = LoopbackAddresses.next()
        let mesh = LoopbackMesh(
            configDir: dir, envoy: envoy, controlIP: controlIP, xdsPort: try LoopbackNetwork.freePort(on: controlIP),
            debugPort: try LoopbackNetwork.freePort(on: controlIP), dataPlane: dataPlane)
        for (name, text) in files { try mesh.write(name, text) }
        try await mesh.startIstiod(extraArguments: istiodArguments)
        return mesh
    }

    /// Starts (or restarts) istiod on the config folder and waits until it accepts xDS.
    func startIstiod(extraArguments: [String] = []) async throws {
        let istiod = try ChildProcess(ExampleBinary.url(named: "istiod"), [
            "--config-dir", configDir.path, "--xds-address", "\(controlIP):\(xdsPort)",
            "--debug-address", "\(controlIP):\(debugPort)", "--poll-interval", "200",
        ] + extraArguments)
        state.withLock {
            $0.istiod = istiod
            $0.processes.append(istiod)
        }
        guard await LoopbackNetwork.waitUntilAccepting(host: controlIP, port: xdsPort, timeout: .seconds(30)) else {
            throw HarnessError("istiod did not start\n\(istiod.output)")
        }
    }

    /// The running istiod.
    var istiod: ChildProcess? { state.withLock { $0.istiod } }

    /// Stops every process (SIGTERM, proxies before istiod), waits for them to exit (SIGKILL after
    /// 10 seconds) and removes the config folder.
    func stop() {
        let processes = state.withLock { state in
            defer { state.processes = [] }
            return state.processes
        }
        ChildProcess.terminate(processes.reversed())
        try? FileManager.default.removeItem(at: configDir)
    }

    /// Writes (or replaces) a file in the config folder.
    func write(_ file: String, _ text: String) throws {
        try text.write(to: configDir.appendingPathComponent(file), atomically: true, encoding: .utf8)
    }

    /// Removes a file from the config folder.
    func remove(_ file: String) throws {
        try FileManager.default.removeItem(at: configDir.appendingPathComponent(file))
    }

    /// Starts an echo-server named `name` on a fresh loopback address (or `ip`) and waits until it accepts.
    func startEcho(_ name: String, ip: String? = nil, port: Int? = nil, arguments: [String] = []) async throws -> Workload {
        let ip = ip ?? LoopbackAddresses.next()
        let port = try port ?? LoopbackNetwork.freePort(on: ip)
        let process = try ChildProcess(ExampleBinary.url(named: "echo-server"), ["--address", "\(ip):\(port)", "--name", name] + arguments)
        state.withLock { $0.processes.append(process) }
        guard await LoopbackNetwork.waitUntilAccepting(host: ip, port: port, timeout: .seconds(20)) else {
            throw HarnessError("echo-server \(name) did not start\n\(process.output)")
        }
        return Workload(name: name, ip: ip, port: port, process: process)
    }

    /// Starts Envoy through `sidecar --proxy envoy` for a workload and waits until its admin port answers.
    ///
    /// - Parameters:
    ///   - type: `sidecar` or `router` (a gateway).
    ///   - arguments: extra agent flags.
    func startProxy(
        namespace: String, labels: [String: String], serviceAccount: String = "default", type: String = "sidecar",
        ip: String? = nil, arguments: [String] = []
    ) async throws -> Proxy {
        let ip = ip ?? LoopbackAddresses.next()
        let adminPort = try LoopbackNetwork.freePort(on: ip)
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        var flags = [
            "--proxy", dataPlane.rawValue, "--ip", ip, "--namespace", namespace, "--service-account", serviceAccount,
            "--xds", "\(controlIP):\(xdsPort)", "--admin-port", String(adminPort), "--envoy-bin", envoy.path,
        ]
        if !labelText.isEmpty { flags += ["--labels", labelText] }
        if type != "sidecar" { flags += ["--type", type] }
        let process = try ChildProcess(ExampleBinary.url(named: "sidecar"), flags + arguments)
        state.withLock { $0.processes.append(process) }
        guard await LoopbackNetwork.waitUntilAccepting(host: ip, port: adminPort, timeout: .seconds(60)) else {
            throw HarnessError("the \(dataPlane) proxy's admin port never answered on \(ip):\(adminPort)\n\(process.output.suffix(4000))")
        }
        return Proxy(ip: ip, adminPort: adminPort, nodeID: "\(type)~\(ip)~", process: process)
    }

    /// Waits (bounded) until the proxy has ACKed config from istiod and reports ready.
    func waitUntilReady(_ proxy: Proxy, timeout: Duration = .seconds(30)) async -> Bool {
        await Self.eventually(timeout: timeout) {
            await Self.request(host: proxy.ip, port: proxy.adminPort, path: "/ready").status == 200
        }
    }

    /// GET (or `method`) `url` through an HTTP proxy listener (the absolute form, as HTTP_PROXY clients send it).
    func requestThroughProxy(
        _ proxy: Proxy, port: Int, url: String, method: String = "GET", headers: [(String, String)] = [], body: String = ""
    ) async -> Response {
        let authority = URL(string: url).map { u in u.port.map { "\(u.host ?? ""):\($0)" } ?? (u.host ?? "") } ?? ""
        return await Self.request(host: proxy.ip, port: port, path: url, authority: authority, method: method, headers: headers, body: body)
    }

    /// One HTTP/1.1 request to `host:port` with `Connection: close`, off the cooperative pool.
    static func request(
        host: String, port: Int, path: String, authority: String? = nil, method: String = "GET",
        headers: [(String, String)] = [], body: String = "", timeout: Duration = .seconds(10)
    ) async -> Response {
        await offPool {
            let start = ContinuousClock.now
            do {
                let connection = try TCPTestConnection(host: host, port: port, timeout: timeout)
                try connection.sendHTTP1Request(
                    method: method, path: path, host: authority ?? "\(host):\(port)",
                    headers: headers + [("connection", "close")], body: Array(body.utf8))
                let response = try connection.readHTTP1Response()
                return Response(status: response.status, headers: response.headers, body: response.text, elapsed: ContinuousClock.now - start)
            } catch {
                return Response(status: -1, headers: [], body: "", error: "\(error)", elapsed: ContinuousClock.now - start)
            }
        }
    }

    /// An istiod debug endpoint's body (`/debug/syncz`, `/debug/config_dump?proxyID=...`).
    func debug(_ path: String) async -> String? {
        let response = await Self.request(host: controlIP, port: debugPort, path: path)
        return response.status == 200 ? response.body : nil
    }

    /// An Envoy admin endpoint's body (`/stats`, `/config_dump`, `/clusters`).
    func admin(_ proxy: Proxy, _ path: String) async -> String? {
        let response = await Self.request(host: proxy.ip, port: proxy.adminPort, path: path)
        return response.status == 200 ? response.body : nil
    }

    /// A counter or gauge from Envoy's `/stats`, e.g. `cluster.outbound|9080||reviews.bookinfo.svc.cluster.local.upstream_rq_pending_overflow`.
    func stat(_ proxy: Proxy, _ name: String) async -> Int? {
        guard let stats = await admin(proxy, "/stats?filter=\(name.replacingOccurrences(of: "|", with: "%7C"))") else { return nil }
        for line in stats.split(separator: "\n") where line.hasPrefix("\(name): ") {
            return Int(line.dropFirst(name.count + 2))
        }
        return nil
    }

    /// Waits (bounded) until `condition` holds; true if it did.
    static func eventually(timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return await condition()
    }

    /// Sends `count` requests made by `send` (bounded) and counts the answers by `key`.
    static func tally(_ count: Int, key: (Response) -> String, _ send: () async -> Response) async -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<count { counts[key(await send()), default: 0] += 1 }
        return counts
    }

    /// The counts of hits a process that hits with `probability` lands in over `trials`, except
    /// about once in a few million runs: five standard deviations either side of the mean. A
    /// statistical check with tighter bounds fails CI by chance (a 50 % fault delayed 17 of 60).
    static func binomialRange(trials: Int, probability: Double) -> ClosedRange<Int> {
        let mean = Double(trials) * probability
        let spread = 5 * (mean * (1 - probability)).squareRoot()
        return max(0, Int((mean - spread).rounded(.down)))...min(trials, Int((mean + spread).rounded(.up)))
    }

    /// Output of every process, for failure messages.
    var diagnostics: String {
        state.withLock { $0.processes }.map { String($0.output.suffix(3000)) }.joined(separator: "\n----\n")
    }
}

/// A harness failure with its message (a process that did not start, say).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Hands out distinct 127.0.0.N addresses within this test process, so workloads of tests that run
/// in parallel never share an address.
enum LoopbackAddresses {
    /// Addresses handed out, oldest first.
    private static let used = Mutex<[String]>([])

    /// A random loopback address (127.0.0.N, never 127.0.0.1) not handed out before in this
    /// process. Once nearly all of them have been (LoopbackNetwork offers 249), the one handed
    /// out longest ago is given again: its test is the likeliest to have finished. Stops the
    /// process with an explanation where no address but 127.0.0.1 binds (stock macOS).
    static func next() -> String {
        used.withLock { used in
            for attempt in 0..<2_000 {
                let address = LoopbackNetwork.randomAddress()
                guard address != "127.0.0.1" else { continue }
                if !used.contains(address) {
                    used.append(address)
                    return address
                }
                if attempt >= 500, !used.isEmpty {
                    let oldest = used.removeFirst()
                    used.append(oldest)
                    return oldest
                }
            }
            preconditionFailure("no loopback address besides 127.0.0.1 accepts a bind; the end-to-end tests need 127.0.0.2-250 (on macOS: sudo ifconfig lo0 alias 127.0.0.N up)")
        }
    }
}
