/// Decodes multi-document YAML or JSON in Kubernetes form into validated Istio resources.
///
/// Documents of non-Istio kinds (Service, Deployment, ...) are skipped. `List` documents are
/// expanded. A document that fails to decode or validate is reported and left out; its
/// neighbours in the same file are unaffected.
public struct ConfigDecoder: Sendable {
    /// Mesh-wide settings validation consults (root namespace, ...).
    public var mesh: MeshConfig
    /// When false, documents are decoded but Istio's validation rules are not applied.
    public var validates: Bool
    /// Extra checks run on each resource that passed its kind's rules (see ``ResourceValidator``).
    public var validators: [any ResourceValidator] = []

    public init(mesh: MeshConfig = MeshConfig(), validates: Bool = true) {
        self.mesh = mesh
        self.validates = validates
    }

    /// The outcome for one file.
    public struct Output: Sendable {
        /// Resources that decoded and validated (possibly with warnings).
        public var resources: [AnyResource] = []
        /// Errors and warnings, in document order.
        public var diagnostics: [Diagnostic] = []
        /// Number of documents that were not Istio kinds and were skipped.
        public var skippedDocuments = 0
        /// Kubernetes Services and workloads found among the skipped documents.
        public var platform = PlatformObjects()

        /// True when any error was reported.
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
        public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
        public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
    }

    private static let topLevelFields: Set<String> = ["apiVersion", "kind", "metadata", "spec", "status"]

    /// Decodes `text`, labelling findings with `file`.
    public func decode(_ text: String, file: String) -> Output {
        var output = Output()
        let documents: [YAMLReader.Document]
        do {
            documents = try YAMLReader.documents(in: text)
        } catch {
            output.diagnostics.append(Diagnostic(
                severity: .error, location: SourceLocation(file: file, line: error.line ?? 1),
                resource: nil, message: error.message))
            return output
        }
        for document in documents {
            decodeDocument(document.node, file: file, into: &output)
        }
        return output
    }

