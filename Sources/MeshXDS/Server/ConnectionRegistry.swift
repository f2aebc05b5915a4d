public import Foundation

/// The ADS streams connected to a server, with their per-type sync state.
///
/// The server records every stream here. Operators read ``statuses()`` (what istiod's
/// `/debug/syncz` and `/debug/adsz` render), ask for a resend with ``push(nodeID:full:)`` and end
/// every stream with ``closeAll()`` on graceful shutdown.
public actor ConnectionRegistry {
    struct Entry {
        var status: XDSConnectionStatus
        var control: @Sendable (StreamControl) -> Void
    }

    /// What an operator asks of a stream.
    enum StreamControl: Sendable {
        case push(full: Bool)
        case close
    }

    private var entries: [String: Entry] = [:]
    private var nextID: UInt64 = 0
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - now: The clock for timestamps; `Date.init` by default.
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// Every connected stream, ordered by node id then connection id.
    public func statuses() -> [XDSConnectionStatus] {
        entries.values.map(\.status).sorted { ($0.nodeID, $0.connectionID) < ($1.nodeID, $1.connectionID) }
    }

    /// The streams of one node.
    /// - Parameters:
    ///   - nodeID: The node id.
    public func statuses(nodeID: String) -> [XDSConnectionStatus] {
        statuses().filter { $0.nodeID == nodeID }
    }

    /// Number of connected streams.
    public var count: Int { entries.count }

    /// Asks a node's streams to send whatever changed; `full` resends every subscribed type.
    /// Each type still waits for the ACK of its previous response.
    /// - Parameters:
    ///   - nodeID: The node id.
    ///   - full: Resend every subscribed type even if unchanged.
    public func push(nodeID: String, full: Bool = false) {
        for entry in entries.values where entry.status.nodeID == nodeID {
            entry.control(.push(full: full))
        }
    }

    /// Asks every stream to send whatever changed; `full` resends every subscribed type.
    /// - Parameters:
    ///   - full: Resend every subscribed type even if unchanged.
    public func pushAll(full: Bool = false) {
        for entry in entries.values { entry.control(.push(full: full)) }
    }

    /// Ends every stream (with status OK); proxies reconnect elsewhere or later.
    public func closeAll() {
        for entry in entries.values { entry.control(.close) }
    }

    // MARK: recording (the server's streams call these)

    func open(mode: XDSProtocolMode, peer: String, control: @escaping @Sendable (StreamControl) -> Void) -> XDSConnectionStatus {
        nextID += 1
        let status = XDSConnectionStatus(connectionID: "ads-\(nextID)", mode: mode, peer: peer, connectedAt: now())
        entries[status.connectionID] = Entry(status: status, control: control)
        return status
    }

    func close(_ connectionID: String) {
        entries[connectionID] = nil
    }

    func setNode(_ connectionID: String, node: Envoy_Config_Core_V3_Node) {
        entries[connectionID]?.status.nodeID = node.id
        entries[connectionID]?.status.nodeCluster = node.cluster
    }

    func recordSubscription(_ connectionID: String, typeURL: String, _ subscription: XDSSubscription) {
        update(connectionID, typeURL) {
            $0.wildcard = subscription.isWildcard
            $0.subscribedNames = subscription.names.sorted()
        }
    }

    func recordSent(_ connectionID: String, _ sent: XDSSentResponse) {
        let time = now()
        update(connectionID, sent.typeURL) {
            $0.lastSentVersion = sent.version
            $0.lastSentNonce = sent.nonce
            $0.lastSentAt = time
            $0.lastSentResourceCount = sent.resourceNames.count
        }
    }

    func recordAck(_ connectionID: String, typeURL: String, version: String, nonce: String) {
        let time = now()
        update(connectionID, typeURL) {
            $0.lastAckedVersion = version
            $0.lastAckedNonce = nonce
            $0.lastAckedAt = time
        }
    }

    func recordNack(_ connectionID: String, typeURL: String, version: String, nonce: String, errorDetail: Google_Rpc_Status) {
        let time = now()
        update(connectionID, typeURL) {
            let rejected = $0.lastSentNonce == nonce ? $0.lastSentVersion : nil
            $0.lastNack = XDSNackStatus(
                version: version, nonce: nonce, rejectedVersion: rejected,
                code: errorDetail.code, message: errorDetail.message, at: time
            )
        }
    }

    private func update(_ connectionID: String, _ typeURL: String, _ change: (inout XDSTypeStatus) -> Void) {
        guard entries[connectionID] != nil else { return }
        change(&entries[connectionID]!.status.types[typeURL, default: XDSTypeStatus()])
    }
}
