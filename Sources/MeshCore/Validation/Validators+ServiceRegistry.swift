/// Rules shared by DestinationRule, ServiceEntry, WorkloadEntry and WorkloadGroup validation.
///
/// They follow istio/istio `pkg/config/validation` (`agent.ValidateFQDN`, `ValidateWildcardDomain`,
/// `ValidateDuration`, `validateExportTo`, `ValidatePortName`, `ValidateProtocol`, `ValidateUnixAddress`,
/// `validateLocalities`) rather than plain Kubernetes rules, where they differ.
extension Validators {
    // MARK: Host names

    /// Why `host` holds a wildcard that is not a whole leading `*.` label (Istio's `ValidatePartialWildCard`), or nil.
    public static func partialWildcardProblem(forHost host: String) -> String? {
        if host.contains("*"), host.count != 1, !host.hasPrefix("*.") {
            return "partial wildcard \"\(host)\" not allowed"
        }
        return nil
    }

    // MARK: Durations


    // MARK: Visibility

    /// Istio's `validateExportTo`: entries are `.`, `*`, a namespace, or `~` (ServiceEntry only); no duplicates,
    /// `*` and `~` stand alone, and a DestinationRule with a workload selector stays in its own namespace.
    public static func exportTo(
        _ exportTo: [String]?, configNamespace namespace: String, isServiceEntry: Bool,
        isDestinationRuleWithSelector: Bool, at path: FieldPath
    ) -> ValidationResult {
        var result = ValidationResult()
        guard let exportTo, !exportTo.isEmpty else { return result }
        var seen = Set<String>()
        for (i, entry) in exportTo.enumerated() {
            let key = entry == "." ? namespace : entry
            if seen.contains(key) {
                if key != entry {
                    result.error(path[i], "duplicate entries in exportTo: . and current namespace \(namespace)")
                } else {
                    result.error(path[i], "duplicate entries in exportTo for entry \(entry)")
                }
            } else if isServiceEntry && entry == "~" {
                seen.insert(key)
            } else if key == "~" {
                result.error(path[i], "exportTo ~ (none) is not allowed for Istio configuration objects")
            } else if key != "*" && key != "." && !isIstioDNSLabel(key) {
                result.error(path[i], "invalid exportTo entry \"\(entry)\": only ., *, or a valid DNS 1123 label is allowed")
            } else {
                seen.insert(key)
            }
        }
        if isDestinationRuleWithSelector && !seen.isEmpty {
            if seen.contains(namespace) {
                if seen.count > 1 {
                    result.error(path, "destination rule with workload selector cannot have multiple entries in exportTo")
                }
            } else {
                result.error(path, "destination rule with workload selector cannot have exportTo beyond current namespace")
            }
        }
        if seen.contains("*"), exportTo.count > 1 {
            result.error(path, "cannot have both public (*) and non-public exportTo values for a resource")
        }
        if seen.contains("~"), exportTo.count > 1 {
            result.error(path, "cannot export service entry to no one (~) and someone")
        }
        return result
    }

    // MARK: Ports and protocols

    /// A service port protocol as Istio parses it (`protocol.Parse`, case-insensitive).
    public enum ServicePortProtocol: String, Sendable, CaseIterable {
        case TCP, UDP, GRPC, HTTP, HTTP2, HTTPS, TLS, Mongo, Redis, MySQL
        case GRPCWeb = "GRPC-Web"
        case HTTPProxy = "HTTP_PROXY"

