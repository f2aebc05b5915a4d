import Foundation

/// Value checks for the annotations Istio's sidecar injector validates (`inject.AnnotationValidation`).
///
/// Problems are worded as Istio words them, Go parser errors included, since they end up in
/// `InvalidAnnotation` messages users search for.
extension IstioAnnotation {
    /// Why `value` is not acceptable for the annotation `name`; nil when it is, or when Istio does
    /// not check that annotation's value.
    public static func valueProblem(_ name: String, value: String) -> String? {
        switch name {
        case "sidecar.istio.io/interceptionMode":
            return ["REDIRECT", "TPROXY", "NONE"].contains(value) ? nil : "interceptionMode invalid, use REDIRECT,TPROXY,NONE: \(value)"
        case "status.sidecar.istio.io/port":
            // Istio words this one after excludeInboundPorts.
            return portProblem(value).map { "excludeInboundPorts invalid: \($0)" }
        case "readiness.status.sidecar.istio.io/initialDelaySeconds",
             "readiness.status.sidecar.istio.io/periodSeconds",
             "readiness.status.sidecar.istio.io/failureThreshold":
            return unsignedProblem(value, max: UInt64(UInt32.max))
        case "traffic.sidecar.istio.io/includeOutboundIPRanges":
            return value == "*" ? nil : cidrListProblem(value).map { "includeIPRanges invalid: \($0)" }
        case "traffic.sidecar.istio.io/excludeOutboundIPRanges":
            return cidrListProblem(value).map { "excludeIPRanges invalid: \($0)" }
        case "traffic.sidecar.istio.io/includeInboundPorts":
            return value == "*" ? nil : portListProblem(value).map { "includeInboundPorts invalid: \($0)" }
        case "traffic.sidecar.istio.io/excludeInboundPorts":
            return portListProblem(value).map { "excludeInboundPorts invalid: \($0)" }
        case "traffic.sidecar.istio.io/excludeOutboundPorts":
            return portListProblem(value).map { "excludeOutboundPorts invalid: \($0)" }
        case "traffic.sidecar.istio.io/excludeInterfaces",
             "traffic.sidecar.istio.io/kubevirtInterfaces",
             "istio.io/reroute-virtual-interfaces":
            return interfaceListProblem(value)
        case "prometheus.istio.io/merge-metrics":
            return Validators.isGoBool(value) ? nil : "strconv.ParseBool: parsing \(goQuote(value)): invalid syntax"
        case "proxy.istio.io/config":
            return proxyConfigProblem(value)
        case "sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory",
             "sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit":
            if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return "value contains control characters"
            }
            return quantityProblem(value)
        default:
            return nil
        }
    }

    // MARK: Numbers and lists

    /// Go's `strconv.ParseUint(value, 10, bits)` errors.
    static func unsignedProblem(_ value: String, max: UInt64) -> String? {
        guard !value.isEmpty, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return "strconv.ParseUint: parsing \(goQuote(value)): invalid syntax"
        }
        guard let number = UInt64(value), number <= max else {
            return "strconv.ParseUint: parsing \(goQuote(value)): value out of range"
        }
        return nil
    }

    static func portProblem(_ text: Substring) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let problem = unsignedProblem(trimmed, max: UInt64(UInt16.max)) else { return nil }
        return "failed parsing port '\(text)': \(problem)"
    }

    static func portProblem(_ text: String) -> String? { portProblem(Substring(text)) }

    static func portListProblem(_ value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        for port in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            if let problem = portProblem(port) { return "failed parsing port '\(port)': \(problem)" }
        }
        return nil
    }

    /// Go's `netip.ParsePrefix` over a comma-separated list (no spaces allowed).
    static func cidrListProblem(_ value: String) -> String? {
        guard !value.isEmpty else { return nil }
        for cidr in value.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let quoted = "netip.ParsePrefix(\(goQuote(cidr)))"
            let parts = cidr.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var problem: String?
            if parts.count < 2 {
                problem = "\(quoted): no '/'"
            } else if let address = IPAddress(String(parts[0])), !parts[0].contains("%") {
                let bits = parts[1]
                let valid = !bits.isEmpty && bits.allSatisfy { $0.isASCII && $0.isNumber } && !(bits.count > 1 && bits.first == "0")
                if !valid || Int(bits).map({ $0 > address.bitCount }) ?? true {
                    problem = "\(quoted): bad bits after slash: \(goQuote(String(bits)))"
                }
            } else {
                problem = "\(quoted): ParseAddr(\(goQuote(String(parts[0])))): unable to parse IP"
            }
            if let problem { return "failed parsing cidr '\(cidr)': \(problem)" }
        }
        return nil
    }

    /// Istio's `ValidateInterfaceNames`.
    static func interfaceListProblem(_ value: String) -> String? {
        guard !value.isEmpty else { return nil }
        for raw in value.split(separator: ",", omittingEmptySubsequences: false) {
            let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if name.isEmpty { return "empty interface name" }
            if name.count > 15 { return "interface name \(goQuote(name)) too long (max 15 chars)" }
            let first = name.unicodeScalars.first!
            let validFirst = first.isASCII && first.properties.isAlphabetic
            let validRest = name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }
            if !validFirst || !validRest { return "interface name \(goQuote(name)) contains invalid characters" }
        }
        return nil
    }

    /// Kubernetes `resource.ParseQuantity`.
    static func quantityProblem(_ value: String) -> String? {
        let formatWrong = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        var rest = Substring(value)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let number = rest.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        guard number.contains(where: \.isNumber), number.filter({ $0 == "." }).count <= 1 else { return formatWrong }
        rest = rest.dropFirst(number.count)
        let letters = rest.prefix { "eEinumkKMGTP".contains($0) }
        var tail = rest.dropFirst(letters.count)
        if tail.first == "+" || tail.first == "-" { tail = tail.dropFirst() }
        guard tail.allSatisfy({ $0.isASCII && $0.isNumber }) else { return formatWrong }
        let suffix = String(rest)
        let named: Set<String> = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"]
        if named.contains(suffix) { return nil }
        // A decimal exponent: e or E, an optional sign, digits.
        var exponent = suffix.dropFirst()
        if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
        if (suffix.first == "e" || suffix.first == "E"), !exponent.isEmpty, exponent.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return nil
        }
        return "unable to parse quantity's suffix"
    }

    // MARK: ProxyConfig

    /// The value must be a ProxyConfig in YAML or JSON that, applied over Istio's proxy defaults, validates.
    static func proxyConfigProblem(_ value: String) -> String? {
        let user: MeshConfig.ProxyConfig
        do {
            user = try ConfigDecoder.decodeValue(MeshConfig.ProxyConfig.self, from: value, file: "proxy.istio.io/config")
        } catch {
            let details = error.diagnostics.map { $0.path.components.isEmpty ? $0.message : "\($0.path): \($0.message)" }
            return "failed to convert to apply proxy config: \(details.joined(separator: "; "))"
        }
        var overrides = MeshConfig()
        overrides.defaultConfig = user
        let effective = MeshConfig.defaults.applying(overrides).defaultConfig ?? user
        let errors = effective.validate(at: FieldPath()).errors
        return errors.isEmpty ? nil : errors.map(\.message).joined(separator: "; ")
    }

    /// Go's `%q` for plain text.
    static func goQuote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
