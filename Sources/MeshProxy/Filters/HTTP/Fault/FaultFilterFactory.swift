public import MeshXDS
public import SwiftProtobuf

/// Envoy's fault injection filter (`envoy.filters.http.fault`): delays and aborts a percentage
/// of requests. A route's `typed_per_filter_config` replaces the filter-level settings, which is
/// how Istio's VirtualService `fault` arrives.
public struct FaultFilterFactory: HTTPFilterFactory {
    public static let typeURL = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"

    /// A validated fault configuration.
    public struct Settings: Sendable, Hashable {
        /// A fixed delay and the share of requests that get it (parts per million).
        public var delay: (duration: Duration, perMillion: UInt32)?
        /// The abort and the share of requests that get it (parts per million).
        public var abort: (abort: Abort, perMillion: UInt32)?

        /// What an abort answers.
        public enum Abort: Sendable, Hashable {
            /// An HTTP status.
            case httpStatus(Int)
            /// A gRPC status in a 200 response.
            case grpcStatus(Int)
        }

        public static func == (lhs: Settings, rhs: Settings) -> Bool {
            lhs.delay?.duration == rhs.delay?.duration && lhs.delay?.perMillion == rhs.delay?.perMillion
                && lhs.abort?.abort == rhs.abort?.abort && lhs.abort?.perMillion == rhs.abort?.perMillion
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(delay?.duration)
            hasher.combine(delay?.perMillion)
            hasher.combine(abort?.abort)
            hasher.combine(abort?.perMillion)
        }

        /// Validates an `HTTPFault` message.
        public init(_ fault: Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault) throws(FaultConfigurationError) {
            if fault.hasDelay {
                guard case .fixedDelay(let fixed) = fault.delay.faultDelaySecifier else {
                    throw FaultConfigurationError("delay: only fixed_delay is supported (header_delay is not)")
                }
                delay = (fixed.swiftDuration, Self.perMillion(fault.delay.percentage))
            }
            if fault.hasAbort {
                switch fault.abort.errorType {
                case .httpStatus(let status):
                    guard (200..<600).contains(status) else { throw FaultConfigurationError("abort.http_status \(status) must be in [200, 600)") }
                    abort = (.httpStatus(Int(status)), Self.perMillion(fault.abort.percentage))
                case .grpcStatus(let status):
                    abort = (.grpcStatus(Int(status)), Self.perMillion(fault.abort.percentage))
                case .headerAbort:
                    throw FaultConfigurationError("abort: header_abort is not supported")
                case nil:
                    throw FaultConfigurationError("abort: one of http_status or grpc_status is required")
                }
            }
            if fault.hasResponseRateLimit { throw FaultConfigurationError("response_rate_limit is not supported") }
            if !fault.headers.isEmpty { throw FaultConfigurationError("headers matchers are not supported") }
            if !fault.downstreamNodes.isEmpty { throw FaultConfigurationError("downstream_nodes is not supported") }
        }

        static func perMillion(_ percent: Envoy_Type_V3_FractionalPercent) -> UInt32 {
            let numerator = UInt64(percent.numerator)
            let scaled: UInt64 = switch percent.denominator {
            case .hundred: numerator * 10_000
            case .tenThousand: numerator * 100
            default: numerator
            }
            return UInt32(min(scaled, 1_000_000))
        }
    }

    let settings: Settings?

    public init(config: Google_Protobuf_Any) throws {
        let fault = try Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault(unpackingAny: config)
        settings = (fault.hasDelay || fault.hasAbort) ? try Settings(fault) : nil
    }

    public func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? {
        try Settings(Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault(unpackingAny: config))
    }

    public func makeFilter() -> any HTTPFilter { FaultFilter(defaults: settings) }

    /// Without a fault of its own (Istio's), the filter injects only what routes configure.
    public func isNeeded(hasPerRouteConfig: Bool) -> Bool { settings != nil || hasPerRouteConfig }
}

/// Why a fault configuration is rejected.
public struct FaultConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
