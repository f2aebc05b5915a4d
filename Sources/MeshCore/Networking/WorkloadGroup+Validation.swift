extension WorkloadGroup {
    /// Istio's `ValidateWorkloadGroup` plus the CRD rules on the template: a template is required,
    /// metadata labels are valid, template ports and `unix://` addresses are well-formed, and the probe
    /// sets exactly one supported method with non-negative timings.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec: FieldPath = "spec"
        var result = ValidationResult()
        guard let template else {
            result.error(spec / "template", "template is required")
            return result
        }
        if let metadata {
            result.merge(Validators.labels(metadata.labels ?? [:], at: spec / "metadata" / "labels"))
            if (metadata.annotations ?? [:]).count > 256 {
                result.error(spec / "metadata" / "annotations", "too many annotations (at most 256)")
            }
        }
        result.merge(Self.validateTemplate(template, at: spec / "template"))
        if let probe {
            result.merge(probe.validate(at: spec / "probe"))
        }
        return result
    }

    /// The CRD's checks on the template. Unlike a WorkloadEntry, the address may be empty: it is filled in
    /// when a workload registers.
    static func validateTemplate(_ template: WorkloadEntry, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let address = template.address ?? ""
        if address.utf8.count > 256 {
            result.error(path / "address", "address must be at most 256 characters")
        }
        if address.hasPrefix("unix://") {
            let socket = address.dropFirst("unix://".count)
            if !(socket.hasPrefix("/") || socket.hasPrefix("@")) {
                result.error(path / "address", "UDS must be an absolute path or abstract socket")
            }
            if address.hasSuffix("/") {
                result.error(path / "address", "UDS may not be a dir")
            }
            if template.ports != nil {
                result.error(path / "ports", "UDS may not include ports")
            }
        }
        let ports = template.ports ?? [:]
        if ports.count > 128 {
            result.error(path / "ports", "too many ports (at most 128)")
        }
        for (name, port) in ports.sorted(by: { $0.key < $1.key }) {
            let portPath = (path / "ports").key(name)
            if name.count >= 63 || !Validators.isIstioDNSLabel(name) {
                result.error(portPath, "port name \"\(name)\" must be valid (letters, digits and '-', alphanumeric at both ends, under 63 characters)")
            }
            result.merge(Validators.port(port, at: portPath))
        }
        result.merge(Validators.labels(template.labels ?? [:], at: path / "labels"))
        if let serviceAccount = template.serviceAccount, serviceAccount.utf8.count > 253 {
            result.error(path / "serviceAccount", "serviceAccount must be at most 253 characters")
        }
        return result
    }
}

extension WorkloadGroup.ReadinessProbe {
    /// Istio's `validateReadinessProbe`.
    ///
    /// Istio's validation accepts only `httpGet`, `tcpSocket` and `exec`; a probe with no method, or with
    /// `grpc`, is rejected ("unknown health check method").
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (field, value) in [
            ("initialDelaySeconds", initialDelaySeconds), ("timeoutSeconds", timeoutSeconds), ("periodSeconds", periodSeconds),
            ("successThreshold", successThreshold), ("failureThreshold", failureThreshold),
        ] {
            if let value, value < 0 { result.error(path / field, "\(field) must be non-negative") }
        }

        let methods = [httpGet != nil, tcpSocket != nil, exec != nil, grpc != nil].filter { $0 }.count
        if methods > 1 {
            result.error(path, "only one of httpGet, tcpSocket, exec or grpc may be set")
            return result
        }
        if let httpGet {
            let p = path / "httpGet"
            result.merge(Validators.port(httpGet.port ?? 0, at: p / "port"))
            if let scheme = httpGet.scheme, !scheme.isEmpty, scheme != "HTTP", scheme != "HTTPS" {
                result.error(p / "scheme", "httpGet.scheme must be one of \"HTTPS\", \"HTTP\"")
            }
            for (i, header) in (httpGet.httpHeaders ?? []).enumerated() {
                let name = header.name ?? ""
                let namePath = (p / "httpHeaders")[i] / "name"
                if name.isEmpty {
                    result.error(namePath, "header name cannot be empty")
                } else if !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
                    result.error(namePath, "header name \(name) is not a valid header name (letters, digits and '-')")
                }
            }
        } else if let tcpSocket {
            result.merge(Validators.port(tcpSocket.port ?? 0, at: path / "tcpSocket" / "port"))
        } else if let exec {
            if (exec.command ?? []).isEmpty {
                result.error(path / "exec" / "command", "exec.command is required")
            }
        } else if grpc != nil {
            result.error(path / "grpc", "unknown health check method grpc: Istio's validation supports only httpGet, tcpSocket and exec probes")
        } else {
            result.error(path, "probe must set one of httpGet, tcpSocket or exec")
        }
        return result
    }
}
