import NIOCore
import NIOHTTP1
import SwiftProtobuf

extension HTTPConnectionManagerRuntime {
    /// Routes a request with the current route table: Envoy's 404 (NR) when nothing matches, a
    /// local reply for redirects and direct responses, or a ``ForwardPlan``.
    /// - Parameters:
    ///   - randomValue: The stream's random value (runtime fractions, weighted clusters).
    ///   - dynamicMetadata: What filters set so far, for routes that match on it.
    func resolveRoute(_ head: HTTPRequestHead, connection: DownstreamConnectionInfo, randomValue random: UInt64,
                      dynamicMetadata: [String: Google_Protobuf_Struct] = [:]) -> RouteResolution {
        let authority = head.headers.first(name: "host") ?? ""
        let request = RouteRequest(method: head.method.rawValue, path: head.uri, authority: authority, headers: head.headers, scheme: connection.scheme,
                                   randomValue: random, dynamicMetadata: dynamicMetadata)
        guard let table = routeTable, let match = table.route(for: request) else {
            return RouteResolution(decision: .localReply(HTTPLocalReply(status: .notFound, details: "route_not_found", flags: .noRouteFound)), routeName: nil, perFilterConfig: [:])
        }
        let route = match.route
        let remote = connection.remoteIP
        // What header mutations' %COMMAND%s read; made only for routes that mutate headers.
        // The upstream address is known only once a response arrives (``ForwardPlan/transformResponse(_:upstreamAddress:)``);
        // request headers that name it are left out, as in Envoy.
        func formatterContext() -> HeaderFormatterContext {
            HeaderFormatterContext(
                downstreamRemoteAddress: downstreamRemoteAddress(head, connection: connection), downstreamDirectRemoteAddress: connection.remoteAddressText,
                downstreamLocalAddress: connection.localAddressText, protocol: Self.protocolName(head.version),
                hostname: Self.hostname, requestHeaders: head.headers)
        }
        // The table chose the virtual host's redirect to https (`require_tls`); with
        // EXTERNAL_ONLY an internal request gets its real route instead.
        if match.route === match.virtualHost.tlsRedirect {
            var headers = HTTPHeaders()
            headers.add(name: "location", value: "https://\(authority)\(head.uri)")
            return RouteResolution(decision: .localReply(HTTPLocalReply(status: .movedPermanently, headers: headers, details: "direct_response")), routeName: route.name, perFilterConfig: route.typedPerFilterConfig)
        }
        switch route.action {
        case .directResponse(let status, let body):
            var headers = HTTPHeaders()
            route.responseHeaderMutations.apply(to: &headers, context: formatterContext())
            let reply = HTTPLocalReply(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body ?? "", details: "direct_response")
            return RouteResolution(decision: .localReply(reply), routeName: route.name, perFilterConfig: route.typedPerFilterConfig)
        case .redirect(let redirect):
            var headers = HTTPHeaders()
            headers.add(name: "location", value: redirect.location(for: request))
            route.responseHeaderMutations.apply(to: &headers, context: formatterContext())
            let reply = HTTPLocalReply(status: HTTPResponseStatus(statusCode: redirect.responseCode), headers: headers, details: "direct_response")
            return RouteResolution(decision: .localReply(reply), routeName: route.name, perFilterConfig: route.typedPerFilterConfig)
        case .forward(let action):
            guard let selection = action.selectCluster(for: request) else {
                let reply = HTTPLocalReply(status: HTTPResponseStatus(statusCode: action.clusterNotFoundResponseCode), details: "cluster_not_found", flags: .noClusterFound)
                return RouteResolution(decision: .localReply(reply), routeName: route.name, perFilterConfig: route.typedPerFilterConfig)
            }
            let path = action.rewrittenPath(for: request)
            let newAuthority = action.rewrittenAuthority(for: request, cluster: selection.weightedCluster)
            var mirrors: [MirrorTarget] = []
            for policy in action.requestMirrorPolicies where policy.shouldMirror(random: FastRandom.next()) {
                guard let cluster = policy.cluster(for: request) else { continue }
                let host = policy.hostRewriteLiteral ?? (newAuthority ?? authority)
                mirrors.append(MirrorTarget(cluster: cluster, authority: policy.disableShadowHostSuffixAppend ? host : Self.shadowAuthority(host)))
            }
            let requestMutations = route.requestHeaderMutations(for: selection.weightedCluster)
            let responseMutations = route.responseHeaderMutations(for: selection.weightedCluster)
            let plan = ForwardPlan(
                clusterName: selection.cluster,
                rewrite: RouteRewrite(
                    path: path, authority: newAuthority, appendsForwardedHost: action.appendXForwardedHost, decorator: decoratorHeader(route, request: head),
                    requestMutations: requestMutations, responseMutations: responseMutations,
                    formatter: requestMutations.isEmpty && responseMutations.isEmpty ? HeaderFormatterContext() : formatterContext()),
                // A route with max_stream_duration uses stream-duration timeouts: the route
                // timeout no longer applies (Envoy's `usingNewTimeouts`).
                timeout: action.maxStreamDuration == nil ? action.timeout : nil,
                retry: action.retryPlan,  // The route's policy, else its virtual host's (``ForwardAction/retryPolicy``).
                hashKey: action.hashPolicies.isEmpty ? nil : HashPolicy.hash(action.hashPolicies, HashPolicyInput(request: request, sourceIP: remote)),
                includeAttemptCount: match.virtualHost.includeRequestAttemptCount,
                mirrors: mirrors)
            plan.streamIdleTimeout = action.idleTimeout
            plan.maxStreamDuration = action.maxStreamDuration
            plan.upgrades = action.upgrades
            return RouteResolution(decision: .forward(plan), routeName: route.name, perFilterConfig: route.typedPerFilterConfig(for: selection.weightedCluster))
        }
    }

