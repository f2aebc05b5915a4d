public import GRPCCore
public import SwiftProtobuf

/// An ADS client, state of the world or delta, for the Swift proxy and proxyless clients.
///
/// Subscribe to types (wildcard or names, changeable at any time), iterate ``updates(_:)`` for
/// each, and call ``run()`` to keep a stream open: it reconnects with bounded exponential backoff
/// and, on every new stream, tells the server what it already holds. Each response is handed to
/// the `validate` closure: returning accepts it (the client ACKs and publishes an update);
/// throwing rejects it (the client NACKs with the error's message as `error_detail` and keeps its
/// last good resources).
///
/// ```swift
/// let xds = XDSClient(client: grpcClient, node: node, mode: .delta) { typeURL, resources in
///     try validateForMyProxy(typeURL, resources)
/// }
/// await xds.subscribe(EnvoyTypeURL.cluster, .wildcard)
/// async let running: Void = xds.run()
/// for await update in await xds.updates(EnvoyTypeURL.cluster) { apply(update) }
/// ```
public actor XDSClient {
    /// Decides whether a type's resources are acceptable; throw to NACK.
    public typealias Validator = @Sendable (_ typeURL: String, _ resources: [String: Google_Protobuf_Any]) throws -> Void

    /// Reconnect delays: `initial`, multiplied by `multiplier` after every failed attempt, capped
    /// at `maximum`; reset once a stream delivers a response.
    public struct Backoff: Sendable, Hashable {
        /// The first delay.
        public var initial: Duration
        /// The cap.
        public var maximum: Duration
        /// Growth per attempt.
        public var multiplier: Double

        /// - Parameters:
        ///   - initial: The first delay (100 ms).
        ///   - maximum: The cap (10 s).
        ///   - multiplier: Growth per attempt (2).
        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(10), multiplier: Double = 2) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
        }

        /// The delay before reconnect attempt `attempt` (0-based).
        public func delay(attempt: Int) -> Duration {
            var delay = initial
            for _ in 0..<min(attempt, 64) {
                delay = delay * multiplier
                if delay >= maximum { return maximum }
            }
            return min(delay, maximum)
        }
    }

    private let stub: any Envoy_Service_Discovery_V3_AggregatedDiscoveryService.ClientProtocol
    private let validate: Validator
    private let backoff: Backoff
    private let sleep: @Sendable (Duration) async throws -> Void
    private var machine: XDSClientStateMachine
    private var outbound: AsyncStream<XDSClientStateMachine.Outbound>.Continuation?
    private var subscribers: [String: [Int: AsyncStream<XDSClientUpdate>.Continuation]] = [:]
    private var nextSubscriberID = 0
    private var receivedOnThisStream = false

    /// How many streams this client has opened.
    public private(set) var connectionCount = 0
    /// The error that ended the last stream, if any.
    public private(set) var lastStreamError: (any Error)?

    /// - Parameters:
    ///   - client: A running `GRPCClient` connected to the control plane.
    ///   - node: The node to identify as (sent on each stream's first request).
    ///   - mode: State of the world or delta.
    ///   - backoff: Reconnect delays.
    ///   - sleep: How to wait between attempts; `Task.sleep` by default (inject for tests).
    ///   - validate: Accepts or rejects each type's resources; accepts everything by default.
    public init<Transport: ClientTransport>(
        client: GRPCClient<Transport>,
        node: Envoy_Config_Core_V3_Node,
        mode: XDSProtocolMode = .stateOfTheWorld,
        backoff: Backoff = Backoff(),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        validate: @escaping Validator = { _, _ in }
    ) {
        self.stub = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: client)
        self.machine = XDSClientStateMachine(node: node, mode: mode)
        self.backoff = backoff
        self.sleep = sleep
        self.validate = validate
    }

    /// Sets what the client wants of a type; sent at once when connected.
    /// - Parameters:
    ///   - typeURL: The type URL, such as ``EnvoyTypeURL/clusterLoadAssignment``.
    ///   - subscription: ``XDSSubscription/wildcard`` or ``XDSSubscription/names(_:)``.
    public func subscribe(_ typeURL: String, _ subscription: XDSSubscription) {
        for request in machine.subscribe(typeURL, subscription) { outbound?.yield(request) }
    }

    /// Accepted updates of one type, starting with the current resources if any.
    /// - Parameters:
    ///   - typeURL: The type URL.
    public func updates(_ typeURL: String) -> AsyncStream<XDSClientUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: XDSClientUpdate.self)
        let id = nextSubscriberID
        nextSubscriberID += 1
        subscribers[typeURL, default: [:]][id] = continuation
        if let state = machine.state(typeURL), let version = state.version {
            continuation.yield(XDSClientUpdate(typeURL: typeURL, version: version, resources: state.resources))
        }
        continuation.onTermination = { _ in Task { await self.removeSubscriber(typeURL, id) } }
        return stream
    }

    /// The last accepted resources of a type.
    public func resources(_ typeURL: String) -> [String: Google_Protobuf_Any] { machine.state(typeURL)?.resources ?? [:] }

    /// The last accepted version of a type.
    public func version(_ typeURL: String) -> String? { machine.state(typeURL)?.version }

    /// Keeps a stream to the server open until the task is cancelled, reconnecting with backoff.
    /// Ends every ``updates(_:)`` sequence when it returns.
    public func run() async {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await runStream()
                lastStreamError = nil
            } catch {
                lastStreamError = error
            }
            machine.disconnected()
            outbound?.finish()
            outbound = nil
            if receivedOnThisStream { attempt = 0 }
            if Task.isCancelled { break }
            do {
                try await sleep(backoff.delay(attempt: attempt))
            } catch {
                break
            }
            attempt += 1
        }
        for continuations in subscribers.values {
            for continuation in continuations.values { continuation.finish() }
        }
        subscribers = [:]
    }

    private func runStream() async throws {
        let (requests, input) = AsyncStream.makeStream(of: XDSClientStateMachine.Outbound.self)
        outbound = input
        connectionCount += 1
        receivedOnThisStream = false
        for request in machine.connected() { input.yield(request) }
        switch machine.mode {
        case .stateOfTheWorld:
            let request = StreamingClientRequest(of: Envoy_Service_Discovery_V3_DiscoveryRequest.self) { writer in
                for await case .sotw(let message) in requests { try await writer.write(message) }
            }
            try await stub.streamAggregatedResources(request: request, options: .defaults) { response in
                defer { input.finish() }
                for try await message in response.messages { await self.handle(message) }
            }
        case .delta:
            let request = StreamingClientRequest(of: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest.self) { writer in
                for await case .delta(let message) in requests { try await writer.write(message) }
            }
            try await stub.deltaAggregatedResources(request: request, options: .defaults) { response in
                defer { input.finish() }
                for try await message in response.messages { await self.handle(message) }
            }
        }
    }

    private func handle(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse) {
        receivedOnThisStream = true
        let (answer, update) = machine.received(response, validate: validate)
        outbound?.yield(answer)
        if let update { publish(update) }
    }

    private func handle(_ response: Envoy_Service_Discovery_V3_DeltaDiscoveryResponse) {
        receivedOnThisStream = true
        let (answer, update) = machine.received(response, validate: validate)
        outbound?.yield(answer)
        if let update { publish(update) }
    }

    private func publish(_ update: XDSClientUpdate) {
        for continuation in (subscribers[update.typeURL] ?? [:]).values { continuation.yield(update) }
    }

    private func removeSubscriber(_ typeURL: String, _ id: Int) {
        subscribers[typeURL]?[id] = nil
    }
}
