import Foundation
import Logging
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// Envoy's substitution format, access log filters and the connection manager's access log:
/// each command operator against a fixed entry, JSON typing, NACKs for what the proxy cannot
/// honour, and a request through a real connection manager producing its line.
@Suite struct AccessLogTests {
    /// 2024-03-18T23:08:48.020Z, 12 ms, a proxied GET answered 200 by an upstream.
    static var entry: AccessLogEntry {
        var entry = AccessLogEntry(startTime: WallClockTime(seconds: 1_710_803_328, nanoseconds: 20_123_456), durationNanoseconds: 12_700_000)
        var request = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/reviews/1?x=y")
        request.headers.add(name: "host", value: "reviews:9080")
        request.headers.add(name: "user-agent", value: "curl/8.6.0")
        request.headers.add(name: "x-request-id", value: "4f6d1a4e-0000-4000-8000-000000000001")
        entry.request = request
        entry.scheme = "http"
        var response = HTTPResponseHead(version: .http1_1, status: .ok)
        response.headers.add(name: "x-envoy-upstream-service-time", value: "7")
        response.headers.add(name: "content-type", value: "application/json")
        entry.response = response
        entry.responseTrailers = HTTPHeaders([("grpc-status", "0")])
        entry.responseCode = 200
        entry.responseCodeDetails = "via_upstream"
        entry.bytesReceived = 0
        entry.bytesSent = 59
        entry.upstreamHost = "10.42.0.4:5000"
        entry.upstreamRemoteAddress = try? SocketAddress(ipAddress: "10.42.0.4", port: 5000)
        entry.upstreamLocalAddress = try? SocketAddress(ipAddress: "10.42.0.5", port: 55914)
        entry.upstreamCluster = "outbound|9080||reviews.bookinfo.svc.cluster.local"
        entry.upstreamRequestAttemptCount = 1
        entry.downstreamLocalAddress = try? SocketAddress(ipAddress: "10.43.135.30", port: 9080)
        entry.downstreamRemoteAddress = try? SocketAddress(ipAddress: "10.42.0.5", port: 41438)
        entry.routeName = "default"
        return entry
    }

    static func format(_ text: String, _ entry: AccessLogEntry = entry) throws -> String {
        try SubstitutionFormatter(text: text).format(entry)
    }

