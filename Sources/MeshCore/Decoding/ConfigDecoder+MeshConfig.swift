extension ConfigDecoder {
    /// Decodes a mesh file strictly, applies Istio's defaults and validates the result.
    ///
    /// Findings carry the file, the line of the field they concern (or of its nearest
    /// written ancestor) and the field path. Throws when the file does not decode or when
    /// validation reports errors; otherwise returns the configuration and its warnings.
    static func loadMeshConfig(_ text: String, file: String, defaults: MeshConfig) throws(ConfigFileError) -> (MeshConfig, [Diagnostic]) {
        let user = try decodeValue(MeshConfig.self, from: text, file: file)
        let node = (try? YAMLReader.documents(in: text))?.first?.node
        let effective = defaults.applying(user)
        // Extension providers are merged by name and trust-domain aliases are unioned, so list
        // positions in the effective config differ from the file's: check the file's own lists.
        let fileOrdered: Set<String> = ["extensionProviders", "trustDomainAliases"]
        func keep(_ issue: ValidationIssue) -> Bool {
            guard case .field(let name)? = issue.path.components.first else { return true }
            return !fileOrdered.contains(name)
        }
        let full = effective.validate()
        var result = ValidationResult(errors: full.errors.filter(keep), warnings: full.warnings.filter(keep))
        result.merge(user.validateExtensionProviders())
        result.merge(MeshConfig.extensionProviderNameIssues(user.extensionProviders))
        result.merge(MeshConfig.trustDomainAliasIssues(user.trustDomainAliases))
        func diagnostic(_ issue: ValidationIssue, _ severity: Diagnostic.Severity) -> Diagnostic {
            let line = node.flatMap { $0.line(at: issue.path) } ?? 1
            return Diagnostic(severity: severity, location: SourceLocation(file: file, line: line), resource: nil, path: issue.path, message: issue.message)
        }
        let errors = result.errors.map { diagnostic($0, .error) }
        let warnings = result.warnings.map { diagnostic($0, .warning) }
        if !errors.isEmpty { throw ConfigFileError(diagnostics: errors + warnings) }
        return (effective, warnings)
    }
}

extension MeshConfig {
    /// Reads a mesh file: decodes it strictly (unknown fields are errors), applies Istio's
    /// ``defaults`` to what it leaves out and validates the result.
    ///
    /// - Parameters:
    ///   - text: the file's YAML or JSON.
    ///   - file: the file name used in diagnostics.
    /// - Returns: the effective configuration.
    /// - Throws: ``ConfigFileError`` naming file, line and field of every problem.
    public static func load(_ text: String, file: String) throws(ConfigFileError) -> MeshConfig {
        try ConfigDecoder.loadMeshConfig(text, file: file, defaults: defaults).0
    }

    /// Like ``load(_:file:)``, also returning the warnings validation reported.
    public static func loadReportingWarnings(_ text: String, file: String) throws(ConfigFileError) -> (config: MeshConfig, warnings: [Diagnostic]) {
        let (config, warnings) = try ConfigDecoder.loadMeshConfig(text, file: file, defaults: defaults)
        return (config, warnings)
    }
}
