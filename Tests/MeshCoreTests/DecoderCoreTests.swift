import Testing
@testable import MeshCore

@Suite struct DecoderCoreTests {
    @Test func skipsNonIstioKindsAndDefaultsNamespace() {
        let yaml = """
        apiVersion: v1
        kind: Service
        metadata: {name: reviews}
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata:
          name: default
        spec: {egress: [{hosts: ["./*"]}]}
        """
        let out = ConfigDecoder().decode(yaml, file: "a.yaml")
        #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
        #expect(out.skippedDocuments == 1)
        #expect(out.resources.count == 1)
        #expect(out.resources.first?.meta.namespace == "default")
        #expect(out.resources.first?.kind == .sidecar)
    }

    @Test func unknownTopLevelFieldAndBadVersion() {
        let yaml = """
        apiVersion: networking.istio.io/v2
        kind: Sidecar
        metadata: {name: x}
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: x}
        bogus: 1
        spec: {egress: [{hosts: ["./*"]}]}
        """
        let out = ConfigDecoder().decode(yaml, file: "a.yaml")
        #expect(out.errors.count == 2)
        #expect(out.errors[0].description.contains("not served at networking.istio.io/v2"))
        #expect(out.errors[1].description == "a.yaml:8: bogus: unknown field \"bogus\"")
    }

    @Test func listDocumentsExpand() {
        let json = """
        {"apiVersion": "v1", "kind": "List", "items": [
          {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "a", "namespace": "ns1"}, "spec": {"egress": [{"hosts": ["./*"]}]}},
          {"apiVersion": "networking.istio.io/v1beta1", "kind": "Sidecar", "metadata": {"name": "b", "namespace": "ns1"}, "spec": {"egress": [{"hosts": ["./*"]}]}}
        ]}
        """
        let out = ConfigDecoder().decode(json, file: "l.json")
        #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
        #expect(out.resources.map(\.meta.name) == ["a", "b"])
    }