    @Test(arguments: [
        ("%START_TIME%", "2024-03-18T23:08:48.020Z"),
        ("%START_TIME(%Y/%m/%d %H:%M:%S)%", "2024/03/18 23:08:48"),
        ("%START_TIME(%s.%3f)%", "1710803328.020"),
        ("%START_TIME(%E6S|%6f|%f)%", "48.020123|020123|020123456"),
        ("%REQ(:METHOD)%", "GET"),
        ("%REQ(:PATH)%", "/reviews/1?x=y"),
        ("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "/reviews/1?x=y"),
        ("%REQ(:AUTHORITY)%", "reviews:9080"),
        ("%REQ(:SCHEME)%", "http"),
        ("%REQ(USER-AGENT)%", "curl/8.6.0"),
        ("%REQ(USER-AGENT):4%", "curl"),
        ("%REQ(X-FORWARDED-FOR)%", "-"),
        ("%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "7"),
        ("%RESP(:STATUS)%", "200"),
        ("%RESP(X-MISSING?CONTENT-TYPE):11%", "application"),
        ("%TRAILER(GRPC-STATUS)%", "0"),
        ("%TRAILER(GRPC-MESSAGE)%", "-"),
        ("%PROTOCOL%", "HTTP/1.1"),
        ("%RESPONSE_CODE%", "200"),
        ("%RESPONSE_FLAGS%", "-"),
        ("%RESPONSE_CODE_DETAILS%", "via_upstream"),
        ("%CONNECTION_TERMINATION_DETAILS%", "-"),
        ("%UPSTREAM_TRANSPORT_FAILURE_REASON%", "-"),
        ("%BYTES_RECEIVED% %BYTES_SENT%", "0 59"),
        ("%DURATION%", "12"),
        ("%UPSTREAM_HOST%", "10.42.0.4:5000"),
        ("%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%:%UPSTREAM_REMOTE_PORT%", "10.42.0.4:5000"),
        ("%UPSTREAM_CLUSTER%", "outbound|9080||reviews.bookinfo.svc.cluster.local"),
        ("%UPSTREAM_CLUSTER_RAW%", "outbound|9080||reviews.bookinfo.svc.cluster.local"),
        ("%UPSTREAM_LOCAL_ADDRESS%", "10.42.0.5:55914"),
        ("%UPSTREAM_REQUEST_ATTEMPT_COUNT%", "1"),
        ("%DOWNSTREAM_LOCAL_ADDRESS%", "10.43.135.30:9080"),
        ("%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT%", "10.43.135.30 9080"),
        ("%DOWNSTREAM_REMOTE_ADDRESS%", "10.42.0.5:41438"),
        ("%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%", "10.42.0.5"),
        ("%DOWNSTREAM_PEER_URI_SAN%", "-"),
        ("%REQUESTED_SERVER_NAME%", "-"),
        ("%ROUTE_NAME%", "default"),
        ("plain text, no operators", "plain text, no operators"),
    ])
    func operatorProducesEnvoyText(_ format: String, _ expected: String) throws {
        #expect(try Self.format(format) == expected)
    }

    @Test func istioDefaultFormatLine() throws {
        let line = try Self.format(MeshAccessLog.defaultTextFormat)
        #expect(line == """
            [2024-03-18T23:08:48.020Z] "GET /reviews/1?x=y HTTP/1.1" 200 - via_upstream - "-" 0 59 12 7 "-" "curl/8.6.0" \
            "4f6d1a4e-0000-4000-8000-000000000001" "reviews:9080" "10.42.0.4:5000" outbound|9080||reviews.bookinfo.svc.cluster.local \
            10.42.0.5:55914 10.43.135.30:9080 10.42.0.5:41438 - default

            """)
    }

    @Test func failedRequestShowsFlagsAndMissingUpstream() throws {
        var entry = AccessLogEntry(startTime: WallClockTime(seconds: 0, nanoseconds: 0), durationNanoseconds: 0)
        entry.request = HTTPRequestHead(version: .http2, method: .POST, uri: "/x")
        entry.responseCode = 503
        entry.responseFlags = [.noHealthyUpstream, .upstreamRetryLimitExceeded]
        entry.responseCodeDetails = "no_healthy_upstream"
        let line = try Self.format("%PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %UPSTREAM_HOST% %UPSTREAM_LOCAL_ADDRESS% %START_TIME%", entry)
        #expect(line == "HTTP/2 503 UH,URX no_healthy_upstream - - 1970-01-01T00:00:00.000Z")
    }

    @Test func downstreamTLSOperators() throws {
        var entry = Self.entry
        entry.downstreamTLS = DownstreamTLSInfo(serverName: "reviews.local", peerCertificatePresented: true,
                                                peerURISANs: ["spiffe://cluster.local/ns/default/sa/client"], localURISANs: ["spiffe://cluster.local/ns/default/sa/reviews"])
        entry.requestedServerName = "reviews.local"
        #expect(try Self.format("%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_LOCAL_URI_SAN% %REQUESTED_SERVER_NAME%", entry)
            == "spiffe://cluster.local/ns/default/sa/client spiffe://cluster.local/ns/default/sa/reviews reviews.local")
    }

    @Test func jsonFormatKeepsTypesAndNullsMissingValues() throws {
        let labels = try Google_Protobuf_Struct(jsonString: """
            {"code": "%RESPONSE_CODE%", "bytes": "%BYTES_SENT%", "method": "%REQ(:METHOD)%", "xff": "%REQ(X-FORWARDED-FOR)%",
             "mixed": "%REQ(:METHOD)% %REQ(X-FORWARDED-FOR)%", "nested": {"flags": "%RESPONSE_FLAGS%"}, "fixed": 3, "quote": "a\\"b"}
            """)
        let line = try SubstitutionFormatter(json: labels).format(Self.entry)
        #expect(line == #"{"bytes":59,"code":200,"fixed":3,"method":"GET","mixed":"GET -","nested":{"flags":"-"},"quote":"a\"b","xff":null}"# + "\n")
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["code"] as? Int == 200)
        let omitted = try SubstitutionFormatter(json: labels, omitEmptyValues: true).format(Self.entry)
        #expect(!omitted.contains("xff"))
    }

    @Test func formatErrorsAreEnvoysAndUnknownOperatorsAreUnsupported() {
        #expect(throws: SubstitutionFormatError.self) { try SubstitutionFormatter(text: "100% done") }
        #expect(throws: SubstitutionFormatError.self) { try SubstitutionFormatter(text: "%REQ%") }
        #expect(throws: SubstitutionFormatError.self) { try SubstitutionFormatter(text: "%REQ(A?B?C)%") }
        #expect(throws: SubstitutionFormatError.self) { try SubstitutionFormatter(text: "%DURATION(x)%") }
        do {
            _ = try SubstitutionFormatter(text: "%UPSTREAM_SERVICE_TIME%")
            Issue.record("an unknown operator parsed")
        } catch {
            #expect(error.isUnsupported)
            #expect(error.message.contains("UPSTREAM_SERVICE_TIME"))
        }
    }

    // MARK: Filters and configuration

    static let context = ConfigurationContext(resourceType: "Listener", resourceName: "l")

    static func accessLog(path: String, format: String = "%RESPONSE_CODE% %RESPONSE_FLAGS%\n", filter: String? = nil) throws -> Envoy_Config_Accesslog_V3_AccessLog {
        EnvoyAnyTypes.register()
        var file = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog()
        file.path = path
        file.logFormat = .with { $0.textFormatSource = .with { $0.inlineString = format } }
        var log = Envoy_Config_Accesslog_V3_AccessLog()
        log.name = "envoy.access_loggers.file"
        log.typedConfig = try Google_Protobuf_Any(message: file)
        if let filter { log.filter = try Envoy_Config_Accesslog_V3_AccessLogFilter(jsonString: filter) }
        return log
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log").path
    }

    @Test func filtersSelectEntries() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var failed = Self.entry
        failed.responseCode = 503
        failed.responseFlags = .noHealthyUpstream
        let cases: [(String, Bool, Bool)] = [
            (#"{"status_code_filter": {"comparison": {"op": "GE", "value": {"default_value": 400, "runtime_key": "k"}}}}"#, false, true),
            (#"{"response_flag_filter": {"flags": ["NR"]}}"#, false, false),
            (#"{"response_flag_filter": {"flags": ["UH", "UF"]}}"#, false, true),
            (#"{"response_flag_filter": {}}"#, false, true),
            (#"{"duration_filter": {"comparison": {"op": "LE", "value": {"default_value": 12, "runtime_key": "k"}}}}"#, true, true),
            (#"{"not_health_check_filter": {}}"#, true, true),
            (#"{"header_filter": {"header": {"name": "user-agent", "string_match": {"prefix": "curl"}}}}"#, true, true),
            (#"{"and_filter": {"filters": [{"not_health_check_filter": {}}, {"response_flag_filter": {}}]}}"#, false, true),
            (#"{"or_filter": {"filters": [{"response_flag_filter": {"flags": ["NR"]}}, {"status_code_filter": {"comparison": {"op": "EQ", "value": {"default_value": 200, "runtime_key": "k"}}}}]}}"#, true, false),
        ]
        for (filter, okLogged, failedLogged) in cases {
            let log = try AccessLogConfiguration(try Self.accessLog(path: path, filter: filter), field: "access_log[0]", context: Self.context)
            #expect(log.accepts(Self.entry) == okLogged, "\(filter)")
            #expect(log.accepts(failed) == failedLogged, "\(filter)")
        }
    }

    @Test(arguments: [
        (#"{"runtime_filter": {"runtime_key": "k"}}"#, "runtime_filter", "unsupported"),
        (#"{"traceable_filter": {}}"#, "traceable_filter", "unsupported"),
        (#"{"grpc_status_filter": {}}"#, "grpc_status_filter", "unsupported"),
        (#"{"response_flag_filter": {"flags": ["XYZ"]}}"#, "flags[0]", "invalid"),
    ])
    func unsupportedFiltersNACK(_ filter: String, _ field: String, _ code: String) throws {
        let log = try Self.accessLog(path: Self.temporaryPath(), filter: filter)
        do {
            _ = try AccessLogConfiguration(log, field: "access_log[0]", context: Self.context)
            Issue.record("\(filter) was accepted")
        } catch {
            #expect(error.field.contains(field), "\(error)")
            #expect(error.code.description == code, "\(error)")
        }
    }

    @Test func unknownLoggersAndFormattersNACK() throws {
        var grpc = Envoy_Config_Accesslog_V3_AccessLog()
        grpc.name = "envoy.access_loggers.http_grpc"
        grpc.typedConfig = Google_Protobuf_Any()
        grpc.typedConfig.typeURL = "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig"
        #expect(throws: ProxyConfigurationError.self) { try AccessLogConfiguration(grpc, field: "access_log[0]", context: Self.context) }
        var log = try Self.accessLog(path: Self.temporaryPath(), format: "%UPSTREAM_SERVICE_TIME%\n")
        do {
            _ = try AccessLogConfiguration(log, field: "access_log[0]", context: Self.context)
            Issue.record("an unknown operator was accepted")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.description.contains("access_log[0].typed_config"))
        }
        var file = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog()
        file.path = Self.temporaryPath()
        file.logFormat = .with {
            $0.textFormat = "%REQ_WITHOUT_QUERY(:PATH)%"
            $0.formatters = [.with { $0.name = "envoy.formatter.req_without_query" }]
        }
        log.typedConfig = try Google_Protobuf_Any(message: file)
        #expect(throws: ProxyConfigurationError.self) { try AccessLogConfiguration(log, field: "access_log[0]", context: Self.context) }
        var missingPath = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog()
        missingPath.path = "/nonexistent-dir-\(UUID().uuidString)/access.log"
        log.typedConfig = try Google_Protobuf_Any(message: missingPath)
        #expect(throws: ProxyConfigurationError.self) { try AccessLogConfiguration(log, field: "access_log[0]", context: Self.context) }
    }

    // MARK: Through a connection manager

    /// A connection manager with `/ok` answered 200 by a direct response and nothing else routed.
    static func manager(accessLog: Envoy_Config_Accesslog_V3_AccessLog) throws -> HTTPConnectionManagerRuntime {
        EnvoyAnyTypes.register()
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [
              {"name": "ok-route", "match": {"path": "/ok"}, "direct_response": {"status": 200, "body": {"inline_string": "hello"}}}]}]}
            """)
        hcm.httpFilters = [try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
        hcm.accessLog = [accessLog]
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: Self.context, registry: .standard)
        return try FilterTestSupport.runtime(configuration).0
    }

    @Test func requestsThroughTheConnectionManagerWriteIstioLines() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let runtime = try Self.manager(accessLog: try Self.accessLog(path: path, format: MeshAccessLog.defaultTextFormat))
        let channel = try FilterTestSupport.channel(runtime)
        let ok = try FilterTestSupport.send(channel, "/ok", headers: [("user-agent", "test-agent"), ("x-request-id", "rid-1")])
        #expect(ok.status == 200)
        let missing = try FilterTestSupport.send(channel, "/missing", method: .POST, headers: [("x-request-id", "rid-2")])
        #expect(missing.status == 404)
        let file = try AccessLogFile.shared(.path(path))
        file.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        guard lines.count == 2 else { return }
        // [start] "GET /ok HTTP/1.1" 200 - direct_response - "-" 0 5 <ms> - "-" "test-agent" "rid-1" "app.local" "-" - - 127.0.0.9:8000 10.1.2.3:40000 - ok-route
        let ok1 = lines[0]
        #expect(ok1.hasPrefix("["))
        let afterTime = ok1.drop { $0 != "]" }.dropFirst(2)
        let fields = afterTime.split(separator: " ").map(String.init)
        #expect(Array(fields.prefix(9)) == ["\"GET", "/ok", "HTTP/1.1\"", "200", "-", "direct_response", "-", "\"-\"", "0"], "\(ok1)")
        #expect(fields[9] == "5", "\(ok1)")
        #expect(Int(fields[10]) != nil, "\(ok1)")
        #expect(ok1.contains(" - \"-\" \"test-agent\" \"rid-1\" \"app.local\" \"-\" - - "), "\(ok1)")
        #expect(ok1.hasSuffix("127.0.0.9:8000 10.1.2.3:40000 - ok-route"), "\(ok1)")
        #expect(lines[1].contains("\"POST /missing HTTP/1.1\" 404 NR route_not_found - \"-\" 0 0 "), "\(lines[1])")
        #expect(lines[1].hasSuffix("\"rid-2\" \"app.local\" \"-\" - - 127.0.0.9:8000 10.1.2.3:40000 - -"), "\(lines[1])")
    }

    @Test func fileIsAppendedAndReopenedAfterRotation() throws {
        let path = Self.temporaryPath()
        let rotated = path + ".1"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: rotated)
        }
        try "existing line\n".write(toFile: path, atomically: false, encoding: .utf8)
        let file = try AccessLogFile.shared(.path(path))
        #expect(try AccessLogFile.shared(.path(path)) === file)
        file.write("first\n")
        file.flush()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "existing line\nfirst\n")
        // A rotation: the file is renamed; writes go to the renamed file until it is reopened.
        try FileManager.default.moveItem(atPath: path, toPath: rotated)
        file.write("second\n")
        file.flush()
        file.reopen()
        file.write("third\n")
        file.flush()
        #expect(try String(contentsOfFile: rotated, encoding: .utf8) == "existing line\nfirst\nsecond\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "third\n")
        #expect(file.droppedLines == 0)
    }

    @Test func streamLoggersUseTheirFormatOrEnvoysDefault() throws {
        EnvoyAnyTypes.register()
        var log = Envoy_Config_Accesslog_V3_AccessLog()
        log.name = "envoy.access_loggers.stdout"
        log.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_AccessLoggers_Stream_V3_StdoutAccessLog())
        let stdout = try AccessLogConfiguration(log, field: "access_log[0]", context: Self.context)
        #expect(stdout.file.destination == .standardOutput)
        #expect(stdout.formatter.format(Self.entry) == """
            [2024-03-18T23:08:48.020Z] "GET /reviews/1?x=y HTTP/1.1" 200 - 0 59 12 7 "-" "curl/8.6.0" \
            "4f6d1a4e-0000-4000-8000-000000000001" "reviews:9080" "10.42.0.4:5000"

            """)
        log.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_AccessLoggers_Stream_V3_StderrAccessLog.with {
            $0.logFormat = .with { $0.jsonFormat = try! Google_Protobuf_Struct(jsonString: #"{"code": "%RESPONSE_CODE%"}"#) }
        })
        let stderr = try AccessLogConfiguration(log, field: "access_log[0]", context: Self.context)
        #expect(stderr.file.destination == .standardError)
        #expect(stderr.formatter.format(Self.entry) == #"{"code":200}"# + "\n")
    }

    @Test func noAccessLogMeansNoEntry() throws {
        let (runtime, _) = try FilterTestSupport.manager([])
        #expect(runtime.accessLogs == nil)
    }
}