    /// The decorator header handling of a request routed to `route`.
    private func decoratorHeader(_ route: RouteEntry, request: HTTPRequestHead) -> DecoratorHeader {
        guard let traffic = tracedTraffic else { return .untraced }
        let operation = route.decorator.flatMap { $0.propagate ? $0.operation : nil }
        switch traffic {
        case .egress: return .egress(operation: operation)
        case .ingress:
            let overridden = request.headers.first(name: DecoratorHeader.name).map { !$0.isEmpty } ?? false
            return .ingress(operation: overridden ? nil : operation)
        }
    }

    /// Envoy's downstream remote address: without `use_remote_address`, the last address of
    /// `x-forwarded-for` (with port 0, as Envoy prints it), else the connection's peer.
    func downstreamRemoteAddress(_ head: HTTPRequestHead, connection: DownstreamConnectionInfo) -> String? {
        if !configuration.useRemoteAddress, let forwarded = head.headers.first(name: "x-forwarded-for"),
           let last = forwarded.split(separator: ",").last.map({ String($0.trimmed(" \t")) }), IPAddressBytes.parse(last) != nil {
            return DownstreamConnectionInfo.text(last, 0)
        }
        return connection.remoteAddressText
    }

    /// `%PROTOCOL%` as Envoy prints it: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`.
    static func protocolName(_ version: HTTPVersion) -> String {
        version.major >= 2 ? "HTTP/\(version.major)" : "HTTP/\(version.major).\(version.minor)"
    }

    /// `%HOSTNAME%`: this machine's host name, read once.
    static let hostname = SubstitutionFormatter.Command.systemHostname()

    /// Envoy's shadow authority: `-shadow` appended to the host, before any port.
    static func shadowAuthority(_ authority: String) -> String {
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), authority[authority.index(after: colon)...].allSatisfy(\.isNumber) {
            return "\(authority[..<colon])-shadow\(authority[colon...])"
        }
        return authority + "-shadow"
    }
}
