public import Foundation

/// Istio's `VirtualService` spec: traffic routing rules for a set of hosts.
///
/// Rules are evaluated in order per protocol (`http`, `tls`, `tcp`); the first match wins.
/// A virtual service without `hosts` is a delegate, referenced from another one's `delegate`.
public struct VirtualService: ResourceSpec {
    public static var kind: ResourceKind { .virtualService }

    /// Destination hosts the rules apply to: DNS names, wildcards (`*.example.com`) or IPs.
    public var hosts: [String]?
    /// Gateways (`namespace/name`) and sidecars (`mesh`) the rules apply to; empty means `mesh`.
    public var gateways: [String]?
    /// Ordered HTTP rules (HTTP/1.1, HTTP/2, gRPC).
    public var http: [HTTPRoute]?
    /// Ordered rules for unterminated TLS and HTTPS traffic, routed by SNI.
    public var tls: [TLSRoute]?
    /// Ordered rules for opaque TCP traffic.
    public var tcp: [TCPRoute]?
    /// Namespaces this virtual service is visible to (`.`, `*` or namespace names).
    public var exportTo: [String]?

    public init(
        hosts: [String]? = nil, gateways: [String]? = nil, http: [HTTPRoute]? = nil,
        tls: [TLSRoute]? = nil, tcp: [TCPRoute]? = nil, exportTo: [String]? = nil
    ) {
        self.hosts = hosts
        self.gateways = gateways
        self.http = http
        self.tls = tls
        self.tcp = tcp
        self.exportTo = exportTo
    }
}

extension VirtualService {
    /// One HTTP rule: match conditions and what to do with matching requests.
    ///
    /// The action is one of `route`, `redirect`, `directResponse` or (root virtual services) `delegate`;
    /// the other fields adjust it (rewrite, timeout, retries, fault injection, mirroring, CORS, headers).
    public struct HTTPRoute: Sendable, Hashable, Codable {
        /// A name for debugging and logs; prefixed to match names.
        public var name: String?
        /// Conditions, OR-ed together; an empty list matches everything.
        public var match: [HTTPMatchRequest]?
        /// Weighted destinations to forward to.
        public var route: [HTTPRouteDestination]?
        /// Answer with an HTTP redirect.
        public var redirect: HTTPRedirect?
        /// Answer with a fixed response.
        public var directResponse: HTTPDirectResponse?
        /// Hand matching traffic to another (delegate) virtual service.
        public var delegate: Delegate?
        /// Rewrite the URI or authority before forwarding.
        public var rewrite: HTTPRewrite?
        /// Overall request timeout (at least 1ms).
        public var timeout: ConfigDuration?
        /// Retry policy.
        public var retries: HTTPRetry?
        /// Fault injection (delays and aborts).
        public var fault: HTTPFaultInjection?
        /// Destination to mirror traffic to (alternative to `mirrors`).
        public var mirror: Destination?
        /// Destinations to mirror traffic to, each with its own percentage.
        public var mirrors: [HTTPMirrorPolicy]?
        /// Deprecated integer percentage of traffic mirrored to `mirror`; use `mirrorPercentage`.
        public var mirrorPercent: UInt32?
        /// Percentage of traffic mirrored to `mirror`.
        public var mirrorPercentage: Percent?
        /// Cross-origin resource sharing policy.
        public var corsPolicy: CorsPolicy?
        /// Request and response header manipulation.
        public var headers: Headers?

        public init(
            name: String? = nil, match: [HTTPMatchRequest]? = nil, route: [HTTPRouteDestination]? = nil,
            redirect: HTTPRedirect? = nil, directResponse: HTTPDirectResponse? = nil, delegate: Delegate? = nil,
            rewrite: HTTPRewrite? = nil, timeout: ConfigDuration? = nil, retries: HTTPRetry? = nil,
            fault: HTTPFaultInjection? = nil, mirror: Destination? = nil, mirrors: [HTTPMirrorPolicy]? = nil,
            mirrorPercent: UInt32? = nil, mirrorPercentage: Percent? = nil, corsPolicy: CorsPolicy? = nil,
            headers: Headers? = nil
        ) {
            self.name = name
            self.match = match
            self.route = route
            self.redirect = redirect
            self.directResponse = directResponse
            self.delegate = delegate
            self.rewrite = rewrite
            self.timeout = timeout
            self.retries = retries
            self.fault = fault
            self.mirror = mirror
            self.mirrors = mirrors
            self.mirrorPercent = mirrorPercent
            self.mirrorPercentage = mirrorPercentage
            self.corsPolicy = corsPolicy
            self.headers = headers
        }
    }

