/// Rules shared by Telemetry, WasmPlugin and MeshConfig validation.
extension Validators {
    /// Validates policy attachment as Istio does for Telemetry and WasmPlugin: the shared
    /// selector/targetRef rules, at most 16 `targetRefs`, and a warning for a selector without labels.
    static func meshPolicyAttachment(
        selector: WorkloadSelector?, targetRef: PolicyTargetReference?, targetRefs: [PolicyTargetReference]?, at spec: FieldPath
    ) -> ValidationResult {
        var result = policyAttachment(selector: selector, targetRef: targetRef, targetRefs: targetRefs, at: spec)
        if let selector, (selector.matchLabels ?? [:]).isEmpty {
            result.warning(spec / "selector", "workload selector specified without labels; it selects every workload in the namespace")
        }
        if let targetRefs, targetRefs.count > 16 {
            result.error(spec / "targetRefs", "too many targetRefs (\(targetRefs.count)); at most 16 are allowed")
        }
        return result
    }

    /// Why `address` is not a `host:port` pair with a valid hostname or IP and port, or nil.
    ///
    /// Mirrors Istio's `ValidateProxyAddress`; IPv6 hosts are written in brackets.
    public static func proxyAddressProblem(_ address: String) -> String? {
        let host: Substring
        let port: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return "unable to split \"\(address)\": missing ']' in address" }
            host = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":") else { return "unable to split \"\(address)\": missing port in address" }
            port = rest.dropFirst()
        } else {
            guard let colon = address.lastIndex(of: ":") else { return "unable to split \"\(address)\": missing port in address" }
            host = address[..<colon]
            port = address[address.index(after: colon)...]
            if host.contains(":") { return "unable to split \"\(address)\": too many colons in address" }
        }
        guard let number = Int(port), port.allSatisfy(\.isNumber) else { return "port (\(port)) is not a number" }
        guard (1...65535).contains(number) else { return "port number \(number) must be in the range 1..65535" }
        if istioFQDNProblem(String(host)) != nil, !isIPAddress(String(host)) {
            return "\"\(host)\" is not a valid hostname or an IP address"
        }
        return nil
    }

    /// Why `domain` is not a valid SPIFFE trust domain (dot-separated RFC 1123 labels), or nil.
    public static func trustDomainProblem(_ domain: String) -> String? {
        if domain.isEmpty { return "empty trust domain not allowed" }
        let parts = domain.split(separator: ".", omittingEmptySubsequences: false)
        for (i, label) in parts.enumerated() {
            if i == parts.count - 1, label.isEmpty { return nil }
            if !isDNS1123Label(String(label)) {
                return "trust domain \"\(domain)\" invalid: each dot-separated part must be a lowercase RFC 1123 label"
            }
        }
        return nil
    }

    /// Why `url` is not a Wasm module location Istio accepts, or nil.
    ///
    /// Accepted: `oci://`, `file://`, `http://`, `https://` URLs and scheme-less references,
    /// which Istio reads as OCI images (`ghcr.io/org/filter:v1`). Follows Go's strict request-URI
    /// parsing, which is what Istio's `strictParseURL` uses.
    public static func wasmURLProblem(_ url: String) -> String? {
        if url.isEmpty { return "url field needs to be set" }
        if url.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "invalid url \"\(url)\": contains a control character"
        }
        // Go's getScheme: letters, then letters/digits/+/-/. up to ':'.
        var scheme: String?
        for (i, c) in url.enumerated() {
            if c.isASCII && c.isLetter { continue }
            if c.isASCII && (c.isNumber || c == "+" || c == "-" || c == ".") {
                if i == 0 { break }
                continue
            }
            if c == ":" {
                if i == 0 { return "invalid url \"\(url)\": missing protocol scheme" }
                scheme = String(url.prefix(i)).lowercased()
            }
            break
        }
        if let scheme {
            guard ["http", "https", "oci", "file"].contains(scheme) else {
                return "url \"\(url)\" has unsupported scheme \"\(scheme)\"; use oci://, file://, http:// or https:// (or a bare OCI image reference)"
            }
            let rest = url.dropFirst(scheme.count + 1)
            if rest.hasPrefix("//") { return requestURIRestProblem(rest.dropFirst(2), url: url) }
            return percentEscapesProblem(rest, url: url)
        }
        if url.hasPrefix("/") { return percentEscapesProblem(Substring(url), url: url) }
        return requestURIRestProblem(Substring(url), url: url)
    }

    /// Checks `authority[/path]` the way Go's URL parser does for a request URI.
    private static func requestURIRestProblem(_ rest: Substring, url: String) -> String? {
        let authority = rest.prefix(while: { $0 != "/" })
        let path = rest.dropFirst(authority.count)
        var host = authority
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            let allowed = Set("-._~!$&'()*+,;=:%")
            if !userinfo.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || allowed.contains($0) }) {
                return "invalid url \"\(url)\": invalid userinfo"
            }
            host = authority[authority.index(after: at)...]
        }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return "invalid url \"\(url)\": missing ']' in host" }
            let tail = host[host.index(after: close)...]
            if !tail.isEmpty, !(tail.hasPrefix(":") && tail.dropFirst().allSatisfy(\.isNumber)) {
                return "invalid url \"\(url)\": invalid port \"\(tail)\" after host"
            }
        } else {
            if let colon = host.lastIndex(of: ":") {
                let port = host[host.index(after: colon)...]
                if !port.allSatisfy({ $0.isASCII && $0.isNumber }) { return "invalid url \"\(url)\": invalid port \":\(port)\" after host" }
                host = host[..<colon]
            }
            let allowed = Set("-_.~!$&'()*+,;=:[]<>\"%")
            if let bad = host.first(where: { $0.isASCII && !($0.isLetter || $0.isNumber) && !allowed.contains($0) }) {
                return "invalid url \"\(url)\": invalid character \"\(bad)\" in host name"
            }
        }
        return percentEscapesProblem(host, url: url) ?? percentEscapesProblem(path, url: url)
    }

    private static func percentEscapesProblem(_ text: Substring, url: String) -> String? {
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "%" {
                guard i + 2 < chars.count, chars[i + 1].isHexDigit, chars[i + 2].isHexDigit else {
                    return "invalid url \"\(url)\": invalid URL escape"
                }
                i += 3
            } else {
                i += 1
            }
        }
        return nil
    }

    /// Why `service` is not an extension-provider service reference, or nil.
    ///
    /// Accepted: a hostname or IP (`opa.example.com`, `10.0.0.1`) or `namespace/hostname`.
    public static func extensionProviderServiceProblem(_ service: String?) -> String? {
        guard let service, !service.isEmpty else { return "service must not be empty" }
        let parts = service.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 1 {
            if istioFQDNProblem(service) != nil, !isIPAddress(service) {
                return "invalid service \"\(service)\": expected a hostname, an IP address or namespace/hostname"
            }
            return nil
        }
        guard parts.count == 2 else {
            return "invalid service \"\(service)\": expected a hostname, an IP address or namespace/hostname"
        }
        let namespace = String(parts[0]), host = String(parts[1])
        if namespace != "*", namespace != ".", !isDNS1123Label(namespace) {
            return "invalid service \"\(service)\": namespace \"\(namespace)\" must be \"*\", \".\" or a valid namespace name"
        }
        if let problem = istioWildcardDomainProblem(host) { return "invalid service \"\(service)\": \(problem)" }
        return nil
    }
}
