import MeshXDS
import SwiftProtobuf

/// One `access_log` entry of a connection manager, TCP proxy or listener: a filter, a format and
/// a destination. Supports `envoy.access_loggers.file` (`FileAccessLog`) and the
/// `envoy.access_loggers.stdout`/`stderr` stream loggers; any other logger NACKs.
public struct AccessLogConfiguration: Sendable {
    /// The logger's name (`envoy.access_loggers.file`).
    public var name: String
    /// Which entries are written; nil for all.
    let filter: AccessLogFilter?
    /// How an entry becomes a line.
    public let formatter: SubstitutionFormatter
    /// Where lines go (shared with every logger writing there).
    public let file: AccessLogFile

    static let fileType = "envoy.extensions.access_loggers.file.v3.FileAccessLog"
    static let stdoutType = "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"
    static let stderrType = "envoy.extensions.access_loggers.stream.v3.StderrAccessLog"

    init(_ proto: Envoy_Config_Accesslog_V3_AccessLog, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        name = proto.name
        filter = proto.hasFilter ? try AccessLogFilter(proto.filter, field: "\(field).filter", context: context) : nil
        guard case .typedConfig(let typed) = proto.configType else {
            throw context.error(.invalid, "\(field).typed_config", "access log \"\(proto.name)\" has no typed_config")
        }
        let typeName = typed.typeURL.split(separator: "/").last.map(String.init) ?? typed.typeURL
        let destination: AccessLogFile.Destination
        switch typeName {
        case Self.fileType:
            let config: Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog
            do { config = try Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog(unpackingAny: typed) } catch {
                throw context.error(.invalid, "\(field).typed_config", "FileAccessLog does not decode: \(error)")
            }
            guard !config.path.isEmpty else { throw context.error(.invalid, "\(field).typed_config.path", "the access log path is empty") }
            destination = .path(config.path)
            formatter = try Self.formatter(config, field: "\(field).typed_config", context: context)
        case Self.stdoutType, Self.stderrType:
            let format: Envoy_Config_Core_V3_SubstitutionFormatString?
            do {
                if typeName == Self.stdoutType {
                    let config = try Envoy_Extensions_AccessLoggers_Stream_V3_StdoutAccessLog(unpackingAny: typed)
                    if case .logFormat(let f) = config.accessLogFormat { format = f } else { format = nil }
                } else {
                    let config = try Envoy_Extensions_AccessLoggers_Stream_V3_StderrAccessLog(unpackingAny: typed)
                    if case .logFormat(let f) = config.accessLogFormat { format = f } else { format = nil }
                }
            } catch {
                throw context.error(.invalid, "\(field).typed_config", "\(typeName) does not decode: \(error)")
            }
            destination = typeName == Self.stdoutType ? .standardOutput : .standardError
            if let format {
                formatter = try Self.formatter(format, field: "\(field).typed_config.log_format", context: context)
            } else {
                formatter = Self.defaultFormatter
            }
        default:
            throw context.error(.unsupported, "\(field).typed_config", "access logger \"\(proto.name)\" (\(typed.typeURL)) is not supported by the Swift proxy")
        }
        do {
            file = try AccessLogFile.shared(destination)
        } catch {
            throw context.error(.invalid, "\(field).typed_config.path", error.description)
        }
    }

    /// Every entry of `list`, in order.
    static func list(_ list: [Envoy_Config_Accesslog_V3_AccessLog], field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> [AccessLogConfiguration] {
        var logs: [AccessLogConfiguration] = []
        for (index, log) in list.enumerated() {
            logs.append(try AccessLogConfiguration(log, field: "\(field)[\(index)]", context: context))
        }
        return logs
    }

    /// Writes `entry` if the filter takes it.
    public func log(_ entry: AccessLogEntry) {
        if let filter, !filter.matches(entry) { return }
        file.write(formatter.format(entry))
    }

    /// Whether the filter (if any) takes `entry`.
    func accepts(_ entry: AccessLogEntry) -> Bool { filter?.matches(entry) ?? true }

    // swiftlint:disable:next force_try
    static let defaultFormatter = try! SubstitutionFormatter(text: SubstitutionFormatter.envoyDefaultFormat)

    private static func formatter(_ config: Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> SubstitutionFormatter {
        if case .logFormat(let format) = config.accessLogFormat {
            return try formatter(format, field: "\(field).log_format", context: context)
        }
        do throws(SubstitutionFormatError) {
            switch config.accessLogFormat {
            case .format(let text): return text.isEmpty ? defaultFormatter : try SubstitutionFormatter(text: text)
            case .jsonFormat(let json), .typedJsonFormat(let json): return try SubstitutionFormatter(json: json)
            case .logFormat, nil: return defaultFormatter
            }
        } catch {
            throw context.error(error.isUnsupported ? .unsupported : .invalid, "\(field).format", error.message)
        }
    }

    private static func formatter(_ format: Envoy_Config_Core_V3_SubstitutionFormatString, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> SubstitutionFormatter {
        if !format.formatters.isEmpty {
            throw context.error(.unsupported, "\(field).formatters", "formatter extensions (\(format.formatters.map(\.name).joined(separator: ", "))) are not supported")
        }
        do {
            switch format.format {
            case .textFormat(let text):
                return try SubstitutionFormatter(text: text, omitEmptyValues: format.omitEmptyValues)
            case .jsonFormat(let json):
                return try SubstitutionFormatter(json: json, omitEmptyValues: format.omitEmptyValues)
            case .textFormatSource(let source):
                switch source.specifier {
                case .inlineString(let text): return try SubstitutionFormatter(text: text, omitEmptyValues: format.omitEmptyValues)
                case .inlineBytes(let bytes): return try SubstitutionFormatter(text: String(decoding: bytes, as: UTF8.self), omitEmptyValues: format.omitEmptyValues)
                default:
                    throw context.error(.unsupported, "\(field).text_format_source", "only inline_string and inline_bytes format sources are supported")
                }
            case nil:
                throw context.error(.invalid, field, "a substitution format string needs text_format, json_format or text_format_source")
            }
        } catch let error as SubstitutionFormatError {
            throw context.error(error.isUnsupported ? .unsupported : .invalid, field, error.message)
        } catch let error as ProxyConfigurationError {
            throw error
        } catch {
            throw context.error(.invalid, field, "\(error)")
        }
    }
}