    /// A reference to a delegate virtual service by name and namespace.
    public struct Delegate: Sendable, Hashable, Codable {
        /// The delegate virtual service's name.
        public var name: String?
        /// Its namespace; defaults to the referencing virtual service's namespace.
        public var namespace: String?

        public init(name: String? = nil, namespace: String? = nil) {
            self.name = name
            self.namespace = namespace
        }
    }

    /// Header manipulation for requests forwarded upstream and responses returned downstream.
    public struct Headers: Sendable, Hashable, Codable {
        /// Operations on the request before it is forwarded.
        public var request: HeaderOperations?
        /// Operations on the response before it is returned.
        public var response: HeaderOperations?

        public init(request: HeaderOperations? = nil, response: HeaderOperations? = nil) {
            self.request = request
            self.response = response
        }

        /// Headers to overwrite (`set`), append (`add`) and remove (`remove`).
        public struct HeaderOperations: Sendable, Hashable, Codable {
            public var set: [String: String]?
            public var add: [String: String]?
            public var remove: [String]?

            public init(set: [String: String]? = nil, add: [String: String]? = nil, remove: [String]? = nil) {
                self.set = set
                self.add = add
                self.remove = remove
            }
        }
    }

    /// One TLS rule: SNI-based matches and weighted destinations.
    public struct TLSRoute: Sendable, Hashable, Codable {
        /// Conditions, OR-ed together; at least one is required.
        public var match: [TLSMatchAttributes]?
        /// Weighted destinations.
        public var route: [RouteDestination]?

        public init(match: [TLSMatchAttributes]? = nil, route: [RouteDestination]? = nil) {
            self.match = match
            self.route = route
        }
    }

    /// One TCP rule: L4 matches and weighted destinations.
    public struct TCPRoute: Sendable, Hashable, Codable {
        /// Conditions, OR-ed together; an empty list matches everything.
        public var match: [L4MatchAttributes]?
        /// Weighted destinations.
        public var route: [RouteDestination]?

        public init(match: [L4MatchAttributes]? = nil, route: [RouteDestination]? = nil) {
            self.match = match
            self.route = route
        }
    }

    /// Conditions on an HTTP request; all set fields must match (AND).
    public struct HTTPMatchRequest: Sendable, Hashable, Codable {
        /// A name for the match, appended to the route name in logs.
        public var name: String?
        /// Path match (a `prefix` may be empty here).
        public var uri: StringMatch?
        /// URI scheme match (`http`, `https`).
        public var scheme: StringMatch?
        /// HTTP method match.
        public var method: StringMatch?
        /// `:authority`/`Host` match.
        public var authority: StringMatch?
        /// Header matches by lower-case header name; `@request.auth.claims.x` matches JWT claims (gateways only).
        public var headers: [String: StringMatch]?
        /// Destination port.
        public var port: UInt32?
        /// Only for sources (workloads) carrying these labels.
        public var sourceLabels: [String: String]?
        /// Only for these gateways (overrides the virtual service's `gateways`).
        public var gateways: [String]?
        /// Query parameter matches.
        public var queryParams: [String: StringMatch]?
        /// Case-insensitive `uri` matching.
        public var ignoreUriCase: Bool?
        /// Headers that must not match (same syntax as `headers`).
        public var withoutHeaders: [String: StringMatch]?
        /// Only for sources in this namespace.
        public var sourceNamespace: String?
        /// Prefix for Envoy route statistics.
        public var statPrefix: String?