        /// Parses a protocol name; nil for unsupported names (and for the empty string, which means sniffing).
        public init?(parsing text: String) {
            let lower = text.lowercased()
            guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == lower }) else { return nil }
            self = match
        }

        /// HTTP/1.1, HTTP/2, gRPC and HTTP proxy ports.
        public var isHTTP: Bool { [.HTTP, .HTTP2, .HTTPProxy, .GRPC, .GRPCWeb].contains(self) }
        /// Ports carrying opaque TCP (including TLS and the TCP-based protocols).
        public var isTCP: Bool { [.TCP, .HTTPS, .TLS, .Mongo, .Redis, .MySQL].contains(self) }
        /// HTTPS and TLS ports.
        public var isTLS: Bool { self == .HTTPS || self == .TLS }
    }

    /// Istio's `ValidatePortName`: a DNS-1123 label.
    public static func servicePortName(_ name: String?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let name = name ?? ""
        if !isIstioDNSLabel(name) {
            result.error(path, name.isEmpty ? "port name is required" : "invalid port name \"\(name)\": must be a DNS-1123 label (letters, digits and '-', at most 63)")
        }
        return result
    }

    /// Istio's `ValidateProtocol`: empty (sniffed) or a known protocol name.
    public static func servicePortProtocol(_ text: String?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if let text, !text.isEmpty, ServicePortProtocol(parsing: text) == nil {
            result.error(path, "unsupported protocol: \(text); expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, HTTP_PROXY, TCP, TLS, UDP, Mongo, Redis, MySQL")
        }
        return result
    }

    // MARK: Addresses

    /// Istio's `ValidateUnixAddress` for the part after `unix://`: an absolute file path or an `@` abstract socket.
    public static func unixAddressProblem(forSocket address: String) -> String? {
        if address.isEmpty { return "unix address must not be empty" }
        if address.hasPrefix("@") { return nil }
        if !address.hasPrefix("/") || address.hasSuffix("/") {
            return "\(address) is not an absolute path to a file"
        }
        return nil
    }

    /// Istio's `ValidateIPSubnet`: an IP address, or a CIDR block when the text has one `/`.
    public static func ipSubnetProblem(forAddress subnet: String) -> String? {
        if subnet.filter({ $0 == "/" }).count == 1 {
            return CIDRRange(subnet) == nil ? "\(subnet) is not a valid CIDR block" : nil
        }
        return IPAddress(subnet) == nil ? "\(subnet) is not a valid IP" : nil
    }

    // MARK: Localities

    /// Istio's `validateLocalities`: at most one trailing `*`, no empty segments, and no locality
    /// covered by an earlier one.
    public static func localitiesProblem(_ localities: [String]) -> String? {
        // region -> zone -> subzone; "*" marks "everything below".
        var map: [String: [String: Set<String>]] = [:]
        for locality in localities {
            let stars = locality.filter { $0 == "*" }.count
            if stars > 0, stars > 1 || !locality.hasSuffix("*") {
                return "locality \(locality) wildcard '*' number can not exceed 1 and must be in the end"
            }
            if map["*"] != nil {
                return "locality \(locality) overlap with previous specified ones"
            }
            let items = locality.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if items.contains(where: \.isEmpty) {
                return "locality \(locality) must not contain empty region/zone/subzone info"
            }
            let region = items[0]
            switch items.count {
            case 1:
                if map[region] != nil { return "locality \(locality) overlap with previous specified ones" }
                map[region] = ["*": ["*"]]
            case 2:
                let zone = items[1]
                if let zones = map[region] {
                    if zones["*"] != nil || zones[zone] != nil { return "locality \(locality) overlap with previous specified ones" }
                    map[region]![zone] = ["*"]
                } else {
                    map[region] = [zone: ["*"]]
                }
            default:
                let zone = items[1], subzone = items[2]
                if let zones = map[region] {
                    if zones["*"] != nil { return "locality \(locality) overlap with previous specified ones" }
                    if let subzones = zones[zone] {
                        if subzones.contains("*") || subzones.contains(subzone) {
                            return "locality \(locality) overlap with previous specified ones"
                        }
                        map[region]![zone]!.insert(subzone)
                    } else {
                        map[region]![zone] = [subzone]
                    }
                } else {
                    map[region] = [zone: [subzone]]
                }
            }
        }
        return nil
    }

    // MARK: Numbers

    /// Envoy's primality test, used for Maglev table sizes.
    public static func isPrime(_ x: UInt64) -> Bool {
        if x != 0 && x < 4 { return true }
        if x & 1 == 0 { return false }
        var factor: UInt64 = 3
        while factor * factor <= x {
            if x % factor == 0 { return false }
            factor += 2
        }
        return true
    }
}
