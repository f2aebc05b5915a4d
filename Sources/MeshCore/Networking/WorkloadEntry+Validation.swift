extension WorkloadEntry {
    /// Istio's `ValidateWorkloadEntry`: the address (IP, FQDN or `unix://` socket), port names and
    /// numbers, and labels.
    public func validate(in context: ValidationContext) -> ValidationResult {
        validate(at: "spec", servicePorts: nil, allowFQDNAddresses: true)
    }

    /// Istio's `validateWorkloadEntry`, shared by the WorkloadEntry kind and ServiceEntry `STATIC` endpoints.
    /// - Parameters:
    ///   - path: where the entry sits, e.g. `spec` or `spec.endpoints[0]`.
    ///   - servicePorts: the enclosing ServiceEntry's port names, which `ports` keys must refer to.
    ///   - allowFQDNAddresses: whether a DNS name is an acceptable address (not for STATIC endpoints).
    public func validate(at path: FieldPath, servicePorts: Set<String>?, allowFQDNAddresses: Bool) -> ValidationResult {
        var result = ValidationResult()
        let address = address ?? ""
        if address.isEmpty {
            guard let network, !network.isEmpty else {
                result.error(path / "address", "address is required (or set network for a workload reached through a gateway)")
                return result
            }
            result.warning(path / "address", "address is unset with network \"\(network)\"")
        }
        if address.utf8.count > 256 {
            result.error(path / "address", "address must be at most 256 characters")
        }

        let unixPrefix = "unix://"
        let isUnix = address.hasPrefix(unixPrefix)
        if isUnix {
            if let problem = Validators.unixAddressProblem(forSocket: String(address.dropFirst(unixPrefix.count))) {
                result.error(path / "address", problem)
            }
            if let ports, !ports.isEmpty {
                result.error(path / "ports", "unix endpoint \(address) must not include ports")
            }
        } else if !address.isEmpty, IPAddress(address) == nil {
            if !allowFQDNAddresses {
                result.error(path / "address", "endpoint address \"\(address)\" is not a valid IP address")
            } else if Validators.istioFQDNProblem(address) != nil {
                result.error(path / "address", "endpoint address \"\(address)\" is not a valid FQDN or an IP address")
            }
        }

        let ports = ports ?? [:]
        if ports.count > 128 {
            result.error(path / "ports", "too many ports (at most 128)")
        }
        for (name, port) in ports.sorted(by: { $0.key < $1.key }) {
            let portPath = (path / "ports").key(name)
            if let servicePorts, !servicePorts.contains(name) {
                result.error(portPath, "endpoint port \(port) (\(name)) is not defined by the service entry")
            }
            result.merge(Validators.servicePortName(name, at: portPath))
            result.merge(Validators.port(port, at: portPath))
        }

        result.merge(Validators.labels(labels ?? [:], at: path / "labels"))
        if isUnix, let servicePorts, servicePorts.count != 1 {
            result.error(path / "address", "exactly 1 service port required for unix endpoints")
        }
        if let serviceAccount, serviceAccount.utf8.count > 253 {
            result.error(path / "serviceAccount", "serviceAccount must be at most 253 characters")
        }
        return result
    }
}