        public init(
            name: String? = nil, uri: StringMatch? = nil, scheme: StringMatch? = nil, method: StringMatch? = nil,
            authority: StringMatch? = nil, headers: [String: StringMatch]? = nil, port: UInt32? = nil,
            sourceLabels: [String: String]? = nil, gateways: [String]? = nil, queryParams: [String: StringMatch]? = nil,
            ignoreUriCase: Bool? = nil, withoutHeaders: [String: StringMatch]? = nil, sourceNamespace: String? = nil,
            statPrefix: String? = nil
        ) {
            self.name = name
            self.uri = uri
            self.scheme = scheme
            self.method = method
            self.authority = authority
            self.headers = headers
            self.port = port
            self.sourceLabels = sourceLabels
            self.gateways = gateways
            self.queryParams = queryParams
            self.ignoreUriCase = ignoreUriCase
            self.withoutHeaders = withoutHeaders
            self.sourceNamespace = sourceNamespace
            self.statPrefix = statPrefix
        }
    }

    /// An HTTP destination with its share of traffic and header manipulation.
    public struct HTTPRouteDestination: Sendable, Hashable, Codable {
        /// Where to send the request (required).
        public var destination: Destination?
        /// Relative share of traffic; weights of a route are normalised.
        public var weight: Int32?
        /// Header manipulation applied when this destination is picked.
        public var headers: Headers?

        public init(destination: Destination? = nil, weight: Int32? = nil, headers: Headers? = nil) {
            self.destination = destination
            self.weight = weight
            self.headers = headers
        }
    }

    /// A TLS or TCP destination with its share of traffic.
    public struct RouteDestination: Sendable, Hashable, Codable {
        /// Where to send the connection (required).
        public var destination: Destination?
        /// Relative share of traffic.
        public var weight: Int32?

        public init(destination: Destination? = nil, weight: Int32? = nil) {
            self.destination = destination
            self.weight = weight
        }
    }

    /// Conditions on a TCP connection.
    public struct L4MatchAttributes: Sendable, Hashable, Codable {
        /// Destination IPs or CIDR blocks.
        public var destinationSubnets: [String]?
        /// Destination port.
        public var port: UInt32?
        /// Source IP or subnet (reserved by Istio; not implemented).
        public var sourceSubnet: String?
        /// Only for sources carrying these labels.
        public var sourceLabels: [String: String]?
        /// Only for these gateways.
        public var gateways: [String]?
        /// Only for sources in this namespace.
        public var sourceNamespace: String?

        public init(
            destinationSubnets: [String]? = nil, port: UInt32? = nil, sourceSubnet: String? = nil,
            sourceLabels: [String: String]? = nil, gateways: [String]? = nil, sourceNamespace: String? = nil
        ) {
            self.destinationSubnets = destinationSubnets
            self.port = port
            self.sourceSubnet = sourceSubnet
            self.sourceLabels = sourceLabels
            self.gateways = gateways
            self.sourceNamespace = sourceNamespace
        }
    }

    /// Conditions on a TLS connection; `sniHosts` is required.
    public struct TLSMatchAttributes: Sendable, Hashable, Codable {
        /// SNI values to match; each must be covered by the virtual service's hosts.
        public var sniHosts: [String]?
        /// Destination IPs or CIDR blocks.
        public var destinationSubnets: [String]?
        /// Destination port.
        public var port: UInt32?
        /// Only for sources carrying these labels.
        public var sourceLabels: [String: String]?
        /// Only for these gateways.
        public var gateways: [String]?
        /// Only for sources in this namespace.
        public var sourceNamespace: String?

        public init(
            sniHosts: [String]? = nil, destinationSubnets: [String]? = nil, port: UInt32? = nil,
            sourceLabels: [String: String]? = nil, gateways: [String]? = nil, sourceNamespace: String? = nil
        ) {
            self.sniHosts = sniHosts
            self.destinationSubnets = destinationSubnets
            self.port = port
            self.sourceLabels = sourceLabels
            self.gateways = gateways
            self.sourceNamespace = sourceNamespace
        }
    }

