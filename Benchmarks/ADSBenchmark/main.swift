// ADS convergence against the real istiod binary: N simulated proxies (SimulatedProxy, SotW or delta)
// fetch and ACK their configuration, then one VirtualService and one WorkloadEntry are edited on
// disk and the time until every affected proxy has received and ACKed the new version is measured.
//
//   swift build -c release --product ADSBenchmark --product istiod
//   .build/release/ADSBenchmark [--services 1000] [--proxies 2000] [--mode sotw|delta|both]
//                               [--istiod .build/release/istiod] [--connections 50]
//                               [--poll-interval 100] [--timeout 600] [--change-timeout 180]
//
// Per mode a fresh istiod runs on loopback over a temporary folder with one YAML file per service
// (MeshTestSupport.SyntheticMesh). Baseline in the same run and istiod: the same kinds of edit with
// one proxy connected, and the floor set by istiod's 100 ms debounce plus the folder poll interval.
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MeshTestSupport
import MeshXDS
import SwiftProtobuf
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Arguments

struct Options {
    var services = 1000
    var proxies = 2000
    var modes: [XDSProtocolMode] = [.stateOfTheWorld, .delta]
    var istiod = ".build/release/istiod"
    var connections = 50
    var pollInterval = 100
    var timeout = 600.0
    var changeTimeout = 180.0

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        func value(_ flag: String) -> String {
            guard let v = it.next() else { fail("\(flag) needs a value") }
            return v
        }
        while let arg = it.next() {
            switch arg {
            case "--services": services = Int(value(arg)) ?? services
            case "--proxies": proxies = Int(value(arg)) ?? proxies
            case "--istiod": istiod = value(arg)
            case "--connections": connections = max(1, Int(value(arg)) ?? connections)
            case "--poll-interval": pollInterval = Int(value(arg)) ?? pollInterval
            case "--timeout": timeout = Double(value(arg)) ?? timeout
            case "--change-timeout": changeTimeout = Double(value(arg)) ?? changeTimeout
            case "--mode":
                switch value(arg) {
                case "sotw": modes = [.stateOfTheWorld]
                case "delta": modes = [.delta]
                case "both": modes = [.stateOfTheWorld, .delta]
                case let other: fail("--mode must be sotw, delta or both, got \(other)")
                }
            default: fail("unknown argument \(arg)")
            }
        }
        if services < 3 || proxies < 1 || proxies > 60_000 { fail("need --services >= 3 and 1 <= --proxies <= 60000") }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ADSBenchmark: \(message)\n".utf8))
    exit(1)
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let clock = ContinuousClock()

/// Prints and flushes, so figures appear as they are measured also when output is redirected.
func print(_ line: String) {
    Swift.print(line)
    fflush(nil)
}

func ms(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

// MARK: - Process helpers (Linux /proc, loopback sockets)

/// VmHWM (peak RSS) and VmRSS of a process, in KiB.
func memory(pid: Int32) -> (peak: Int, current: Int) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return (field("VmHWM"), field("VmRSS"))
}

/// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
func cpuSeconds(pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state(0) ... utime(11) stime(12), in clock ticks.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func mib(_ kib: Int) -> String { String(format: "%.0f MiB", Double(kib) / 1024) }

/// A free loopback TCP port (bound to port 0 and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchmarkError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw BenchmarkError("bind() failed") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } } == 0
}

func httpGet(_ url: String) async throws -> Data {
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = 60
    let (data, _) = try await URLSession.shared.data(for: request)
    return data
}

/// ``httpGet(_:)`` with its error as a value.
func httpGetResult(_ url: String) async -> Result<Data, any Error> {
    do {
        return .success(try await httpGet(url))
    } catch {
        return .failure(error)
    }
}

// MARK: - istiod child process

final class Istiod {
    let process = Process()
    let xdsPort: Int
    let debugPort: Int
    let log: URL

