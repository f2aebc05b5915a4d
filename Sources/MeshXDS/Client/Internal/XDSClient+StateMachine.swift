import SwiftProtobuf

/// The client half of ADS, without I/O: what to request on connect and on subscription changes,
/// and how to answer each response (ACK after the consumer accepts it, NACK with `error_detail`
/// when it rejects it, keeping the last good resources).
struct XDSClientStateMachine {
    typealias Validator = @Sendable (_ typeURL: String, _ resources: [String: Google_Protobuf_Any]) throws -> Void

    enum Outbound: Sendable {
        case sotw(Envoy_Service_Discovery_V3_DiscoveryRequest)
        case delta(Envoy_Service_Discovery_V3_DeltaDiscoveryRequest)
    }

    struct TypeState {
        var subscription: XDSSubscription
        var version: String?
        var resources: [String: Google_Protobuf_Any] = [:]
        var resourceVersions: [String: String] = [:]
        var lastNonce = ""
    }

    let node: Envoy_Config_Core_V3_Node
    let mode: XDSProtocolMode
    private(set) var types: [String: TypeState] = [:]
    private(set) var isConnected = false
    private var sentNode = false

    init(node: Envoy_Config_Core_V3_Node, mode: XDSProtocolMode) {
        self.node = node
        self.mode = mode
    }

    /// A new stream opened: request every subscribed type again, saying what is held.
    mutating func connected() -> [Outbound] {
        isConnected = true
        sentNode = false
        var out: [Outbound] = []
        for typeURL in XDSTypeOrder.sorted(types.keys) {
            types[typeURL]!.lastNonce = ""
            out.append(initialRequest(typeURL))
        }
        return out
    }

    mutating func disconnected() {
        isConnected = false
    }

    /// Sets a type's subscription; returns the request announcing it when connected.
    mutating func subscribe(_ typeURL: String, _ subscription: XDSSubscription) -> [Outbound] {
        guard let existing = types[typeURL] else {
            types[typeURL] = TypeState(subscription: subscription)
            return isConnected ? [initialRequest(typeURL)] : []
        }
        guard existing.subscription != subscription else { return [] }
        types[typeURL]!.subscription = subscription
        // Drop what is no longer wanted.
        types[typeURL]!.resources = existing.resources.filter { subscription.contains($0.key) }
        types[typeURL]!.resourceVersions = existing.resourceVersions.filter { subscription.contains($0.key) }
        guard isConnected else { return [] }
        switch mode {
        case .stateOfTheWorld:
            return [.sotw(sotwRequest(typeURL, errorDetail: nil))]
        case .delta:
            var request = deltaBase(typeURL)
            let old = existing.subscription
            if subscription.isWildcard && !old.isWildcard { request.resourceNamesSubscribe.append("*") }
            if !subscription.isWildcard && old.isWildcard { request.resourceNamesUnsubscribe.append("*") }
            request.resourceNamesSubscribe += subscription.names.subtracting(old.names).sorted()
            request.resourceNamesUnsubscribe += old.names.subtracting(subscription.names).sorted()
            return [.delta(request)]
        }
    }

    func state(_ typeURL: String) -> TypeState? { types[typeURL] }

    /// Handles a state-of-the-world response: validate, then ACK and update, or NACK and keep.
    mutating func received(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse, validate: Validator) -> (Outbound, XDSClientUpdate?) {
        let typeURL = response.typeURL
        var state = types[typeURL] ?? TypeState(subscription: .wildcard)
        state.lastNonce = response.nonce
        var candidate: [String: Google_Protobuf_Any] = [:]
        for (index, any) in response.resources.enumerated() {
            candidate[XDSResource.name(ofPacked: any) ?? "\(index)"] = any
        }
        do {
            try validate(typeURL, candidate)
        } catch {
            types[typeURL] = state
            return (.sotw(sotwRequest(typeURL, errorDetail: Self.status(error))), nil)
        }
        let removed = state.resources.keys.filter { candidate[$0] == nil }.sorted()
        state.resources = candidate
        state.version = response.versionInfo
        types[typeURL] = state
        return (.sotw(sotwRequest(typeURL, errorDetail: nil)), XDSClientUpdate(typeURL: typeURL, version: response.versionInfo, resources: candidate, removed: removed))
    }

    /// Handles a delta response: apply changes and removals to a candidate, validate it, then ACK
    /// and update, or NACK and keep.
    mutating func received(_ response: Envoy_Service_Discovery_V3_DeltaDiscoveryResponse, validate: Validator) -> (Outbound, XDSClientUpdate?) {
        let typeURL = response.typeURL
        var state = types[typeURL] ?? TypeState(subscription: .wildcard)
        var candidate = state.resources
        var versions = state.resourceVersions
        for resource in response.resources {
            candidate[resource.name] = resource.resource
            versions[resource.name] = resource.version
        }
        for name in response.removedResources {
            candidate[name] = nil
            versions[name] = nil
        }
        var ack = deltaBase(typeURL)
        ack.responseNonce = response.nonce
        do {
            try validate(typeURL, candidate)
        } catch {
            ack.errorDetail = Self.status(error)
            return (.delta(ack), nil)
        }
        state.resources = candidate
        state.resourceVersions = versions
        state.version = response.systemVersionInfo
        state.lastNonce = response.nonce
        types[typeURL] = state
        return (.delta(ack), XDSClientUpdate(typeURL: typeURL, version: response.systemVersionInfo, resources: candidate, removed: response.removedResources))
    }

    private mutating func initialRequest(_ typeURL: String) -> Outbound {
        switch mode {
        case .stateOfTheWorld:
            return .sotw(sotwRequest(typeURL, errorDetail: nil))
        case .delta:
            let state = types[typeURL]!
            var request = deltaBase(typeURL)
            request.resourceNamesSubscribe = state.subscription.requestNames
            if state.subscription.isWildcard && !XDSTypeOrder.isWildcardByDefault(typeURL) && state.subscription.names.isEmpty {
                request.resourceNamesSubscribe = ["*"]
            }
            request.initialResourceVersions = state.resourceVersions
            return .delta(request)
        }
    }

    private mutating func sotwRequest(_ typeURL: String, errorDetail: Google_Rpc_Status?) -> Envoy_Service_Discovery_V3_DiscoveryRequest {
        let state = types[typeURL]!
        var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
        if !sentNode {
            request.node = node
            sentNode = true
        }
        request.typeURL = typeURL
        request.versionInfo = state.version ?? ""
        request.responseNonce = state.lastNonce
        request.resourceNames = state.subscription.requestNames
        if state.subscription.isWildcard && !XDSTypeOrder.isWildcardByDefault(typeURL) && state.subscription.names.isEmpty {
            request.resourceNames = ["*"]
        }
        if let errorDetail { request.errorDetail = errorDetail }
        return request
    }

    private mutating func deltaBase(_ typeURL: String) -> Envoy_Service_Discovery_V3_DeltaDiscoveryRequest {
        var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
        if !sentNode {
            request.node = node
            sentNode = true
        }
        request.typeURL = typeURL
        return request
    }

    static func status(_ error: any Error) -> Google_Rpc_Status {
        var status = Google_Rpc_Status()
        status.code = 3 // INVALID_ARGUMENT, as Envoy reports rejected config
        status.message = (error as? XDSError)?.message ?? "\(error)"
        return status
    }
}
