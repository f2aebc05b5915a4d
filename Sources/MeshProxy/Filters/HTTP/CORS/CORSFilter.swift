import NIOCore
import NIOHTTP1

/// Applies a route's CORS policy to one request.
final class CORSFilter: HTTPFilter {
    private var origin: String?
    private var policy: CORSPolicy?

    func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        guard let policy = context.perRouteConfig as? CORSPolicy,
              policy.enabledPerMillion >= 1_000_000 || context.randomValue() % 1_000_000 < UInt64(policy.enabledPerMillion),
              let origin = head.headers.first(name: "origin"), !origin.isEmpty else { return .continue }
        let allowed = policy.allows(origin: origin)
        let isPreflight = head.method == .OPTIONS && head.headers.contains(name: "access-control-request-method")
        if isPreflight {
            guard allowed else {
                if policy.forwardNotMatchingPreflights { return .continue }
                context.sendLocalReply(HTTPLocalReply(status: .ok, details: "cors_preflight_not_matching"))
                return .stopIteration
            }
            var headers = HTTPHeaders()
            headers.add(name: "access-control-allow-origin", value: origin)
            if policy.allowCredentials { headers.add(name: "access-control-allow-credentials", value: "true") }
            if !policy.allowMethods.isEmpty { headers.add(name: "access-control-allow-methods", value: policy.allowMethods) }
            if !policy.allowHeaders.isEmpty { headers.add(name: "access-control-allow-headers", value: policy.allowHeaders) }
            if !policy.maxAge.isEmpty { headers.add(name: "access-control-max-age", value: policy.maxAge) }
            context.sendLocalReply(HTTPLocalReply(status: .ok, headers: headers, details: "cors_response"))
            return .stopIteration
        }
        if allowed {
            self.origin = origin
            self.policy = policy
        }
        return .continue
    }

    func encodeHeaders(_ head: inout HTTPResponseHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        guard let origin, let policy else { return .continue }
        head.headers.replaceOrAdd(name: "access-control-allow-origin", value: origin)
        if policy.allowCredentials { head.headers.replaceOrAdd(name: "access-control-allow-credentials", value: "true") }
        if !policy.exposeHeaders.isEmpty { head.headers.replaceOrAdd(name: "access-control-expose-headers", value: policy.exposeHeaders) }
        return .continue
    }
}