    /// An HTTP redirect response (3xx) with the new location's parts.
    public struct HTTPRedirect: Sendable, Hashable, Codable {
        /// How the redirect's port is chosen when `port` is not given.
        public enum RedirectPortSelection: String, ConfigEnum {
            case FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT
        }

        /// Replace the whole path.
        public var uri: String?
        /// Replace the authority/host.
        public var authority: String?
        /// Replace the port (oneof with `derivePort`).
        public var port: UInt32?
        /// Derive the port from the scheme or the request (oneof with `port`).
        public var derivePort: RedirectPortSelection?
        /// Replace the scheme (`http` or `https`).
        public var scheme: String?
        /// Status code; 301 when unset.
        public var redirectCode: UInt32?
        /// Replace the matched URI prefix (requires prefix URI matches).
        public var prefixRewrite: String?

        public init(
            uri: String? = nil, authority: String? = nil, port: UInt32? = nil, derivePort: RedirectPortSelection? = nil,
            scheme: String? = nil, redirectCode: UInt32? = nil, prefixRewrite: String? = nil
        ) {
            self.uri = uri
            self.authority = authority
            self.port = port
            self.derivePort = derivePort
            self.scheme = scheme
            self.redirectCode = redirectCode
            self.prefixRewrite = prefixRewrite
        }
    }

    /// A fixed response returned without forwarding.
    public struct HTTPDirectResponse: Sendable, Hashable, Codable {
        /// HTTP status (required).
        public var status: UInt32?
        /// Optional body.
        public var body: HTTPBody?

        public init(status: UInt32? = nil, body: HTTPBody? = nil) {
            self.status = status
            self.body = body
        }
    }

    /// A response body: text (`string`) or base64-encoded `bytes`.
    public struct HTTPBody: Sendable, Hashable, Codable {
        /// Body text (oneof with `bytes`).
        public var string: String?
        /// Binary body, base64 in YAML (oneof with `string`).
        public var bytes: Base64Bytes?

        public init(string: String? = nil, bytes: Base64Bytes? = nil) {
            self.string = string
            self.bytes = bytes
        }
    }

    /// A protobuf `bytes` value, written in YAML/JSON as base64 text.
    public struct Base64Bytes: Sendable, Hashable, Codable {
        public var data: Data

        public init(_ data: Data) { self.data = data }

        public init(from decoder: any Decoder) throws {
            let text = try String(from: decoder)
            guard let data = Data(base64Encoded: text) ?? Data(base64Encoded: Self.padded(text)) else {
                throw decoder.valueError("invalid base64 data \"\(text.prefix(40))\": bytes must be base64-encoded")
            }
            self.data = data
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(data.base64EncodedString())
        }

        /// Accepts URL-safe and unpadded base64 too, as Go's protojson does.
        private static func padded(_ text: String) -> String {
            var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while s.count % 4 != 0 { s += "=" }
            return s
        }
    }

    /// URI and authority rewrites applied before forwarding.
    public struct HTTPRewrite: Sendable, Hashable, Codable {
        /// Replace the matched URI part (prefix for prefix matches, else the whole path).
        public var uri: String?
        /// Replace the authority/host.
        public var authority: String?
        /// Rewrite the path with a regex (oneof with `uri`).
        public var uriRegexRewrite: RegexRewrite?

        public init(uri: String? = nil, authority: String? = nil, uriRegexRewrite: RegexRewrite? = nil) {
            self.uri = uri
            self.authority = authority
            self.uriRegexRewrite = uriRegexRewrite
        }
    }

    /// A regex (RE2) rewrite: `match` is replaced by `rewrite` (which may use `\1` groups).
    public struct RegexRewrite: Sendable, Hashable, Codable {
        public var match: String?
        public var rewrite: String?

        public init(match: String? = nil, rewrite: String? = nil) {
            self.match = match
            self.rewrite = rewrite
        }
    }

