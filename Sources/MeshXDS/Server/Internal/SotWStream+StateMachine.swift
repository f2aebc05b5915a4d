import SwiftProtobuf

/// The state-of-the-world ADS protocol for one stream, without I/O.
///
/// Inputs are discovery requests, snapshot changes and push requests; outputs are actions. Per
/// type URL it keeps the subscription, what was last sent and the nonce awaiting an answer, and
/// follows these rules:
/// - a response of a type is sent only when none of that type is unacknowledged, and newer
///   snapshots are coalesced meanwhile (a proxy gets its next push after it ACKs the previous);
/// - a type is sent again only when its version or the subscription changed, so a NACKed version
///   is not resent and the proxy stays on its last good config;
/// - types go out in ``XDSTypeOrder`` and a type waiting for its ACK holds back the types after
///   it, so clusters precede endpoints and listeners precede routes;
/// - requests carrying a nonce other than the last one sent are stale and ignored; a request with
///   the last nonce after its ACK only changes the subscription.
struct SotWStateMachine: XDSStreamStateMachine {
    typealias Request = Envoy_Service_Discovery_V3_DiscoveryRequest
    typealias Response = Envoy_Service_Discovery_V3_DiscoveryResponse
    static var mode: XDSProtocolMode { .stateOfTheWorld }

    struct TypeState {
        var subscription: XDSSubscription
        var lastSent: (version: String, subscription: XDSSubscription)?
        var pending: (nonce: String, version: String)?
        var lastSentNonce: String?
        var forceResend = false
    }

    private(set) var node: Envoy_Config_Core_V3_Node?
    private(set) var snapshot: Snapshot?
    private(set) var types: [String: TypeState] = [:]
    private var nonces = NonceGenerator()

    init() {}

    mutating func receive(_ request: Request) -> [Action] {
        var actions: [Action] = []
        if node == nil {
            guard request.hasNode, !request.node.id.isEmpty else {
                return [.fail(XDSError(code: .invalidRequest, message: "the first discovery request must carry a node with an id"))]
            }
            node = request.node
            actions.append(.startWatch(request.node))
        }
        let typeURL = request.typeURL
        guard !typeURL.isEmpty else {
            return actions + [.fail(XDSError(code: .invalidRequest, message: "an ADS discovery request must name its type_url"))]
        }
        let isFirst = types[typeURL] == nil
        var state = types[typeURL] ?? TypeState(subscription: .wildcard)
        if !request.responseNonce.isEmpty && !isFirst {
            guard request.responseNonce == state.lastSentNonce else {
                // Stale: answers a response that a newer one superseded.
                return actions
            }
        }
        if let pending = state.pending, pending.nonce == request.responseNonce {
            state.pending = nil
            if request.hasErrorDetail {
                actions.append(.nack(typeURL: typeURL, version: request.versionInfo, nonce: pending.nonce, errorDetail: request.errorDetail))
            } else {
                actions.append(.ack(typeURL: typeURL, version: request.versionInfo, nonce: pending.nonce))
            }
        }
        let subscription = Self.subscription(from: request.resourceNames, typeURL: typeURL, isFirst: isFirst, previous: state.subscription)
        if isFirst || subscription != state.subscription {
            actions.append(.subscribed(typeURL: typeURL, subscription))
        }
        state.subscription = subscription
        types[typeURL] = state
        return actions + sendDue()
    }

    mutating func snapshotChanged(_ snapshot: Snapshot) -> [Action] {
        self.snapshot = snapshot
        return sendDue()
    }

    mutating func pushRequested(full: Bool) -> [Action] {
        if full {
            for typeURL in types.keys { types[typeURL]!.forceResend = true }
        }
        return sendDue()
    }

    static func subscription(from names: [String], typeURL: String, isFirst: Bool, previous: XDSSubscription) -> XDSSubscription {
        var set = Set(names)
        if set.remove("*") != nil { return XDSSubscription(isWildcard: true, names: set) }
        if set.isEmpty && (isFirst || previous.isWildcard || XDSTypeOrder.isWildcardByDefault(typeURL)) {
            return .wildcard
        }
        return .names(set)
    }

    private mutating func sendDue() -> [Action] {
        guard let snapshot else { return [] }
        var actions: [Action] = []
        var blocked = false
        for typeURL in XDSTypeOrder.sorted(types.keys) {
            var state = types[typeURL]!
            guard let resources = snapshot.resources[typeURL] else { continue }
            let due = state.forceResend || state.lastSent == nil || state.lastSent!.version != resources.version
                || state.lastSent!.subscription != state.subscription
            guard due else { continue }
            if blocked || state.pending != nil {
                blocked = true
                continue
            }
            let nonce = nonces.next()
            let items = resources.sorted { state.subscription.contains($0.name) }
            var response = Response()
            response.versionInfo = resources.version
            response.typeURL = typeURL
            response.nonce = nonce
            response.resources = items.map(\.resource)
            state.lastSent = (resources.version, state.subscription)
            state.pending = (nonce, resources.version)
            state.lastSentNonce = nonce
            state.forceResend = false
            types[typeURL] = state
            actions.append(.send(response, XDSSentResponse(typeURL: typeURL, version: resources.version, nonce: nonce, resourceNames: items.map(\.name))))
        }
        return actions
    }
}
