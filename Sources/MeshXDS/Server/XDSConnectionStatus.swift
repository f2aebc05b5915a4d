public import Foundation

/// Which xDS protocol variant a stream speaks.
public enum XDSProtocolMode: String, Sendable, Hashable, Codable {
    /// `StreamAggregatedResources`: every response carries every subscribed resource of a type.
    case stateOfTheWorld = "sotw"
    /// `DeltaAggregatedResources`: responses carry changed and removed resources only.
    case delta
}

/// A connected proxy as operators see it (`/debug/syncz`, `/debug/adsz`, `proxy-status`).
///
/// JSON-friendly: encode it with `JSONEncoder` (dates as the encoder's strategy chooses).
public struct XDSConnectionStatus: Sendable, Hashable, Codable {
    /// The server-assigned id of this stream.
    public var connectionID: String
    /// The node id from the first request (empty until it arrives).
    public var nodeID: String
    /// The node's cluster (Istio's `workload.namespace`), when given.
    public var nodeCluster: String
    /// The protocol variant.
    public var mode: XDSProtocolMode
    /// The peer address the transport reported.
    public var peer: String
    /// When the stream opened.
    public var connectedAt: Date
    /// Per type URL: subscription, sent, ACKed and NACKed versions.
    public var types: [String: XDSTypeStatus]

    /// Creates a status record.
    public init(connectionID: String, nodeID: String = "", nodeCluster: String = "", mode: XDSProtocolMode, peer: String, connectedAt: Date, types: [String: XDSTypeStatus] = [:]) {
        self.connectionID = connectionID
        self.nodeID = nodeID
        self.nodeCluster = nodeCluster
        self.mode = mode
        self.peer = peer
        self.connectedAt = connectedAt
        self.types = types
    }
}

/// The state of one type URL on one connection.
public struct XDSTypeStatus: Sendable, Hashable, Codable {
    /// Whether the proxy subscribed to every resource of the type.
    public var wildcard: Bool
    /// The names the proxy subscribed to explicitly.
    public var subscribedNames: [String]
    /// The version of the last response sent.
    public var lastSentVersion: String?
    /// The nonce of the last response sent.
    public var lastSentNonce: String?
    /// When the last response was sent.
    public var lastSentAt: Date?
    /// How many resources the last response carried.
    public var lastSentResourceCount: Int
    /// The last version the proxy acknowledged.
    public var lastAckedVersion: String?
    /// The nonce of the last acknowledged response.
    public var lastAckedNonce: String?
    /// When the last ACK arrived.
    public var lastAckedAt: Date?
    /// The last rejection, kept until a later version is acknowledged.
    public var lastNack: XDSNackStatus?

    /// Creates an empty record.
    public init(wildcard: Bool = false, subscribedNames: [String] = []) {
        self.wildcard = wildcard
        self.subscribedNames = subscribedNames
        self.lastSentResourceCount = 0
    }

    /// `synced`, `stale` (sent, not yet answered), `nacked`, or `notSent`, as istioctl
    /// proxy-status shows them.
    public var syncState: SyncState {
        guard let sentNonce = lastSentNonce else { return .notSent }
        if let nack = lastNack, nack.nonce == sentNonce { return .nacked }
        if lastAckedNonce == sentNonce { return .synced }
        return .stale
    }

    /// The sync state of one type (istioctl proxy-status's SYNCED, STALE, NACK, NOT SENT).
    public enum SyncState: String, Sendable, Hashable, Codable {
        case synced = "SYNCED"
        case stale = "STALE"
        case nacked = "NACK"
        case notSent = "NOT SENT"
    }
}

/// A response a proxy rejected.
public struct XDSNackStatus: Sendable, Hashable, Codable {
    /// The version the proxy reports it still runs (its last good one).
    public var version: String
    /// The nonce of the rejected response.
    public var nonce: String
    /// The version of the rejected response, as the server sent it.
    public var rejectedVersion: String?
    /// The gRPC status code in `error_detail`.
    public var code: Int32
    /// The proxy's explanation from `error_detail.message`.
    public var message: String
    /// When the NACK arrived.
    public var at: Date

    /// Creates a record.
    public init(version: String, nonce: String, rejectedVersion: String?, code: Int32, message: String, at: Date) {
        self.version = version
        self.nonce = nonce
        self.rejectedVersion = rejectedVersion
        self.code = code
        self.message = message
        self.at = at
    }
}
