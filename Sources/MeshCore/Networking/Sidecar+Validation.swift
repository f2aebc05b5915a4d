extension Sidecar {
    /// Applies Istio's `ValidateSidecar` rules and the Sidecar CRD schema.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec = FieldPath("spec")
        var result = Validators.networkingWorkloadSelector(workloadSelector, at: spec / "workloadSelector", kindName: "sidecar")
        let ingress = ingress ?? []
        let egress = egress ?? []
        if ingress.isEmpty, egress.isEmpty, outboundTrafficPolicy == nil, inboundConnectionPool == nil {
            result.error(spec, "sidecar: empty configuration provided; set at least one of ingress, egress, outboundTrafficPolicy or inboundConnectionPool")
            return result
        }

        var ingressPorts = Set<UInt32>()
        for (i, listener) in ingress.enumerated() {
            let path = (spec / "ingress")[i]
            guard let port = listener.port else {
                result.error(path / "port", "sidecar: port is required for ingress listeners")
                continue
            }
            result.merge(Self.validateIngressListener(listener, port: port, at: path))
            let number = port.number ?? 0
            if !ingressPorts.insert(number).inserted {
                result.error(path / "port" / "number", "sidecar: ports on IP bound listeners must be unique (port \(number) is used twice)")
            }
        }
        if let pool = inboundConnectionPool {
            result.merge(Self.validateConnectionPool(pool, at: spec / "inboundConnectionPool", protocolText: nil, portNumber: nil))
        }

        var egressPorts = Set<UInt32>()
        var sockets = Set<String>()
        var catchAllFound = false
        for (i, listener) in egress.enumerated() {
            let path = (spec / "egress")[i]
            // Only one listener may omit the port (the catch-all), and it must come last.
            if let port = listener.port {
                result.merge(Self.validateEgressPort(port, bind: listener.bind ?? "", captureMode: listener.captureMode ?? .DEFAULT, at: path))
                let number = port.number ?? 0
                if number == 0 {
                    if !sockets.insert(listener.bind ?? "").inserted {
                        result.error(path / "bind", "sidecar: unix domain socket values for listeners must be unique")
                    }
                } else if !egressPorts.insert(number).inserted {
                    result.error(path / "port" / "number", "sidecar: ports on IP bound listeners must be unique (port \(number) is used twice)")
                }
            } else if catchAllFound {
                result.error(path / "port", "sidecar: egress can have only one listener with empty port")
                continue
            } else if i == egress.count - 1 {
                catchAllFound = true
            } else {
                result.error(path / "port", "sidecar: the egress listener with empty port should be the last listener in the list")
            }
            result.merge(Self.validateEgressHosts(listener.hosts ?? [], namespace: context.meta.namespace, at: path / "hosts"))
        }

        if let policy = outboundTrafficPolicy {
            result.merge(Self.validateOutboundTrafficPolicy(policy, at: spec / "outboundTrafficPolicy"))
        }
        return result
    }

    private static func validateIngressListener(_ listener: IstioIngressListener, port: SidecarPort, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if (port.targetPort ?? 0) > 0 {
            result.error(path / "port" / "targetPort", "targetPort has no impact on Sidecars")
        }
        result.merge(validatePortNameProtocolNumber(port, at: path / "port", requireNumber: true))
        if let bind = listener.bind, !bind.isEmpty, !Validators.isIPAddress(bind) {
            result.error(path / "bind", "\(bind) is not a valid IP")
        }

        if let endpoint = listener.defaultEndpoint, !endpoint.isEmpty {
            let endpointPath = path / "defaultEndpoint"
            if endpoint.hasPrefix("unix://") {
                if let problem = Validators.unixSocketPathProblem(String(endpoint.dropFirst("unix://".count))) {
                    result.error(endpointPath, problem)
                }
            } else if let (host, portText) = Validators.splitHostPort(endpoint) {
                if !host.isEmpty, !["127.0.0.1", "0.0.0.0", "::1", "::"].contains(host) {
                    result.error(endpointPath, "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, unix://filepath or unset")
                }
                if let number = Int(portText), portText.allSatisfy(\.isNumber) {
                    result.merge(Validators.port(number, at: endpointPath))
                } else {
                    result.error(endpointPath, "sidecar: defaultEndpoint port \"\(portText)\" is not a number")
                }
            } else {
                result.error(endpointPath, "sidecar: defaultEndpoint \"\(endpoint)\" is not of form host:port or unix://filepath")
            }
        }

        if let tls = listener.tls {
            let tlsPath = path / "tls"
            if !(tls.subjectAltNames ?? []).isEmpty {
                result.error(tlsPath / "subjectAltNames", "sidecar: subjectAltNames is not supported in ingress tls")
            }
            if tls.httpsRedirect == true {
                result.error(tlsPath / "httpsRedirect", "sidecar: httpsRedirect is not supported")
            }
            if !(tls.credentialName ?? "").isEmpty {
                result.error(tlsPath / "credentialName", "sidecar: credentialName is not currently supported")
            }
            if !(tls.credentialNames ?? []).isEmpty {
                result.error(tlsPath / "credentialNames", "sidecar: credentialNames is not currently supported")
            }
            if !(tls.tlsCertificates ?? []).isEmpty {
                result.error(tlsPath / "tlsCertificates", "sidecar: tlsCertificates is not currently supported")
            }
            if tls.effectiveMode == .ISTIO_MUTUAL || tls.effectiveMode == .AUTO_PASSTHROUGH {
                result.error(tlsPath / "mode", "configuration is invalid: cannot set mode to \(tls.effectiveMode.rawValue) in sidecar ingress tls")
            }
            if !Validators.ListenerPortProtocol(parsing: port.protocol ?? "").isTLS {
                result.error(tlsPath, "server cannot have TLS settings for non HTTPS/TLS ports")
            }
            result.merge(tls.validate(at: tlsPath))
        }

        if let pool = listener.connectionPool {
            result.merge(validateConnectionPool(pool, at: path / "connectionPool", protocolText: port.protocol ?? "", portNumber: port.number ?? 0))
        }
        return result
    }

    /// The connection pool's own rules, plus a warning for HTTP settings on a non-HTTP listener port.
    private static func validateConnectionPool(_ pool: ConnectionPoolSettings, at path: FieldPath, protocolText: String?, portNumber: UInt32?) -> ValidationResult {
        var result = pool.validate(at: path)
        guard let protocolText, let portNumber else { return result }
        if pool.http != nil, !Validators.ListenerPortProtocol(parsing: protocolText).isHTTP {
            result.warning(path / "http", "sidecar: HTTP connection pool settings are configured for port \(portNumber) but its protocol is not HTTP (\(protocolText)); only TCP settings will apply")
        }
        return result
    }

    /// Istio's `validateSidecarEgressPortBindAndCaptureMode`: port 0 means a Unix socket bind.
    private static func validateEgressPort(_ port: SidecarPort, bind: String, captureMode: CaptureMode, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if (port.targetPort ?? 0) > 0 {
            result.error(path / "port" / "targetPort", "targetPort has no impact on Sidecars")
        }
        let number = port.number ?? 0
        result.merge(validatePortNameProtocolNumber(port, at: path / "port", requireNumber: number != 0))
        if number == 0 {
            if !bind.hasPrefix("unix://") {
                result.error(path / "bind", "sidecar: ports with 0 value must have a unix domain socket bind address (unix://...)")
            } else if let problem = Validators.unixSocketPathProblem(String(bind.dropFirst("unix://".count))) {
                result.error(path / "bind", problem)
            }
            if captureMode != .DEFAULT, captureMode != .NONE {
                result.error(path / "captureMode", "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners")
            }
        } else if !bind.isEmpty, !Validators.isIPAddress(bind) {
            result.error(path / "bind", "\(bind) is not a valid IP")
        }
        return result
    }

    /// Port name (optional, a DNS label), protocol (optional, a known one) and number (1..65535).
    private static func validatePortNameProtocolNumber(_ port: SidecarPort, at path: FieldPath, requireNumber: Bool) -> ValidationResult {
        var result = ValidationResult()
        if let name = port.name, !name.isEmpty, !Validators.isIstioPortName(name) {
            result.error(path / "name", "invalid port name \"\(name)\": must be an RFC 1123 label")
        }
        if let proto = port.protocol, !proto.isEmpty, Validators.ListenerPortProtocol(parsing: proto) == .unsupported {
            result.error(path / "protocol", "unsupported protocol \"\(proto)\"; supported protocols are \(Validators.ListenerPortProtocol.supportedNames)")
        }
        if requireNumber {
            result.merge(Validators.port(port.number ?? 0, at: path / "number"))
        }
        return result
    }

    /// Egress hosts: at least one, each `namespace/dnsName`; duplicates and hosts shadowed by `*/*` are warnings.
    private static func validateEgressHosts(_ hosts: [String], namespace: String, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if hosts.isEmpty {
            result.error(path, "sidecar: egress listener must contain at least one host")
            return result
        }
        var byNamespace: [String: Set<String>] = [:]
        for (j, host) in hosts.enumerated() {
            let parts = host.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if parts.count == 2, !parts[0].hasPrefix("~") {
                let ns = parts[0] == "." ? namespace : parts[0]
                let name = parts[1]
                let existing = byNamespace[ns, default: []]
                if name != "*" ? (existing.contains(name) || existing.contains("*")) : !existing.isEmpty {
                    result.warning(path[j], "duplicated egress host: \(host)")
                }
                byNamespace[ns, default: []].insert(name)
            }
            for problem in Validators.namespaceSlashHostProblems(host, isGateway: false) {
                result.error(path[j], problem)
            }
        }
        if byNamespace["*"]?.contains("*") == true, byNamespace.count != 1 {
            result.warning(path, "`*/*` host selects all resources, no other hosts can be added")
        }
        return result
    }

    /// Istio's `validateSidecarOutboundTrafficPolicy`: an egress proxy only with `ALLOW_ANY`, with an FQDN host and a port.
    private static func validateOutboundTrafficPolicy(_ policy: OutboundTrafficPolicy, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let proxy = policy.egressProxy else { return result }
        let proxyPath = path / "egressProxy"
        if (policy.mode ?? .REGISTRY_ONLY) != .ALLOW_ANY {
            result.error(proxyPath, "sidecar: egressProxy must be set only with ALLOW_ANY outboundTrafficPolicy mode")
            return result
        }
        if let problem = Validators.istioFQDNProblem(proxy.host ?? "") {
            result.error(proxyPath / "host", problem)
        }
        guard let port = proxy.port else {
            result.error(proxyPath / "port", "sidecar: egressProxy port must be set")
            return result
        }
        if let number = port.number {
            result.merge(Validators.port(number, at: proxyPath / "port" / "number"))
        } else {
            result.error(proxyPath / "port" / "number", "sidecar: egressProxy port number must be set")
        }
        if let subset = proxy.subset, !subset.isEmpty, !Validators.isDNS1123Label(subset, allowUpper: true) {
            result.error(proxyPath / "subset", "subset name is invalid: \(subset)")
        }
        return result
    }
}
