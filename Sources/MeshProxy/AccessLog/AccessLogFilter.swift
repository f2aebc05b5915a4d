import MeshXDS
import NIOHTTP1

/// Envoy's access log filters (`envoy.config.accesslog.v3.AccessLogFilter`): which entries a
/// logger writes. Runtime, traceable, gRPC status, metadata and extension filters are not
/// implemented and NACK.
indirect enum AccessLogFilter: Sendable {
    case statusCode(Comparison)
    case duration(Comparison)
    case notHealthCheck
    case responseFlags(ResponseFlags?)
    case header(HeaderMatcher)
    case and([AccessLogFilter])
    case or([AccessLogFilter])

    /// `op` against a runtime value; this proxy has no runtime, so the default value is used.
    struct Comparison: Sendable {
        var op: Envoy_Config_Accesslog_V3_ComparisonFilter.Op
        var value: Int64

        func matches(_ actual: Int64) -> Bool {
            switch op {
            case .eq: actual == value
            case .ge: actual >= value
            case .le: actual <= value
            case .ne: actual != value
            case .UNRECOGNIZED: false
            }
        }
    }

    init(_ proto: Envoy_Config_Accesslog_V3_AccessLogFilter, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        switch proto.filterSpecifier {
        case .statusCodeFilter(let filter):
            self = .statusCode(try Self.comparison(filter.comparison, field: "\(field).status_code_filter.comparison", context: context))
        case .durationFilter(let filter):
            self = .duration(try Self.comparison(filter.comparison, field: "\(field).duration_filter.comparison", context: context))
        case .notHealthCheckFilter:
            self = .notHealthCheck
        case .responseFlagFilter(let filter):
            if filter.flags.isEmpty {
                self = .responseFlags(nil)
            } else {
                var flags: ResponseFlags = []
                for (index, name) in filter.flags.enumerated() {
                    guard ResponseFlags.envoyShortNames.contains(name) else {
                        throw context.error(.invalid, "\(field).response_flag_filter.flags[\(index)]", "\"\(name)\" is not an Envoy response flag")
                    }
                    // A flag this proxy never sets never matches.
                    if let flag = ResponseFlags(shortName: name) { flags.insert(flag) }
                }
                self = .responseFlags(flags)
            }
        case .headerFilter(let filter):
            do {
                self = .header(try HeaderMatcher(filter.header, "\(field).header_filter.header", RouteConfigurationContext(resourceName: context.resourceName)))
            } catch {
                throw context.error(error.code, error.field, error.message)
            }
        case .andFilter(let filter):
            var filters: [AccessLogFilter] = []
            for (index, inner) in filter.filters.enumerated() {
                filters.append(try AccessLogFilter(inner, field: "\(field).and_filter.filters[\(index)]", context: context))
            }
            guard filters.count >= 2 else { throw context.error(.invalid, "\(field).and_filter.filters", "needs at least 2 filters") }
            self = .and(filters)
        case .orFilter(let filter):
            var filters: [AccessLogFilter] = []
            for (index, inner) in filter.filters.enumerated() {
                filters.append(try AccessLogFilter(inner, field: "\(field).or_filter.filters[\(index)]", context: context))
            }
            guard filters.count >= 2 else { throw context.error(.invalid, "\(field).or_filter.filters", "needs at least 2 filters") }
            self = .or(filters)
        case .runtimeFilter:
            throw context.error(.unsupported, "\(field).runtime_filter", "runtime access log filters are not supported (the Swift proxy has no runtime)")
        case .traceableFilter:
            throw context.error(.unsupported, "\(field).traceable_filter", "traceable access log filters are not supported (no tracing)")
        case .grpcStatusFilter:
            throw context.error(.unsupported, "\(field).grpc_status_filter", "gRPC status access log filters are not supported")
        case .extensionFilter(let filter):
            throw context.error(.unsupported, "\(field).extension_filter", "access log extension filter \"\(filter.name)\" is not supported")
        case .metadataFilter:
            throw context.error(.unsupported, "\(field).metadata_filter", "metadata access log filters are not supported")
        case nil:
            throw context.error(.invalid, field, "an access log filter needs a filter_specifier")
        }
    }

    private static func comparison(_ proto: Envoy_Config_Accesslog_V3_ComparisonFilter, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> Comparison {
        guard proto.hasValue else { throw context.error(.invalid, "\(field).value", "a comparison needs a value") }
        if case .UNRECOGNIZED(let raw) = proto.op { throw context.error(.invalid, "\(field).op", "unknown comparison \(raw)") }
        return Comparison(op: proto.op, value: Int64(proto.value.defaultValue))
    }

    /// Whether `entry` is logged.
    func matches(_ entry: AccessLogEntry) -> Bool {
        switch self {
        case .statusCode(let comparison): return comparison.matches(Int64(entry.responseCode))
        case .duration(let comparison): return comparison.matches(entry.durationNanoseconds / 1_000_000)
        // The proxy runs no health check filter: no request is a health check.
        case .notHealthCheck: return true
        case .responseFlags(let flags):
            guard let flags else { return !entry.responseFlags.isEmpty }
            return !entry.responseFlags.intersection(flags).isEmpty
        case .header(let matcher):
            guard let request = entry.request else { return matcher.matches(HTTPHeaders()) }
            return matcher.matches(request.headers)
        case .and(let filters): return filters.allSatisfy { $0.matches(entry) }
        case .or(let filters): return filters.contains { $0.matches(entry) }
        }
    }
}

extension ResponseFlags {
    /// Every short name Envoy's `response_flag_filter` accepts.
    static let envoyShortNames: Set<String> = [
        "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI",
        "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR",
    ]

    /// The flag with Envoy's short name (`UH`, `NR`, ...), nil for names this proxy never sets.
    init?(shortName: String) {
        guard let flag = Self.names.first(where: { $0.1 == shortName })?.0 else { return nil }
        self = flag
    }
}