    private func decodeDocument(_ node: ConfigNode, file: String, into output: inout Output) {
        let location = SourceLocation(file: file, line: node.line)
        func fail(_ message: String, path: FieldPath = FieldPath(), line: Int? = nil) {
            output.diagnostics.append(Diagnostic(
                severity: .error, location: SourceLocation(file: file, line: line ?? node.line),
                resource: nil, path: path, message: message))
        }
        if node.isNull { return }
        guard let mapping = node.mapping else {
            fail("document is \(node.typeDescription), not a Kubernetes object")
            return
        }
        guard let apiVersion = mapping["apiVersion"]?.string, !apiVersion.isEmpty else {
            fail("apiVersion is required", path: "apiVersion")
            return
        }
        guard let kindName = mapping["kind"]?.string, !kindName.isEmpty else {
            fail("kind is required", path: "kind")
            return
        }
        if kindName == "List" || kindName.hasSuffix("List") && mapping["items"] != nil {
            guard case .sequence(let items)? = mapping["items"] else {
                if mapping["items"].map({ !$0.isNull }) ?? false { fail("items must be a list", path: "items") }
                return
            }
            for item in items.items { decodeDocument(item, file: file, into: &output) }
            return
        }
        let (group, version): (String, String) = {
            guard let slash = apiVersion.lastIndex(of: "/") else { return ("", apiVersion) }
            return (String(apiVersion[..<slash]), String(apiVersion[apiVersion.index(after: slash)...]))
        }()
        let coreKind = group.isEmpty ? ResourceKind.lookup(group: group, kind: kindName) : nil
        guard coreKind != nil || ResourceKind.istioGroups.contains(group) else {
            output.skippedDocuments += 1
            output.platform.read(document: node, apiVersion: apiVersion, kind: kindName)
            return
        }
        guard let kind = ResourceKind.lookup(group: group, kind: kindName) else {
            fail("unknown kind \"\(kindName)\" in API group \(group)", path: "kind", line: mapping.entry("kind")?.keyLine)
            return
        }
        guard kind.versions.contains(version) else {
            fail("\(kindName) is not served at \(apiVersion); use one of \(kind.versions.map { "\(group)/\($0)" }.joined(separator: ", "))", path: "apiVersion", line: mapping.entry("apiVersion")?.keyLine)
            return
        }
        for entry in mapping.entries where !kind.isCoreKind && !Self.topLevelFields.contains(entry.key) {
            fail("unknown field \"\(entry.key)\"", path: FieldPath([.field(entry.key)]), line: entry.keyLine)
        }

        // Metadata first, so later findings can name the resource.
        var meta = ObjectMeta(name: "", namespace: "")
        var key: ResourceKey?
        if let metaNode = mapping["metadata"], !metaNode.isNull {
            do {
                meta = try NodeDecoder.decode(ObjectMeta.self, from: metaNode, at: "metadata")
            } catch {
                report(error, file: file, resource: nil, into: &output)
                return
            }
        }
        if meta.namespace.isEmpty { meta.namespace = "default" }
        key = ResourceKey(kind: kind, namespace: meta.namespace, name: meta.name)

        // Core kinds (Secret) keep their content at the top level, next to metadata.
        let specNode = kind.isCoreKind
            ? .mapping(.init(entries: mapping.entries.filter { !["apiVersion", "kind", "metadata"].contains($0.key) }, line: node.line))
            : mapping["spec"].flatMap { $0.isNull ? nil : $0 } ?? .mapping(.init(entries: [], line: node.line))
        let spec: any ResourceSpec
        do {
            spec = try Self.decodeSpec(kind.specType, from: specNode, at: kind.isCoreKind ? FieldPath() : "spec")
        } catch {
            report(error, file: file, resource: key, into: &output)
            return
        }
        let resource = AnyResource(meta: meta, spec: spec, source: location)
        guard validates else {
            output.resources.append(resource)
            return
        }
        var result = resource.validate(mesh: mesh)
        if result.isValid {
            for validator in validators { result.merge(validator.validate(resource, mesh: mesh)) }
        }
        for issue in result.errors {
            output.diagnostics.append(Diagnostic(
                severity: .error, location: SourceLocation(file: file, line: node.line(at: issue.path) ?? node.line),
                resource: key, path: issue.path, message: issue.message))
        }
        for issue in result.warnings {
            output.diagnostics.append(Diagnostic(
                severity: .warning, location: SourceLocation(file: file, line: node.line(at: issue.path) ?? node.line),
                resource: key, path: issue.path, message: issue.message))
        }
        if result.isValid { output.resources.append(resource) }
    }

    private static func decodeSpec<S: ResourceSpec>(_ type: S.Type, from node: ConfigNode, at path: FieldPath) throws(NodeDecodingErrors) -> any ResourceSpec {
        try NodeDecoder.decode(type, from: node, at: path)
    }

    private func report(_ error: NodeDecodingErrors, file: String, resource: ResourceKey?, into output: inout Output) {
        for failure in error.failures {
            output.diagnostics.append(Diagnostic(
                severity: .error, location: SourceLocation(file: file, line: failure.line),
                resource: resource, path: failure.path, message: failure.message))
        }
    }

    /// Decodes a standalone value (a MeshConfig file, a fixture) with the same strict rules.
    public static func decodeValue<T: Decodable>(_ type: T.Type, from text: String, file: String) throws(ConfigFileError) -> T {
        let documents: [YAMLReader.Document]
        do {
            documents = try YAMLReader.documents(in: text)
        } catch {
            throw ConfigFileError(diagnostics: [Diagnostic(severity: .error, location: SourceLocation(file: file, line: error.line ?? 1), resource: nil, message: error.message)])
        }
        let node = documents.first?.node ?? .mapping(.init(entries: [], line: 1))
        do {
            return try NodeDecoder.decode(type, from: node.isNull ? .mapping(.init(entries: [], line: 1)) : node, at: FieldPath())
        } catch {
            throw ConfigFileError(diagnostics: error.failures.map {
                Diagnostic(severity: .error, location: SourceLocation(file: file, line: $0.line), resource: nil, path: $0.path, message: $0.message)
            })
        }
    }
}

/// A file that could not be used, with every finding that explains why.
public struct ConfigFileError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
