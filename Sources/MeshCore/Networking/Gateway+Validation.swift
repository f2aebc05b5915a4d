extension Gateway {
    /// Applies Istio's `ValidateGateway` rules and the Gateway CRD schema.
    public func validate(in context: ValidationContext) -> ValidationResult {
        var result = ValidationResult()
        let spec = FieldPath("spec")
        let name = context.meta.name
        // Gateway names end up in route and listener names, which do not allow dots.
        if !name.isEmpty, !Validators.isDNS1123Label(name, allowUpper: true) {
            result.error("metadata.name", "invalid gateway name \"\(name)\": must be an RFC 1123 label (no dots)")
        }

        let servers = servers ?? []
        if servers.isEmpty {
            result.error(spec / "servers", "gateway must have at least one server")
        }
        var portNames = Set<String>()
        for (i, server) in servers.enumerated() {
            let path = (spec / "servers")[i]
            result.merge(server.validate(at: path))
            guard let port = server.port else { continue }
            let portName = port.name ?? ""
            if !portNames.insert(portName).inserted {
                result.error(path / "port" / "name", "port names in servers must be unique: duplicate name \"\(portName)\"")
            }
            let proto = Validators.ListenerPortProtocol(parsing: port.protocol ?? "")
            if !proto.isHTTP, server.tls?.httpsRedirect == true {
                result.warning(path / "tls" / "httpsRedirect", "tls.httpsRedirect should only be used with HTTP servers")
            }
        }
        return result
    }
}

extension Gateway.Server {
    /// Istio's `validateServer`: hosts, port, bind, TLS settings and their fit with the port protocol.
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let hosts = hosts ?? []
        if hosts.isEmpty {
            result.error(path / "hosts", "server config must contain at least one host")
        }
        for (j, host) in hosts.enumerated() {
            for problem in Validators.namespaceSlashHostProblems(host, isGateway: true) {
                result.error((path / "hosts")[j], problem)
            }
        }

        let portResult = validatePort(at: path / "port")
        result.merge(portResult)
        result.merge(validateBind(at: path))
        if let tls { result.merge(tls.validate(at: path / "tls")) }

        // Only judge the TLS/protocol fit once the port itself is sound.
        if portResult.isValid, let port {
            let proto = Validators.ListenerPortProtocol(parsing: port.protocol ?? "")
            if proto.isTLS, tls == nil {
                result.error(path / "tls", "server must have TLS settings for HTTPS/TLS protocols")
            } else if !proto.isTLS, let tls {
                if proto.isHTTP {
                    // A plain-text HTTP server may only carry httpsRedirect.
                    let hasFiles = [tls.caCertificates, tls.privateKey, tls.serverCertificate].contains { !($0 ?? "").isEmpty }
                    if !tls.isPassthrough || hasFiles {
                        result.error(path / "tls", "server cannot have TLS settings for plain text HTTP ports (only httpsRedirect is allowed)")
                    }
                } else {
                    result.error(path / "tls", "server cannot have TLS settings for non HTTPS/TLS ports")
                }
            }
        }
        return result
    }

    /// Istio's `validateServerPort`.
    private func validatePort(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let port else {
            result.error(path, "port is required")
            return result
        }
        let protocolText = port.protocol ?? ""
        if Validators.ListenerPortProtocol(parsing: protocolText) == .unsupported {
            result.error(path / "protocol", protocolText.isEmpty
                ? "protocol is required; supported protocols are \(Validators.ListenerPortProtocol.supportedNames)"
                : "invalid protocol \"\(protocolText)\", supported protocols are \(Validators.ListenerPortProtocol.supportedNames)")
        }
        let number = port.number ?? 0
        if number > 0 || !(bind ?? "").hasPrefix("unix://") {
            result.merge(Validators.port(number, at: path / "number"))
        }
        if (port.targetPort ?? 0) > 0 {
            result.error(path / "targetPort", "targetPort has no impact on Gateways")
        }
        if (port.name ?? "").isEmpty {
            result.error(path / "name", "port name must be set")
        }
        return result
    }

    /// Istio's `validateServerBind`: an IP address, or a `unix://` socket with port number 0.
    private func validateBind(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let bind, !bind.isEmpty else { return result }
        if bind.hasPrefix("unix://") {
            if let problem = Validators.unixSocketPathProblem(String(bind.dropFirst("unix://".count))) {
                result.error(path / "bind", problem)
            }
            if let number = port?.number, number != 0 {
                result.error(path / "port" / "number", "port number must be 0 for unix domain socket binds, found \(number)")
            }
        } else if !Validators.isIPAddress(bind) {
            result.error(path / "bind", "\(bind) is not a valid IP")
        }
        return result
    }
}
