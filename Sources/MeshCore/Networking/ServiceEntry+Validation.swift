extension ServiceEntry {
    /// Label that opts a ServiceEntry out of automatic VIP allocation when set to `false`.
    static let autoAllocateLabel = "networking.istio.io/enable-autoallocate-ip"
    /// Label naming the waypoint a resource uses.
    static let useWaypointLabel = "istio.io/use-waypoint"

    /// Istio's `ValidateServiceEntry` plus the CRD's limits.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec: FieldPath = "spec"
        var result = ValidationResult()
        let hosts = hosts ?? []
        let addresses = addresses ?? []
        let ports = ports ?? []
        let endpoints = endpoints ?? []
        let resolution = resolution ?? .NONE
        let labels = context.meta.labels

        // Workload selector (networking form: `labels`).
        if let workloadSelector {
            let selectorLabels = workloadSelector.labels ?? [:]
            for (key, value) in selectorLabels.sorted(by: { $0.key < $1.key }) {
                let p = (spec / "workloadSelector" / "labels").key(key)
                if key.isEmpty {
                    result.error(spec / "workloadSelector" / "labels", "empty key is not supported in selector")
                }
                if key.contains("*") || value.contains("*") {
                    result.error(p, "wildcard is not supported in selector: \"\(key)=\(value)\"")
                }
            }
            result.merge(Validators.labels(selectorLabels.filter { !$0.key.isEmpty && !$0.key.contains("*") && !$0.value.contains("*") }, at: spec / "workloadSelector" / "labels"))
            if selectorLabels.isEmpty {
                result.warning(spec / "workloadSelector", "workload selector specified without labels; the service entry will be applied to all workloads in the namespace")
            }
            if self.endpoints != nil {
                result.error(spec, "only one of workloadSelector or endpoints is allowed in a service entry")
            }
        }

        // Hosts.
        if hosts.isEmpty {
            result.error(spec / "hosts", "service entry must have at least one host")
        } else if hosts.count > 256 {
            result.error(spec / "hosts", "too many hosts (at most 256)")
        }
        for (i, host) in hosts.enumerated() {
            let p = (spec / "hosts")[i]
            if host == "*" {
                result.error(p, "invalid host *: a service entry host cannot be a full wildcard")
                continue
            }
            if let problem = Validators.istioWildcardDomainProblem(host) {
                result.error(p, problem)
            }
            if resolution != .DYNAMIC_DNS, let problem = Validators.partialWildcardProblem(forHost: host) {
                result.warning(p, problem)
            }
        }

        // Addresses.
        if addresses.count > 256 {
            result.error(spec / "addresses", "too many addresses (at most 256)")
        }
        var cidrFound = false
        for (i, address) in addresses.enumerated() {
            cidrFound = cidrFound || address.contains("/")
            if let problem = Validators.ipSubnetProblem(forAddress: address) {
                result.error((spec / "addresses")[i], problem)
            }
        }
        if cidrFound, resolution != .NONE, resolution != .STATIC {
            result.error(spec / "addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types")
        }

        // Ports.
        if ports.count > 256 {
            result.error(spec / "ports", "too many ports (at most 256)")
        }
        let autoAllocation = resolution != .NONE && labels[Self.autoAllocateLabel]?.lowercased() != "false" && addresses.isEmpty
        var portNames = Set<String>()
        var portNumbers = Set<UInt32>()
        for (i, port) in ports.enumerated() {
            let p = (spec / "ports")[i]
            let name = port.name ?? ""
            if !portNames.insert(name).inserted {
                result.error(p / "name", "service entry port name \"\(name)\" already defined")
            }
            if let number = port.number, !portNumbers.insert(number).inserted {
                result.error(p / "number", "service entry port \(number) already defined")
            }
            if let target = port.targetPort, target != 0 {
                result.merge(Validators.port(target, at: p / "targetPort"))
            }
            if addresses.isEmpty, !autoAllocation, (port.protocol ?? "").isEmpty || port.protocol == "TCP" {
                result.warning(p, "addresses are required for ports serving TCP (or unset) protocol when IP autoallocation is not enabled")
            }
            result.merge(Validators.servicePortName(port.name, at: p / "name"))
            result.merge(Validators.servicePortProtocol(port.protocol, at: p / "protocol"))
            result.merge(Validators.port(port.number ?? 0, at: p / "number"))
        }

        // Resolution-specific rules.
        switch resolution {
        case .NONE:
            if !endpoints.isEmpty {
                result.error(spec / "endpoints", "no endpoints should be provided for resolution type NONE")
            }
            if workloadSelector != nil {
                result.warning(spec / "workloadSelector", "workloadSelector should not be set when resolution mode is NONE")
            }
        case .STATIC:
            for (i, endpoint) in endpoints.enumerated() {
                result.merge(endpoint.validate(at: (spec / "endpoints")[i], servicePorts: portNames, allowFQDNAddresses: false))
            }
        case .DNS, .DNS_ROUND_ROBIN:
            if endpoints.isEmpty {
                for (i, host) in hosts.enumerated() {
                    if let problem = Validators.istioFQDNProblem(host) {
                        result.error((spec / "hosts")[i], "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode \(resolution.rawValue): \(problem)")
                        break
                    }
                }
            }
            if resolution == .DNS_ROUND_ROBIN, endpoints.count > 1 {
                result.error(spec / "endpoints", "there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN")
            }
            for (i, endpoint) in endpoints.enumerated() {
                let p = (spec / "endpoints")[i]
                let address = endpoint.address ?? ""
                if IPAddress(address) == nil, Validators.istioFQDNProblem(address) != nil {
                    result.error(p / "address", "endpoint address \"\(address)\" is not a valid FQDN or an IP address")
                }
                result.merge(Validators.labels(endpoint.labels ?? [:], at: p / "labels"))
                for (name, port) in (endpoint.ports ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let portPath = (p / "ports").key(name)
                    if !portNames.contains(name) {
                        result.error(portPath, "endpoint port \(port) (\(name)) is not defined by the service entry")
                    }
                    result.merge(Validators.servicePortName(name, at: portPath))
                    result.merge(Validators.port(port, at: portPath))
                }
            }
            if !addresses.isEmpty, hosts.count > 1,
               let i = ports.firstIndex(where: { ServicePortProtocol(parsing: $0.protocol ?? "")?.isTCP == true }) {
                result.warning((spec / "ports")[i], "service entry can not have more than one host specified simultaneously with address and tcp port")
            }
        case .DYNAMIC_DNS:
            for (i, host) in hosts.enumerated() where !host.hasPrefix("*") {
                result.error((spec / "hosts")[i], "host must be wildcarded for resolution mode DYNAMIC_DNS")
            }
            if !addresses.isEmpty {
                result.error(spec / "addresses", "addresses cannot be set for resolution type DYNAMIC_DNS; HTTP route domains are generated from hosts only")
            }
            if !endpoints.isEmpty {
                result.error(spec / "endpoints", "endpoints cannot be set for resolution type DYNAMIC_DNS; the destination IP address is determined from the hosts")
            }
            for (i, port) in ports.enumerated() {
                let proto = ServicePortProtocol(parsing: port.protocol ?? "")
                if ![.HTTP, .TLS, .GRPC, .HTTP2].contains(proto) {
                    result.error((spec / "ports")[i] / "protocol", "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS")
                }
            }
            if location == .MESH_INTERNAL, let waypoint = labels[Self.useWaypointLabel], !waypoint.isEmpty, waypoint.lowercased() != "none" {
                result.error(spec / "location", "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints")
            }
        }

        // Plain TCP cannot tell several hosts apart unless resolution is NONE.
        if resolution != .NONE, hosts.count > 1 {
            if let i = ports.firstIndex(where: {
                let proto = ServicePortProtocol(parsing: $0.protocol ?? "")
                return !(proto?.isHTTP ?? false) && !(proto?.isTLS ?? false)
            }) {
                result.error((spec / "ports")[i], "multiple hosts provided with non-HTTP, non-TLS ports")
            }
        }

        result.merge(Validators.exportTo(
            exportTo, configNamespace: context.meta.namespace, isServiceEntry: true,
            isDestinationRuleWithSelector: false, at: spec / "exportTo"))
        return result
    }

    private typealias ServicePortProtocol = Validators.ServicePortProtocol
}
