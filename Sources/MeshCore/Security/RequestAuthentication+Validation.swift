extension RequestAuthentication {
    /// Istio's `ValidateRequestAuthentication` plus the CRD schema rules.
    ///
    /// - At most one of `selector`, `targetRef`, `targetRefs`; target references well formed.
    /// - Each JWT rule: `issuer` or `jwksUri` set; `jwks` and `jwksUri` exclusive; `jwksUri` an http(s) URL;
    ///   `jwks` a parseable key set (private key material is a warning); token locations, claim names and
    ///   output headers non-empty; output header names of letters, digits, '-' and '_'; `timeout` at least
    ///   1ms in whole milliseconds.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec = FieldPath("spec")
        var result = Validators.securityPolicyAttachment(selector: selector, targetRef: targetRef, targetRefs: targetRefs, at: spec)
        if let jwtRules, jwtRules.count > 4096 {
            result.error(spec / "jwtRules", "too many jwtRules (\(jwtRules.count)); at most 4096 are allowed")
        }
        for (i, rule) in (jwtRules ?? []).enumerated() {
            result.merge(rule.validate(at: (spec / "jwtRules")[i]))
        }
        return result
    }
}

extension RequestAuthentication.JWTRule {
    /// Validates one JWT rule at `path` (`spec.jwtRules[i]`).
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if let issuer, issuer.isEmpty {
            result.error(path / "issuer", "issuer must not be empty")
        }
        if (issuer ?? "").isEmpty, (effectiveJwksUri ?? "").isEmpty {
            result.error(path, "issuer or jwksUri must be set")
        }
        result.merge(Validators.nonEmptyValues(audiences, at: path / "audiences"))

        let keySources = [jwksUri != nil, jwks_uri != nil, jwks != nil].filter { $0 }.count
        if keySources > 1 {
            result.error(path, "only one of jwks or jwksUri can be set")
        }
        for (field, uri) in [("jwksUri", jwksUri), ("jwks_uri", jwks_uri)] {
            guard let uri else { continue }
            if uri.isEmpty {
                result.error(path / field, "jwksUri must not be empty")
            } else if let problem = Validators.jwksURIProblem(uri) {
                result.error(path / field, problem)
            }
        }
        if let jwks, !jwks.isEmpty {
            switch Validators.parseJWKS(jwks) {
            case .failure(let problem):
                result.error(path / "jwks", "jwks parse error: \(problem.message)")
            case .success(let privateKeys):
                for index in privateKeys {
                    result.warning(path / "jwks", "jwks key at index \(index) contains private key material; only public keys are used for verification")
                }
            }
        }

        for (j, header) in (fromHeaders ?? []).enumerated() where (header.name ?? "").isEmpty {
            result.error((path / "fromHeaders")[j] / "name", "header name is required")
        }
        result.merge(Validators.nonEmptyValues(fromParams, at: path / "fromParams"))
        result.merge(Validators.nonEmptyValues(fromCookies, at: path / "fromCookies"))
        result.merge(Validators.nonEmptyValues(spaceDelimitedClaims, at: path / "spaceDelimitedClaims"))
        if let spaceDelimitedClaims, spaceDelimitedClaims.count > 64 {
            result.error(path / "spaceDelimitedClaims", "too many spaceDelimitedClaims (\(spaceDelimitedClaims.count)); at most 64 are allowed")
        }

        for (j, output) in (outputClaimToHeaders ?? []).enumerated() {
            let item = (path / "outputClaimToHeaders")[j]
            if let header = output.header, !header.isEmpty {
                if !Validators.isStrictHeaderName(header) {
                    result.error(item / "header", "header name \"\(header)\" is not valid: use letters, digits, '-' and '_'")
                }
            } else {
                result.error(item / "header", "header is required")
            }
            if (output.claim ?? "").isEmpty {
                result.error(item / "claim", "claim is required")
            }
        }

        if let timeout {
            if timeout < ConfigDuration(milliseconds: 1) {
                result.error(path / "timeout", "timeout must be at least 1ms, found \(timeout)")
            } else if timeout.nanoseconds % 1_000_000 != 0 {
                result.error(path / "timeout", "only durations to millisecond precision are supported, found \(timeout)")
            }
        }
        return result
    }
}
