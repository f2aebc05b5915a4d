/// The connection a callback is about.
public struct XDSConnectionInfo: Sendable, Hashable {
    /// The server-assigned stream id (as in ``XDSConnectionStatus/connectionID``).
    public var connectionID: String
    /// The protocol variant.
    public var mode: XDSProtocolMode
    /// The peer address the transport reported.
    public var peer: String
    /// The node, once the first request named it.
    public var node: Envoy_Config_Core_V3_Node?
}

/// Hooks into the ADS server's life, for logging, metrics and tests (go-control-plane's
/// `CallbackFuncs`).
///
/// Every method has a no-op default, so implement only what you need. The server calls them on
/// the stream's task, in order, and waits for none of them to do I/O: keep them quick.
///
/// ```swift
/// struct LogNACKs: XDSServerCallbacks {
///     let logger: Logger
///     func rejected(typeURL: String, version: String, nonce: String, errorDetail: Google_Rpc_Status, on connection: XDSConnectionInfo) {
///         logger.warning("NACK", metadata: ["type": "\(typeURL)", "error": "\(errorDetail.message)"])
///     }
/// }
/// ```
public protocol XDSServerCallbacks: Sendable {
    /// A stream opened (before its first request).
    func streamOpened(_ connection: XDSConnectionInfo)
    /// A stream ended, with the error that ended it, if any.
    func streamClosed(_ connection: XDSConnectionInfo, error: (any Error)?)
    /// A state-of-the-world request arrived.
    func requestReceived(_ request: Envoy_Service_Discovery_V3_DiscoveryRequest, on connection: XDSConnectionInfo)
    /// A delta request arrived.
    func deltaRequestReceived(_ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, on connection: XDSConnectionInfo)
    /// A state-of-the-world response was written.
    func responseSent(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse, on connection: XDSConnectionInfo)
    /// A delta response was written.
    func deltaResponseSent(_ response: Envoy_Service_Discovery_V3_DeltaDiscoveryResponse, on connection: XDSConnectionInfo)
    /// The proxy accepted a response.
    func acknowledged(typeURL: String, version: String, nonce: String, on connection: XDSConnectionInfo)
    /// The proxy rejected a response; it keeps running `version`, its last good one.
    func rejected(typeURL: String, version: String, nonce: String, errorDetail: Google_Rpc_Status, on connection: XDSConnectionInfo)
}

extension XDSServerCallbacks {
    public func streamOpened(_ connection: XDSConnectionInfo) {}
    public func streamClosed(_ connection: XDSConnectionInfo, error: (any Error)?) {}
    public func requestReceived(_ request: Envoy_Service_Discovery_V3_DiscoveryRequest, on connection: XDSConnectionInfo) {}
    public func deltaRequestReceived(_ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, on connection: XDSConnectionInfo) {}
    public func responseSent(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse, on connection: XDSConnectionInfo) {}
    public func deltaResponseSent(_ response: Envoy_Service_Discovery_V3_DeltaDiscoveryResponse, on connection: XDSConnectionInfo) {}
    public func acknowledged(typeURL: String, version: String, nonce: String, on connection: XDSConnectionInfo) {}
    public func rejected(typeURL: String, version: String, nonce: String, errorDetail: Google_Rpc_Status, on connection: XDSConnectionInfo) {}
}

/// Callbacks that do nothing.
public struct NoXDSServerCallbacks: XDSServerCallbacks {
    public init() {}
}
