import SwiftProtobuf

/// The incremental (delta) ADS protocol for one stream, without I/O.
///
/// Per type URL it tracks the subscription (wildcard and names, changed by
/// `resource_names_subscribe` and `resource_names_unsubscribe`) and the version of each resource
/// the proxy holds, seeded from `initial_resource_versions`. A response carries only resources
/// whose versions differ and, in `removed_resources`, subscribed resources that disappeared. The
/// ACK, ordering and coalescing rules are those of ``SotWStateMachine``; what was sent is taken as
/// held even when NACKed, so a rejected resource is not resent until it changes.
struct DeltaStateMachine: XDSStreamStateMachine {
    typealias Request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
    typealias Response = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse
    static var mode: XDSProtocolMode { .delta }

    struct TypeState: Hashable {
        var subscription: XDSSubscription
        var known: [String: String] = [:]
        var pendingNonce: String?
        var pendingVersion = ""
        var ackedVersion = ""
        var responded = false
        var forceResend = false
        /// Bumped whenever the subscription changes.
        var subscriptionGeneration = 0
        /// The snapshot version and subscription generation last found to need nothing sent:
        /// while both stay the same, the type is not diffed again (every ACK would otherwise
        /// rescan thousands of resources).
        var evaluated: Evaluation?
    }

    struct Evaluation: Hashable {
        var version: String
        var generation: Int
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
                return [.fail(XDSError(code: .invalidRequest, message: "the first delta discovery request must carry a node with an id"))]
            }
            node = request.node
            actions.append(.startWatch(request.node))
        }
        let typeURL = request.typeURL
        guard !typeURL.isEmpty else {
            return actions + [.fail(XDSError(code: .invalidRequest, message: "an ADS delta discovery request must name its type_url"))]
        }
        let isFirst = types[typeURL] == nil
        // Taken out of the dictionary so that mutating `known` does not copy it.
        var state = types.removeValue(forKey: typeURL) ?? TypeState(subscription: .names([]))
        if isFirst {
            state.known = request.initialResourceVersions
        }
        if !request.responseNonce.isEmpty, let pending = state.pendingNonce, pending == request.responseNonce {
            state.pendingNonce = nil
            if request.hasErrorDetail {
                actions.append(.nack(typeURL: typeURL, version: state.ackedVersion, nonce: pending, errorDetail: request.errorDetail))
            } else {
                state.ackedVersion = state.pendingVersion
                actions.append(.ack(typeURL: typeURL, version: state.pendingVersion, nonce: pending))
            }
        }
        var grew = false, shrank = false
        if isFirst && request.resourceNamesSubscribe.isEmpty {
            state.subscription.isWildcard = true
        }
        for name in request.resourceNamesSubscribe {
            if name == "*" {
                if !state.subscription.isWildcard { state.subscription.isWildcard = true; grew = true }
            } else if state.subscription.names.insert(name).inserted {
                grew = true
            }
        }
        for name in request.resourceNamesUnsubscribe {
            if name == "*" {
                if state.subscription.isWildcard { state.subscription.isWildcard = false; shrank = true }
            } else if state.subscription.names.remove(name) != nil {
                shrank = true
            }
        }
        if shrank {
            // Forget what the proxy no longer subscribes to: it dropped those resources itself.
            let subscription = state.subscription
            state.known = state.known.filter { subscription.contains($0.key) }
        }
        if isFirst || grew || shrank {
            state.subscriptionGeneration &+= 1
            actions.append(.subscribed(typeURL: typeURL, state.subscription))
        }
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

    private mutating func sendDue() -> [Action] {
        guard let snapshot else { return [] }
        var actions: [Action] = []
        var blocked = false
        for typeURL in XDSTypeOrder.sorted(types.keys) {
            guard let resources = snapshot.resources[typeURL] else { continue }
            if let evaluated = types[typeURL]!.evaluated, !types[typeURL]!.forceResend,
               evaluated.version == resources.version, evaluated.generation == types[typeURL]!.subscriptionGeneration {
                continue
            }
            // Taken out of the dictionary so that mutating `known` does not copy it.
            var state = types.removeValue(forKey: typeURL)!
            defer { types[typeURL] = state }
            let wanted = resources.sorted { state.subscription.contains($0.name) }
            let changed = wanted.filter { state.forceResend || state.known[$0.name] != $0.version }
            var removed: [String] = []
            if state.known.count > wanted.count - changed.count {
                let wantedNames = Set(wanted.map(\.name))
                removed = state.known.keys.filter { !wantedNames.contains($0) }.sorted()
            }
            guard !changed.isEmpty || !removed.isEmpty || !state.responded else {
                state.evaluated = Evaluation(version: resources.version, generation: state.subscriptionGeneration)
                continue
            }
            if blocked || state.pendingNonce != nil {
                blocked = true
                continue
            }
            let nonce = nonces.next()
            var response = Response()
            response.systemVersionInfo = resources.version
            response.typeURL = typeURL
            response.nonce = nonce
            response.resources = changed.map { item in
                var resource = Envoy_Service_Discovery_V3_Resource()
                resource.name = item.name
                resource.version = item.version
                resource.resource = item.resource
                return resource
            }
            response.removedResources = removed
            for item in changed { state.known[item.name] = item.version }
            for name in removed { state.known[name] = nil }
            state.pendingNonce = nonce
            state.pendingVersion = resources.version
            state.responded = true
            state.forceResend = false
            state.evaluated = Evaluation(version: resources.version, generation: state.subscriptionGeneration)
            actions.append(.send(response, XDSSentResponse(
                typeURL: typeURL, version: resources.version, nonce: nonce,
                resourceNames: changed.map(\.name), removedNames: removed
            )))
        }
        return actions
    }
}