    /// Cross-origin resource sharing settings for a route.
    public struct CorsPolicy: Sendable, Hashable, Codable {
        /// What to do with preflight requests that match no allowed origin.
        public enum UnmatchedPreflights: String, ConfigEnum {
            case UNSPECIFIED, FORWARD, IGNORE
        }

        /// Deprecated exact origins; use `allowOrigins`.
        public var allowOrigin: [String]?
        /// Origin patterns that are allowed.
        public var allowOrigins: [StringMatch]?
        /// `Access-Control-Allow-Methods`.
        public var allowMethods: [String]?
        /// `Access-Control-Allow-Headers`.
        public var allowHeaders: [String]?
        /// `Access-Control-Expose-Headers`.
        public var exposeHeaders: [String]?
        /// `Access-Control-Max-Age` (whole seconds).
        public var maxAge: ConfigDuration?
        /// `Access-Control-Allow-Credentials`.
        public var allowCredentials: Bool?
        public var unmatchedPreflights: UnmatchedPreflights?

        public init(
            allowOrigin: [String]? = nil, allowOrigins: [StringMatch]? = nil, allowMethods: [String]? = nil,
            allowHeaders: [String]? = nil, exposeHeaders: [String]? = nil, maxAge: ConfigDuration? = nil,
            allowCredentials: Bool? = nil, unmatchedPreflights: UnmatchedPreflights? = nil
        ) {
            self.allowOrigin = allowOrigin
            self.allowOrigins = allowOrigins
            self.allowMethods = allowMethods
            self.allowHeaders = allowHeaders
            self.exposeHeaders = exposeHeaders
            self.maxAge = maxAge
            self.allowCredentials = allowCredentials
            self.unmatchedPreflights = unmatchedPreflights
        }
    }

    /// Faults injected into matching requests: a delay, an abort, or both.
    public struct HTTPFaultInjection: Sendable, Hashable, Codable {
        public var delay: Delay?
        public var abort: Abort?

        public init(delay: Delay? = nil, abort: Abort? = nil) {
            self.delay = delay
            self.abort = abort
        }

        /// Delays a share of requests before forwarding them.
        public struct Delay: Sendable, Hashable, Codable {
            /// Deprecated integer percentage; use `percentage`.
            public var percent: Int32?
            /// Fixed delay (oneof with `exponentialDelay`), at least 1ms.
            public var fixedDelay: ConfigDuration?
            /// Exponential delay; defined by the API but not supported by Istio.
            public var exponentialDelay: ConfigDuration?
            /// Share of requests delayed.
            public var percentage: Percent?

            public init(percent: Int32? = nil, fixedDelay: ConfigDuration? = nil, exponentialDelay: ConfigDuration? = nil, percentage: Percent? = nil) {
                self.percent = percent
                self.fixedDelay = fixedDelay
                self.exponentialDelay = exponentialDelay
                self.percentage = percentage
            }
        }

        /// Aborts a share of requests with an error.
        public struct Abort: Sendable, Hashable, Codable {
            /// HTTP status to return (oneof with `grpcStatus` and `http2Error`).
            public var httpStatus: Int32?
            /// gRPC status name to return, e.g. `UNAVAILABLE`.
            public var grpcStatus: String?
            /// HTTP/2 error; defined by the API but not supported by Istio.
            public var http2Error: String?
            /// Share of requests aborted.
            public var percentage: Percent?

            public init(httpStatus: Int32? = nil, grpcStatus: String? = nil, http2Error: String? = nil, percentage: Percent? = nil) {
                self.httpStatus = httpStatus
                self.grpcStatus = grpcStatus
                self.http2Error = http2Error
                self.percentage = percentage
            }
        }
    }

    /// A mirror destination with the share of traffic copied to it.
    public struct HTTPMirrorPolicy: Sendable, Hashable, Codable {
        /// Where mirrored requests go (required).
        public var destination: Destination?
        /// Share of traffic mirrored; all traffic when unset.
        public var percentage: Percent?

        public init(destination: Destination? = nil, percentage: Percent? = nil) {
            self.destination = destination
            self.percentage = percentage
        }
    }
}
