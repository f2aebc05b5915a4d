public import MeshCore
import Foundation
import SwiftProtobuf

/// The mesh-wide file access log (MeshConfig `accessLogFile`, `accessLogEncoding`,
/// `accessLogFormat`), as Istio writes it when no Telemetry resource configures access logging.
public struct MeshAccessLog: Sendable, Hashable {
    /// How entries are encoded.
    public enum Encoding: String, Sendable, Hashable {
        /// One line of text per entry (`text_format_source`).
        case text = "TEXT"
        /// One JSON object per line (`json_format`).
        case json = "JSON"
    }

    /// The file Envoy appends to (`/dev/stdout` in Istio's demo profile).
    public var path: String
    /// TEXT or JSON.
    public var encoding: Encoding
    /// The user's format; empty means Istio's default for the encoding.
    public var format: String
    /// MeshConfig `disableEnvoyListenerLog`: no listener-level log for connections no filter chain takes.
    public var disableListenerLog: Bool

    /// - Parameters:
    ///   - path: the file to append to.
    ///   - encoding: TEXT or JSON.
    ///   - format: a text format, or a JSON object of labels for JSON; empty for Istio's default.
    ///   - disableListenerLog: leave out the listener-level (`NR`) access log.
    public init(path: String, encoding: Encoding = .text, format: String = "", disableListenerLog: Bool = false) {
        self.path = path
        self.encoding = encoding
        self.format = format
        self.disableListenerLog = disableListenerLog
    }

    /// The mesh's access log, or nil when `accessLogFile` is empty (access logging off).
    public init?(mesh: MeshConfig) {
        guard let path = mesh.accessLogFile, !path.isEmpty else { return nil }
        self.init(
            path: path, encoding: mesh.accessLogEncoding == .JSON ? .json : .text, format: mesh.accessLogFormat ?? "",
            disableListenerLog: mesh.disableEnvoyListenerLog ?? false)
    }

    /// Istio's default text format (`EnvoyTextLogFormat`, Istio 1.2x).
    public static let defaultTextFormat = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% "
        + "%PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% "
        + "%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
        + "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% "
        + "%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" "
        + "\"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" "
        + "%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
        + "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"

    /// Istio's default JSON labels (`EnvoyJSONLogFormatIstio`).
    public static let defaultJSONLabels: [String: String] = [
        "start_time": "%START_TIME%",
        "route_name": "%ROUTE_NAME%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "protocol": "%PROTOCOL%",
        "response_code": "%RESPONSE_CODE%",
        "response_flags": "%RESPONSE_FLAGS%",
        "response_code_details": "%RESPONSE_CODE_DETAILS%",
        "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
        "bytes_received": "%BYTES_RECEIVED%",
        "bytes_sent": "%BYTES_SENT%",
        "duration": "%DURATION%",
        "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
        "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
        "user_agent": "%REQ(USER-AGENT)%",
        "request_id": "%REQ(X-REQUEST-ID)%",
        "authority": "%REQ(:AUTHORITY)%",
        "upstream_host": "%UPSTREAM_HOST%",
        "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
        "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
        "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
        "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
        "requested_server_name": "%REQUESTED_SERVER_NAME%",
        "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    ]
}

/// Puts the mesh access log where Istio does (`AccessLogBuilder` in pilot): on every HTTP
/// connection manager and TCP proxy, and on every listener with a `response_flag_filter` for
/// `NR` (connections no filter chain takes, which no filter logs).
struct AccessLogBuilder {
    typealias AccessLog = Envoy_Config_Accesslog_V3_AccessLog
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias TCPProxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy

    let settings: MeshAccessLog

    /// `envoy.access_loggers.file` with the mesh's path and format (Istio's `FileAccessLogFromMeshConfig`).
    var fileAccessLog: AccessLog {
        var file = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog()
        file.path = settings.path
        switch settings.encoding {
        case .text:
            var format = settings.format
            if format.isEmpty {
                format = MeshAccessLog.defaultTextFormat
            } else if !format.hasSuffix("\n") {
                // Istio inserts the newline when the format has none.
                format += "\n"
            }
            file.logFormat = .with { $0.textFormatSource = .with { $0.inlineString = format } }
        case .json:
            file.logFormat = .with {
                $0.jsonFormat = Self.jsonLabels(settings.format)
                $0.jsonFormatOptions = .init()
            }
        }
        return .with {
            $0.name = "envoy.access_loggers.file"
            $0.typedConfig = Proto.any(file)
        }
    }

