public import MeshCore

/// Istio's `TranslateFault`: a VirtualService `fault` to the per-route config of Envoy's
/// `envoy.filters.http.fault` filter.
public enum FaultInjectionConverter {
    /// The HTTP filter name the per-route config is keyed by.
    public static let filterName = "envoy.filters.http.fault"

    /// gRPC status names (as Istio accepts them) and their codes.
    public static let grpcStatusCodes: [String: UInt32] = [
        "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
        "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
        "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14,
        "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
    ]

    /// Converts a fault; nil when neither a delay nor an abort can be expressed.
    ///
    /// A delay needs `fixedDelay` (Istio does not support exponential delays) and applies to
    /// `percentage` (parts per million), else the deprecated integer `percent`, else to no request.
    /// An abort returns `httpStatus` or `grpcStatus` (HTTP/2 errors are not supported) to
    /// `percentage` of requests, and to none when it is unset.
    public static func convert(_ fault: VirtualService.HTTPFaultInjection?) -> Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault? {
        guard let fault else { return nil }
        var out = Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault()
        var any = false
        if let delay = fault.delay, let fixed = delay.fixedDelay {
            out.delay = .with {
                $0.fixedDelay = Proto.duration(fixed)
                if let percentage = delay.percentage {
                    $0.percentage = PercentConverter.fractional(percentage)
                } else {
                    $0.percentage = PercentConverter.fractional(integer: delay.percent ?? 0)
                }
            }
            any = true
        }
        if let abort = fault.abort {
            var converted = Envoy_Extensions_Filters_Http_Fault_V3_FaultAbort()
            var kind = false
            if let status = abort.httpStatus {
                converted.httpStatus = UInt32(clamping: status)
                kind = true
            } else if let name = abort.grpcStatus, let code = grpcStatusCodes[name.uppercased()] {
                converted.grpcStatus = code
                kind = true
            }
            if kind {
                if let percentage = abort.percentage { converted.percentage = PercentConverter.fractional(percentage) }
                out.abort = converted
                any = true
            }
        }
        return any ? out : nil
    }
}

/// Istio's percentage conversions to Envoy's `FractionalPercent`.
public enum PercentConverter {
    /// A `Percent` (0-100, fractional) as parts per million.
    public static func fractional(_ percent: Percent) -> Envoy_Type_V3_FractionalPercent {
        .with {
            $0.numerator = UInt32(max(0, min(100, percent.value ?? 0)) * 10_000)
            $0.denominator = .million
        }
    }

    /// A whole-number percentage as parts per hundred.
    public static func fractional(integer: Int32) -> Envoy_Type_V3_FractionalPercent {
        .with {
            $0.numerator = UInt32(max(0, min(100, integer)))
            $0.denominator = .hundred
        }
    }
}
