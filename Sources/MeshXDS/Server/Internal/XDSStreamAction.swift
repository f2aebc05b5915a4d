import SwiftProtobuf

/// What a stream state machine asks its driver to do.
enum XDSStreamAction<Response: Sendable>: Sendable {
    /// The first request named the node: start watching its snapshots.
    case startWatch(Envoy_Config_Core_V3_Node)
    /// Write a response.
    case send(Response, XDSSentResponse)
    /// The proxy accepted a response.
    case ack(typeURL: String, version: String, nonce: String)
    /// The proxy rejected a response and stays on its last good version.
    case nack(typeURL: String, version: String, nonce: String, errorDetail: Google_Rpc_Status)
    /// The proxy's subscription for a type changed.
    case subscribed(typeURL: String, XDSSubscription)
    /// End the stream with an error.
    case fail(XDSError)
}

/// The facts about a sent response the registry records.
struct XDSSentResponse: Sendable, Hashable {
    var typeURL: String
    var version: String
    var nonce: String
    var resourceNames: [String]
    var removedNames: [String] = []
}

/// The state machine shape both stream kinds share, so one driver runs either.
protocol XDSStreamStateMachine: Sendable {
    associatedtype Request: Sendable
    associatedtype Response: Sendable
    typealias Action = XDSStreamAction<Response>

    static var mode: XDSProtocolMode { get }
    init()
    mutating func receive(_ request: Request) -> [Action]
    mutating func snapshotChanged(_ snapshot: Snapshot) -> [Action]
    mutating func pushRequested(full: Bool) -> [Action]
    static func didReceive(_ request: Request, callbacks: any XDSServerCallbacks, on connection: XDSConnectionInfo)
    static func didSend(_ response: Response, callbacks: any XDSServerCallbacks, on connection: XDSConnectionInfo)
}

extension SotWStateMachine {
    static func didReceive(_ request: Request, callbacks: any XDSServerCallbacks, on connection: XDSConnectionInfo) {
        callbacks.requestReceived(request, on: connection)
    }
    static func didSend(_ response: Response, callbacks: any XDSServerCallbacks, on connection: XDSConnectionInfo) {
        callbacks.responseSent(response, on: connection)
    }
}

extension DeltaStateMachine {
    static func didReceive(_ request: Request, callbacks: any XDSServerCallbacks, on connection: XDSConnectionInfo) {
        callbacks.deltaRequestReceived(request, on: connection)
    }
    static func didSend(_ response: Response, callbacks: any XDSServerCallbacks, on connection: XDSConnectionInfo) {
        callbacks.deltaResponseSent(response, on: connection)
    }
}

/// Nonces for one stream: increasing decimal numbers.
struct NonceGenerator {
    private var counter: UInt64 = 0
    mutating func next() -> String {
        counter += 1
        return String(counter)
    }
}