    /// The user's JSON labels, or Istio's default when the format is empty or not a JSON object
    /// (Istio logs the parse error and falls back the same way).
    static func jsonLabels(_ format: String) -> Google_Protobuf_Struct {
        if !format.isEmpty, let parsed = try? Google_Protobuf_Struct(jsonString: format), !parsed.fields.isEmpty {
            return parsed
        }
        return Google_Protobuf_Struct(fields: MeshAccessLog.defaultJSONLabels.mapValues { Google_Protobuf_Value(stringValue: $0) })
    }

    /// The listener-level log: the same file, only for `NR` (no filter chain matched).
    var listenerAccessLog: AccessLog {
        var log = fileAccessLog
        log.filter = .with { $0.responseFlagFilter = .with { $0.flags = ["NR"] } }
        return log
    }

    /// `listeners` with the access logs added.
    func decorate(_ listeners: [Envoy_Config_Listener_V3_Listener]) -> [Envoy_Config_Listener_V3_Listener] {
        let file = fileAccessLog
        let listenerLog = listenerAccessLog
        return listeners.map { listener in
            var listener = listener
            if !settings.disableListenerLog { listener.accessLog.append(listenerLog) }
            return listener.mappingFilterChains { Self.decorate($0, log: file) }
        }
    }

    private static func decorate(_ chain: Envoy_Config_Listener_V3_FilterChain, log: AccessLog) -> Envoy_Config_Listener_V3_FilterChain {
        var chain = chain
        chain.filters = chain.filters.map { filter in
            guard case .typedConfig(let typed) = filter.configType else { return filter }
            var filter = filter
            if typed.isA(HCM.self), var hcm = try? HCM(unpackingAny: typed) {
                hcm.accessLog.append(log)
                filter.typedConfig = Proto.any(hcm)
            } else if typed.isA(TCPProxy.self), var proxy = try? TCPProxy(unpackingAny: typed) {
                proxy.accessLog.append(log)
                filter.typedConfig = Proto.any(proxy)
            }
            return filter
        }
        return chain
    }
}

extension AccessLogBuilder {
    /// `listeners` with per-direction access logs: `client` on outbound listeners (and every
    /// listener of a gateway, which Istio treats as a client), `server` on inbound ones; nil
    /// leaves that direction to `fallback` (MeshConfig's access log), if any.
    static func decorate(
        _ listeners: [Envoy_Config_Listener_V3_Listener], client: [AccessLog]?, server: [AccessLog]?, fallback: MeshAccessLog?, isRouter: Bool
    ) -> [Envoy_Config_Listener_V3_Listener] {
        let mesh = fallback.map(AccessLogBuilder.init(settings:))
        return listeners.map { listener in
            let inbound = listener.trafficDirection == .inbound && !isRouter
            guard let logs = inbound ? server : client else {
                return mesh?.decorate([listener]).first ?? listener
            }
            return listener.mappingFilterChains { chain in logs.reduce(chain) { decorate($0, log: $1) } }
        }
    }
}

/// Telemetry `accessLogging` for one workload, as Istio resolves it: the mesh-wide resource,
/// then the namespace's, then the workload's own (the more specific setting wins, per mode);
/// providers default to MeshConfig `defaultProviders.accessLogging`, which also apply to a mode
/// no Telemetry configures. `disabled` logs nothing; a setting that ends up with no known
/// provider (none named and no default, or only unknown names) is ignored, so MeshConfig's
/// `accessLogFile` applies, as in Istio. The built-in `envoy` provider is Envoy's default format
/// on `/dev/stdout`.
///
/// A filter expression is translated to Envoy's native filters when it compares `response.code`
/// (`==`, `!=`, `>=`, `<=`, `>`, `<`, joined by `&&` or `||`); other CEL expressions are left
/// out (the log is then unfiltered) and reported in ``unsupported``.
public struct TelemetryAccessLogging: Sendable {
    /// Client-side (outbound, gateway) logs; nil when no Telemetry configures them.
    public var client: [Envoy_Config_Accesslog_V3_AccessLog]?
    /// Server-side (inbound) logs; nil when no Telemetry configures them.
    public var server: [Envoy_Config_Accesslog_V3_AccessLog]?
    /// What could not be honoured (unknown providers, unsupported provider kinds or filters).
    public var unsupported: [String] = []

    typealias Mode = Telemetry.WorkloadMode