    @Test func metadataErrorsNameTheField() {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata:
          name: Bad_Name
          labels:
            version: 1
        """
        let out = ConfigDecoder().decode(yaml, file: "m.yaml")
        #expect(out.errors.map(\.description) == ["m.yaml:6: metadata.labels[version]: expected a string, found integer 1 (quote it to make it a string)"])
    }

    @Test func yamlSyntaxErrorHasLine() {
        let out = ConfigDecoder().decode("a: b\n  c: : d\n", file: "s.yaml")
        #expect(out.errors.count == 1)
        #expect(out.errors[0].location?.line == 2)
    }

    @Test(arguments: [
        ("1.5s", Int64(1_500_000_000)), ("100ms", 100_000_000), ("1h30m", 5_400_000_000_000), ("2us", 2_000), ("0", 0),
    ])
    func durations(text: String, nanos: Int64) {
        #expect(ConfigDuration(parsing: text)?.nanoseconds == nanos)
    }

    @Test(arguments: ["", "1", "1x", "s", "-"])
    func badDurations(text: String) {
        #expect(ConfigDuration(parsing: text) == nil)
    }

    @Test func durationEncodesProtoJSON() {
        #expect(ConfigDuration(milliseconds: 1500).description == "1.500s")
        #expect(ConfigDuration(milliseconds: 2000).description == "2s")
    }

    @Test func ipAndCIDR() {
        #expect(IPAddress("10.0.0.1") == .v4(0x0A00_0001))
        #expect(IPAddress("::1")?.isLoopback == true)
        #expect(IPAddress("2001:db8::1") != nil)
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("256.1.1.1") == nil)
        #expect(CIDRRange("10.0.0.0/8")!.contains(IPAddress("10.2.3.4")!))
        #expect(!CIDRRange("10.0.0.0/8")!.contains(IPAddress("11.2.3.4")!))
        #expect(CIDRRange("10.0.0.0/33") == nil)
        #expect(CIDRRange("2001:db8::/32")!.contains(IPAddress("2001:db8:1::5")!))
    }

    @Test func hostRules() {
        #expect(Validators.istioWildcardDomainProblem("*.example.com") == nil)
        #expect(Validators.istioWildcardDomainProblem("reviews") == nil)
        #expect(Validators.istioWildcardDomainProblem("*") == nil)
        #expect(Validators.istioWildcardDomainProblem("foo*.example.com") != nil)
        #expect(Validators.istioWildcardDomainProblem("bad_host.com") != nil)
        #expect(Validators.isQualifiedName("app.kubernetes.io/name"))
        #expect(!Validators.isQualifiedName("-bad"))
        #expect(Validators.regexProblem("^/api/(v1|v2)") == nil)
        #expect(Validators.regexProblem("(?=x)") != nil)
        #expect(Validators.regexProblem("([a-z]") != nil)
    }
}

@Suite struct IntegerDecodingTests {
    struct Numbers: Decodable {
        var u: UInt32?
        var i: Int32?
        var big: Int64?
    }

    @Test(arguments: [
        ("u: -1", "value -1 is out of range (0...4294967295)"),
        ("u: 4294967296", "out of range"),
        ("i: -2147483649", "out of range"),
        ("i: '5'", "expected an integer, found string \\\"5\\\""),
        ("u: 1.5", "expected an integer"),
    ])
    func rejects(yaml: String, message: String) {
        #expect(throws: ConfigFileError.self) { try ConfigDecoder.decodeValue(Numbers.self, from: yaml, file: "n.yaml") }
        do {
            _ = try ConfigDecoder.decodeValue(Numbers.self, from: yaml, file: "n.yaml")
        } catch {
            #expect(error.description.contains(message.replacingOccurrences(of: "\\\"", with: "\"")), "\(error.description)")
        }
    }

    @Test func accepts() throws {
        let n = try ConfigDecoder.decodeValue(Numbers.self, from: "u: 0\ni: -2147483648\nbig: '9007199254740993'", file: "n.yaml")
        #expect(n.u == 0)
        #expect(n.i == Int32.min)
        #expect(n.big == 9_007_199_254_740_993, "64-bit integers may be quoted, as protobuf JSON allows")
    }
}

@Suite struct ScalarResolutionTests {
    @Test(arguments: [
        ("", ConfigNode.Scalar.Kind.null), ("~", .null), ("null", .null), ("NULL", .null),
        ("true", .bool), ("False", .bool), ("yes", .bool), ("off", .bool),
        ("0", .integer), ("42", .integer), ("-7", .integer), ("+3", .integer), ("1_000", .integer), ("0x1F", .integer),
        ("0o17", .integer), ("0b101", .integer), ("017", .integer),
        ("1.5", .float), ("-0.25", .float), ("1e3", .float), ("2.5E-3", .float), (".5", .float), ("1.", .float), (".inf", .float), (".NaN", .float),
        ("v1", .string), ("1.2.3", .string), ("10.0.0.1", .string), ("80/tcp", .string), ("1s", .string), ("0x", .string),
        ("09", .string), (".", .string), ("e5", .string), ("1e", .string), ("TRUEISH", .string),
    ])
    func classify(text: String, kind: ConfigNode.Scalar.Kind) {
        let out = ConfigDecoder.decodeNode("v: \(text.isEmpty ? "" : text)")
        #expect(out == kind, "\(text)")
    }

    @Test func quotedAndTaggedScalarsAreStrings() {
        #expect(ConfigDecoder.decodeNode("v: \"1\"") == .string)
        #expect(ConfigDecoder.decodeNode("v: 'true'") == .string)
        #expect(ConfigDecoder.decodeNode("v: !!str 5") == .string)
        #expect(ConfigDecoder.decodeNode("v: !!int \"5\"") == .string, "quoted scalars stay strings whatever the tag")
    }
}

extension ConfigDecoder {
    /// The resolved kind of the scalar under key `v` in a one-line document.
    static func decodeNode(_ yaml: String) -> ConfigNode.Scalar.Kind? {
        guard let docs = try? YAMLReader.documents(in: yaml), case .mapping(let m)? = docs.first?.node,
              case .scalar(let s)? = m["v"] else { return nil }
        return s.kind
    }
}