    init(binary: String, configDir: URL, pollInterval: Int, log: URL) throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchmarkError("istiod binary not found at \(binary) (swift build -c release --product istiod)")
        }
        xdsPort = try freePort()
        debugPort = try freePort()
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config-dir", configDir.path,
            "--xds-address", "127.0.0.1:\(xdsPort)",
            "--debug-address", "127.0.0.1:\(debugPort)",
            "--poll-interval", "\(pollInterval)",
            "--log-level", "warning",
        ]
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func waitUntilServing(timeout: Duration) async throws {
        let deadline = clock.now + timeout
        while clock.now < deadline {
            guard process.isRunning else { throw BenchmarkError("istiod exited with status \(process.terminationStatus); see \(log.path)") }
            if isListening(xdsPort) && isListening(debugPort) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchmarkError("istiod did not open 127.0.0.1:\(xdsPort) within \(timeout)")
    }

    /// SIGTERM, then SIGKILL after 5 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

// MARK: - What the simulated proxies received

typealias Instant = ContinuousClock.Instant

let trackedTypes = [EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration]
func shortName(_ typeURL: String) -> String {
    switch typeURL {
    case EnvoyTypeURL.cluster: "CDS"
    case EnvoyTypeURL.clusterLoadAssignment: "EDS"
    case EnvoyTypeURL.listener: "LDS"
    case EnvoyTypeURL.routeConfiguration: "RDS"
    default: typeURL
    }
}

/// Per proxy and type: accepted (and so ACKed) updates, their count and time, and the EDS/RDS
/// names the proxy asked for. Written from the proxies' tasks, read by the phases. Resources are
/// held as interned ``HeldSet``s, so a record costs a few pointers, not the configuration.
final class Recorder: Sendable {
    struct TypeRecord {
        var version: String?
        var count = 0
        var last: Instant?
        var held: HeldSet?
        /// The CDS or LDS resources whose dependents this type must hold.
        var wantedBy: HeldSet?
    }

    struct ProxyRecord {
        var types: [String: TypeRecord] = [:]
        var lastUpdate: Instant?
    }

    let catalog: ResourceCatalog
    let state: Mutex<[ProxyRecord]>
    let failures = Mutex<(count: Int, last: String?)>((0, nil))

    init(count: Int, catalog: ResourceCatalog) {
        self.catalog = catalog
        state = Mutex(Array(repeating: ProxyRecord(), count: count))
    }

    func accepted(_ proxy: Int, _ typeURL: String, version: String, held: HeldSet, at instant: Instant) {
        state.withLock {
            var record = $0[proxy].types[typeURL] ?? TypeRecord()
            record.version = version
            record.count += 1
            record.last = instant
            record.held = held
            $0[proxy].types[typeURL] = record
            $0[proxy].lastUpdate = instant
        }
    }

    func wanted(_ proxy: Int, _ typeURL: String, by source: HeldSet) {
        state.withLock { $0[proxy].types[typeURL, default: TypeRecord()].wantedBy = source }
    }

    func streamFailed(_ proxy: Int, _ error: any Error) {
        failures.withLock { $0 = ($0.count + 1, "proxy \(proxy): \(error)") }
    }

    /// Initial configuration complete: CDS and LDS accepted, and every EDS/RDS name they led to held.
    func isComplete(_ record: ProxyRecord) -> Bool {
        guard record.types[EnvoyTypeURL.cluster]?.version != nil, record.types[EnvoyTypeURL.listener]?.version != nil else { return false }
        for typeURL in [EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.routeConfiguration] {
            guard let type = record.types[typeURL], type.version != nil, let held = type.held, let wanted = type.wantedBy,
                  catalog.satisfies(held, wanted) else { return false }
        }
        return true
    }

    var snapshot: [ProxyRecord] { state.withLock { $0 } }
}

// MARK: - Simulated proxies

struct ProxySpec {
    var index: Int
    var nodeID: String
    var node: Envoy_Config_Core_V3_Node

    init(index: Int, name: String, mesh: SyntheticMesh) {
        let service = index % mesh.services
        let namespace = mesh.namespace(of: service)
        // 127.0.x.y with y >= 3: never one of the WorkloadEntries' 127.a.b.1 / .2 addresses.
        let ip = "127.0.\(index / 250).\(index % 250 + 3)"
        self.index = index
        nodeID = "sidecar~\(ip)~\(name).\(namespace)~\(namespace).svc.cluster.local"
        var node = Envoy_Config_Core_V3_Node()
        node.id = nodeID
        node.cluster = "svc-\(service).\(namespace)"
        var labels = Google_Protobuf_Struct()
        labels.fields["app"] = Google_Protobuf_Value(stringValue: "svc-\(service)")
        labels.fields["version"] = Google_Protobuf_Value(stringValue: index % 2 == 0 ? "v1" : "v2")
        node.metadata.fields["NAMESPACE"] = Google_Protobuf_Value(stringValue: namespace)
        node.metadata.fields["LABELS"] = Google_Protobuf_Value(structValue: labels)
        // One proxy in ten without traffic capture (proxyless-style listeners).
        node.metadata.fields["INTERCEPTION_MODE"] = Google_Protobuf_Value(stringValue: index % 10 == 9 ? "NONE" : "REDIRECT")
        node.metadata.fields["SERVICE_ACCOUNT"] = Google_Protobuf_Value(stringValue: "svc-\(service)")
        self.node = node
    }
}

/// A fleet of proxies sharing `connections` HTTP/2 connections (streams multiplexed).
final class Fleet {
    let clients: [GRPCClient<HTTP2ClientTransport.Posix>]
    let recorder: Recorder
    let specs: [ProxySpec]
    var tasks: [Task<Void, Never>] = []
    var connectionTasks: [Task<Void, Never>] = []

    init(port: Int, connections: Int, specs: [ProxySpec], catalog: ResourceCatalog) throws {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.http2.targetWindowSize = 8 * 1024 * 1024
        clients = try (0..<connections).map { _ in
            GRPCClient(transport: try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext, config: config))
        }
        recorder = Recorder(count: specs.count, catalog: catalog)
        self.specs = specs
    }

    func start(mode: XDSProtocolMode) {
        for client in clients { connectionTasks.append(Task { try? await client.runConnections() }) }
        for (slot, spec) in specs.enumerated() {
            let proxy = SimulatedProxy(
                stub: .init(wrapping: clients[slot % clients.count]), node: spec.node, mode: mode,
                slot: slot, recorder: recorder, catalog: recorder.catalog)
            tasks.append(Task { await proxy.run() })
        }
    }

    func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for client in clients { client.beginGracefulShutdown() }
        for task in connectionTasks { task.cancel() }
        for task in connectionTasks { await task.value }
    }

    /// Waits until `done` holds for the records, polling every 20 ms.
    func wait(timeout: Double, _ what: String, _ done: ([Recorder.ProxyRecord]) -> Bool) async throws {
        let deadline = clock.now + .seconds(timeout)
        while !done(recorder.snapshot) {
            guard clock.now < deadline else {
                let failures = recorder.failures.withLock { $0 }
                throw BenchmarkError("timed out after \(Int(timeout)) s waiting for \(what); \(failures.count) stream failures, last: \(failures.last ?? "none")")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until no proxy has accepted anything for `quiet`.
    func settle(quiet: Duration = .seconds(1), timeout: Double) async throws {
        let deadline = clock.now + .seconds(timeout)
        while true {
            let last = recorder.snapshot.compactMap(\.lastUpdate).max()
            if last == nil || clock.now - last! >= quiet { return }
            guard clock.now < deadline else { throw BenchmarkError("updates still arriving after \(Int(timeout)) s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

// MARK: - Phases

struct Convergence {
    var expected: Int
    var converged: Int
    var total: Duration
    var p50: Duration
    var p99: Duration
    /// Proxies that received an update of each type during the phase.
    var updatedByType: [String: Int]

    var summary: String {
        let pushes = trackedTypes.map { "\(shortName($0)) \(updatedByType[$0] ?? 0)" }.joined(separator: ", ")
        return String(format: "%8.1f ms  (p50 %.1f, p99 %.1f)  %d/%d proxies converged; proxies updated per type: %@",
                      ms(total), ms(p50), ms(p99), converged, expected, pushes)
    }
}

func percentile(_ sorted: [Duration], _ p: Double) -> Duration {
    guard !sorted.isEmpty else { return .zero }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// Time from `start` until every proxy holds complete initial configuration.
func initialFetch(_ fleet: Fleet, start: Instant, timeout: Double) async throws -> Convergence {
    let recorder = fleet.recorder
    try await fleet.wait(timeout: timeout, "initial configuration of \(fleet.specs.count) proxies") { records in records.allSatisfy(recorder.isComplete) }
    let times = fleet.recorder.snapshot.map { $0.lastUpdate! - start }.sorted()
    var perType: [String: Int] = [:]
    for record in fleet.recorder.snapshot { for (typeURL, r) in record.types where r.count > 0 { perType[typeURL, default: 0] += 1 } }
    return Convergence(expected: times.count, converged: times.count, total: times.last!, p50: percentile(times, 0.5), p99: percentile(times, 0.99), updatedByType: perType)
}

/// Applies `edit` to a file and measures until every proxy whose `typeURL` resources mention
/// `marker` has accepted a new version of that type.
func change(
    _ fleet: Fleet, typeURL: String, marker: String, file: URL, timeout: Double, edit: (String) -> String
) async throws -> Convergence {
    try await fleet.settle(timeout: timeout)
    var expected: [Int: String] = [:]
    let before = fleet.recorder.snapshot
    for (slot, record) in before.enumerated() {
        if let type = record.types[typeURL], let held = type.held, fleet.recorder.catalog.contains(held, marker: marker) {
            expected[slot] = type.version
        }
    }
    let text = try String(contentsOf: file, encoding: .utf8)
    let edited = edit(text)
    precondition(edited != text, "edit of \(file.lastPathComponent) changed nothing")
    let start = clock.now
    try edited.write(to: file, atomically: true, encoding: .utf8)
    var timedOut: (any Error)?
    do {
        try await fleet.wait(timeout: timeout, "\(shortName(typeURL)) of \(expected.count) proxies after editing \(file.lastPathComponent)") { records in
            expected.allSatisfy { records[$0.key].types[typeURL]?.version != $0.value }
        }
    } catch {
        timedOut = error
    }
    let after = fleet.recorder.snapshot
    var times: [Duration] = []
    for (slot, version) in expected where after[slot].types[typeURL]?.version != version {
        times.append(after[slot].types[typeURL]!.last! - start)
    }
    times.sort()
    // Let stragglers (pushes to proxies that should not get one) arrive before counting.
    try await fleet.settle(timeout: timeout)
    let settled = fleet.recorder.snapshot
    var perType: [String: Int] = [:]
    for (old, new) in zip(before, settled) {
        for typeURL in trackedTypes where (new.types[typeURL]?.count ?? 0) > (old.types[typeURL]?.count ?? 0) { perType[typeURL, default: 0] += 1 }
    }
    if let timedOut { print("  !! \(timedOut)") }
    return Convergence(expected: expected.count, converged: times.count, total: times.last ?? .zero,
                       p50: percentile(times, 0.5), p99: percentile(times, 0.99), updatedByType: perType)
}

/// Checks istiod's own view (/debug/syncz): every proxy's last sent version ACKed, no NACK.
///
/// The benchmark's proxies record a response when they receive it and ACK it right after, so a
/// read taken the moment they settle can still find ACKs in flight. The check therefore reads
/// again (every 2 s, for at most `patience`) until every stream is in sync, and reports the first
/// read's out-of-sync types and how long it took to reach a clean read.
func serverSideAcks(_ istiod: Istiod, proxies: Int, patience: Duration = .seconds(120)) async -> String {
    struct Read {
        var streams = 0, acked = 0, nacks = 0
        var unackedByType: [String: Int] = [:]
    }
    var lastError = ""
    func read() async -> Read? {
        let data: Data
        switch await httpGetResult("http://127.0.0.1:\(istiod.debugPort)/debug/syncz") {
        case .success(let body): data = body
        case .failure(let error):
            lastError = "\(error)"
            return nil
        }
        guard let entries = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            lastError = "not a JSON array (\(data.count) bytes)"
            return nil
        }
        var result = Read(streams: entries.count)
        for entry in entries {
            let types = entry["types"] as? [String: [String: Any]] ?? [:]
            var inSync = true
            for (typeURL, type) in types {
                let sent = type["sent"] as? String
                if sent == nil || sent != type["acked"] as? String {
                    inSync = false
                    result.unackedByType[shortName(typeURL), default: 0] += 1
                }
            }
            if inSync { result.acked += 1 }
            if types.values.contains(where: { $0["lastNack"] as? String != nil }) { result.nacks += 1 }
        }
        return result
    }
    let start = clock.now
    var firstRead: Read?
    var attempts = 0
    while firstRead == nil, attempts < 5 {
        attempts += 1
        firstRead = await read()
        if firstRead == nil { try? await Task.sleep(for: .seconds(2)) }
    }
    guard let first = firstRead else { return "syncz unavailable after \(attempts) reads: \(lastError)" }
    var last = first
    while last.acked < last.streams, clock.now - start < patience {
        try? await Task.sleep(for: .seconds(2))
        guard let next = await read() else { break }
        last = next
    }
    func describe(_ r: Read) -> String {
        let pending = r.unackedByType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(r.streams) streams, \(r.acked) with every sent version ACKed\(pending.isEmpty ? "" : " (awaiting ACK: \(pending))"), \(r.nacks) with a NACK"
    }
    if first.acked == first.streams {
        return "istiod /debug/syncz: \(describe(first)) (expected \(proxies))"
    }
    let waited = String(format: "%.1f s", Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18)
    return "istiod /debug/syncz: first read \(describe(first)); after \(waited): \(describe(last)) (expected \(proxies))"
}

// MARK: - One mode

func serviceFile(_ dir: URL, _ i: Int) -> URL { dir.appendingPathComponent("svc-\(i).yaml") }

func vsEdit(_ text: String) -> String {
    text.replacingOccurrences(of: "weight: 90", with: "weight: 70").replacingOccurrences(of: "weight: 10\n", with: "weight: 30\n")
}

func weEdit(service i: Int) -> (String) -> String {
    { $0.replacingOccurrences(of: ".\(i % 250 + 1).1\n", with: ".\(i % 250 + 1).9\n") }
}

func run(mode: XDSProtocolMode, options: Options, mesh: SyntheticMesh) async throws {
    let label = mode == .delta ? "delta" : "sotw"
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ads-bench-\(ProcessInfo.processInfo.processIdentifier)-\(label)")
    try? FileManager.default.removeItem(at: dir)
    let configDir = dir.appendingPathComponent("config")
    try FileManager.default.createDirectory(at: configDir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try mesh.yaml().split(separator: "---\n", maxSplits: 1).first!.write(to: configDir.appendingPathComponent("mesh.yaml"), atomically: true, encoding: .utf8)
    for i in 0..<mesh.services { try mesh.documents(for: i).write(to: serviceFile(configDir, i), atomically: true, encoding: .utf8) }

    let istiod = try Istiod(binary: options.istiod, configDir: configDir, pollInterval: options.pollInterval, log: dir.appendingPathComponent("istiod.log"))
    defer { istiod.stop() }
    try await istiod.waitUntilServing(timeout: .seconds(120))
    let catalog = ResourceCatalog()
    let floor = Double(100 + options.pollInterval)
    print("\n== \(label): istiod pid \(istiod.pid), xDS 127.0.0.1:\(istiod.xdsPort), \(mesh.services) services in \(mesh.services + 1) files; after load: RSS \(mib(memory(pid: istiod.pid).current))")

    // Baseline: one proxy alone, same kinds of edit.
    let single = try Fleet(port: istiod.xdsPort, connections: 1, specs: [ProxySpec(index: 0, name: "baseline", mesh: mesh)], catalog: catalog)
    var start = clock.now
    single.start(mode: mode)
    let singleInitial = try await initialFetch(single, start: start, timeout: options.timeout)
    let a = 1
    let singleVS = try await change(single, typeURL: EnvoyTypeURL.routeConfiguration, marker: "svc-\(a).\(mesh.namespace(of: a))",
                                    file: serviceFile(configDir, a), timeout: options.changeTimeout, edit: vsEdit)
    let singleEDS = try await change(single, typeURL: EnvoyTypeURL.clusterLoadAssignment, marker: "svc-\(a).\(mesh.namespace(of: a))",
                                     file: serviceFile(configDir, a), timeout: options.changeTimeout, edit: weEdit(service: a))
    var heldCounts: [String] = []
    var bytes = 0
    for typeURL in trackedTypes {
        let held = single.recorder.snapshot[0].types[typeURL]?.held
        heldCounts.append("\(shortName(typeURL)) \(held?.digests.count ?? 0)")
        bytes += held?.serializedBytes ?? 0
    }
    let held = heldCounts.joined(separator: ", ")
    await single.stop()
    print("one proxy holds: \(held) resources, \(bytes / 1024) KiB serialized")
    print("baseline, 1 proxy:")
    print("  initial config ACKed      " + singleInitial.summary)
    print("  VirtualService edit (RDS) " + singleVS.summary)
    print("  WorkloadEntry edit (EDS)  " + singleEDS.summary)
    try await Task.sleep(for: .seconds(1))

    // N proxies.
    let specs = (0..<options.proxies).map { ProxySpec(index: $0, name: "proxy-\($0)", mesh: mesh) }
    let connections = min(options.connections, options.proxies)
    let fleet = try Fleet(port: istiod.xdsPort, connections: connections, specs: specs, catalog: catalog)
    let cpuBefore = cpuSeconds(pid: istiod.pid)
    start = clock.now
    fleet.start(mode: mode)
    let initial = try await initialFetch(fleet, start: start, timeout: options.timeout)
    let cpuInitial = cpuSeconds(pid: istiod.pid) - cpuBefore
    print("\(options.proxies) proxies over \(connections) HTTP/2 connections (\(Int((Double(options.proxies) / Double(connections)).rounded(.up))) ADS streams each):")
    print("  initial config ACKed      " + initial.summary + String(format: "; istiod CPU %.1f s", cpuInitial))
    let b = mesh.services / 2
    var cpu0 = cpuSeconds(pid: istiod.pid)
    let vs = try await change(fleet, typeURL: EnvoyTypeURL.routeConfiguration, marker: "svc-\(b).\(mesh.namespace(of: b))",
                              file: serviceFile(configDir, b), timeout: options.changeTimeout, edit: vsEdit)
    print("  VirtualService edit (RDS) " + vs.summary + String(format: "; istiod CPU %.1f s", cpuSeconds(pid: istiod.pid) - cpu0))
    cpu0 = cpuSeconds(pid: istiod.pid)
    let eds = try await change(fleet, typeURL: EnvoyTypeURL.clusterLoadAssignment, marker: "svc-\(b).\(mesh.namespace(of: b))",
                               file: serviceFile(configDir, b), timeout: options.changeTimeout, edit: weEdit(service: b))
    print("  WorkloadEntry edit (EDS)  " + eds.summary + String(format: "; istiod CPU %.1f s", cpuSeconds(pid: istiod.pid) - cpu0))
    print("  " + (await serverSideAcks(istiod, proxies: options.proxies)))
    let istiodMemory = memory(pid: istiod.pid)
    let ownMemory = memory(pid: getpid())
    print("  istiod: peak RSS (VmHWM) \(mib(istiodMemory.peak)), RSS now \(mib(istiodMemory.current)), CPU total \(String(format: "%.1f", cpuSeconds(pid: istiod.pid))) s")
    print("  benchmark process: peak RSS \(mib(ownMemory.peak)), RSS now \(mib(ownMemory.current))")
    print("ratios (\(label)):")
    print(String(format: "  initial, %d proxies / 1 proxy             = %7.1fx", options.proxies, ms(initial.total) / ms(singleInitial.total)))
    print(String(format: "  VirtualService, %d proxies / 1 proxy      = %7.1fx   (/ floor %.0f ms = %.1fx)", options.proxies, ms(vs.total) / ms(singleVS.total), floor, ms(vs.total) / floor))
    print(String(format: "  WorkloadEntry, %d proxies / 1 proxy       = %7.1fx   (/ floor %.0f ms = %.1fx)", options.proxies, ms(eds.total) / ms(singleEDS.total), floor, ms(eds.total) / floor))
    await fleet.stop()
}

// MARK: - Main

let options = Options(CommandLine.arguments)
let mesh = SyntheticMesh(services: options.services)
print("ADSBenchmark: \(options.services) services (\(mesh.resourceCount) Istio resources), \(options.proxies) proxies, modes \(options.modes.map(\.rawValue).joined(separator: ", ")), poll interval \(options.pollInterval) ms, debounce 100 ms")
print("floor for an edit to reach a proxy: debounce 100 ms + up to one poll interval (\(options.pollInterval) ms)")
for mode in options.modes {
    do {
        try await run(mode: mode, options: options, mesh: mesh)
    } catch {
        print("!! \(mode.rawValue) failed: \(error)")
        exit(2)
    }
}