    public init(snapshot: MeshSnapshot, proxy: ProxyView) {
        let telemetries = snapshot.telemetries(for: proxy)
        var settings: [Mode: (providers: [String]?, disabled: Bool?, filter: String?)] = [:]
        for telemetry in telemetries {
            for logging in telemetry.spec.accessLogging ?? [] {
                let mode = logging.match?.mode ?? .CLIENT_AND_SERVER
                for target in [Mode.CLIENT, .SERVER] where mode.covers(target) {
                    var current = settings[target] ?? (nil, nil, nil)
                    // An empty list keeps what a broader Telemetry named (Istio's mergeLogs).
                    if let providers = logging.providers, !providers.isEmpty { current.providers = providers.compactMap(\.name) }
                    if let disabled = logging.disabled { current.disabled = disabled }
                    if let expression = logging.filter?.expression { current.filter = expression }
                    settings[target] = current
                }
            }
        }
        var unsupported: [String] = []
        let defaults = snapshot.mesh.defaultProviders?.accessLogging ?? []
        func logs(_ mode: Mode) -> [Envoy_Config_Accesslog_V3_AccessLog]? {
            let setting = settings[mode] ?? (nil, nil, nil)
            if settings[mode] == nil, defaults.isEmpty { return nil }
            if setting.disabled == true { return [] }
            let names = setting.providers.flatMap { $0.isEmpty ? nil : $0 } ?? defaults
            var filter: Envoy_Config_Accesslog_V3_AccessLogFilter?
            if let expression = setting.filter, !expression.isEmpty {
                filter = Self.filter(expression)
                if filter == nil { unsupported.append("filter \"\(expression)\": only response.code comparisons are translated; logging unfiltered") }
            }
            let built = names.compactMap { name -> Envoy_Config_Accesslog_V3_AccessLog? in
                guard var log = Self.provider(name, mesh: snapshot.mesh, unsupported: &unsupported) else { return nil }
                if let filter { log.filter = filter }
                return log
            }
            return built.isEmpty ? nil : built
        }
        client = logs(.CLIENT)
        server = logs(.SERVER)
        self.unsupported = Array(Set(unsupported)).sorted()
    }

    /// The file access log a provider names; nil (and a note) for unknown names and provider
    /// kinds other than a file.
    static func provider(_ name: String, mesh: MeshConfig, unsupported: inout [String]) -> Envoy_Config_Accesslog_V3_AccessLog? {
        guard let provider = mesh.extensionProviders?.first(where: { $0.name == name }) else {
            if name == "envoy" { return AccessLogBuilder(settings: MeshAccessLog(path: "/dev/stdout")).fileAccessLog }
            unsupported.append("provider \"\(name)\" is not defined in MeshConfig extensionProviders")
            return nil
        }
        guard let file = provider.envoyFileAccessLog else {
            unsupported.append("provider \"\(name)\" (\(provider.providerKinds.joined(separator: ", "))) is not a file access log")
            return nil
        }
        var settings = MeshAccessLog(path: file.path ?? "/dev/stdout")
        if let labels = file.logFormat?.labels,
           let data = try? JSONEncoder().encode(labels), let json = String(data: data, encoding: .utf8) {
            settings.encoding = .json
            settings.format = json
        } else if let text = file.logFormat?.text {
            settings.format = text
        }
        return AccessLogBuilder(settings: settings).fileAccessLog
    }

    /// Envoy's native filter for a CEL expression comparing `response.code`, nil when the
    /// expression is anything else.
    public static func filter(_ expression: String) -> Envoy_Config_Accesslog_V3_AccessLogFilter? {
        typealias Filter = Envoy_Config_Accesslog_V3_AccessLogFilter
        if expression.contains("||") {
            let parts = expression.components(separatedBy: "||").map { filter($0) }
            guard !parts.contains(where: { $0 == nil }) else { return nil }
            return Filter.with { $0.orFilter = .with { $0.filters = parts.compactMap { $0 } } }
        }
        if expression.contains("&&") {
            let parts = expression.components(separatedBy: "&&").map { filter($0) }
            guard !parts.contains(where: { $0 == nil }) else { return nil }
            return Filter.with { $0.andFilter = .with { $0.filters = parts.compactMap { $0 } } }
        }
        var text = expression.trimmingCharacters(in: .whitespaces)
        while text.hasPrefix("("), text.hasSuffix(")") { text = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces) }
        guard text.hasPrefix("response.code") else { return nil }
        let rest = text.dropFirst("response.code".count).trimmingCharacters(in: .whitespaces)
        for (symbol, op, adjust) in [(">=", Envoy_Config_Accesslog_V3_ComparisonFilter.Op.ge, 0), ("<=", .le, 0), ("==", .eq, 0), ("!=", .ne, 0), (">", .ge, 1), ("<", .le, -1)] {
            guard rest.hasPrefix(symbol), let value = Int(rest.dropFirst(symbol.count).trimmingCharacters(in: .whitespaces)), value + adjust >= 0 else { continue }
            return Filter.with {
                $0.statusCodeFilter = .with {
                    $0.comparison = .with {
                        $0.op = op
                        $0.value = .with { $0.defaultValue = UInt32(value + adjust); $0.runtimeKey = "access_log.telemetry.status_code" }
                    }
                }
            }
        }
        return nil
    }
}
