#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1
public import SwiftProtobuf

/// Why a format string cannot be used, with Envoy's wording where it has one.
public struct SubstitutionFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// True when the format is valid for Envoy but uses something this proxy does not implement.
    public var isUnsupported: Bool
    /// What is wrong.
    public var message: String
    public var description: String { message }
}

/// Envoy's substitution format: a text line or a JSON object of command operators
/// (`%REQ(:METHOD)%`, `%RESPONSE_CODE%`, `%START_TIME(%s)%`...) evaluated against an
/// ``AccessLogEntry``. Missing values print `-` in text and `null` in JSON; in JSON, a value that
/// is exactly one numeric operator keeps its type.
public struct SubstitutionFormatter: Sendable {
    /// A value an operator produced.
    enum Value {
        case string(String)
        case number(Int64)
        case missing
    }

    enum Segment: Sendable {
        case literal(String)
        case command(Command)
    }

    indirect enum JSONTemplate: Sendable {
        case object([(key: String, value: JSONTemplate)])
        case list([JSONTemplate])
        case segments([Segment])
        case literalNumber(Double)
        case literalBool(Bool)
        case null
    }

    enum Body: Sendable {
        case text([Segment])
        case json(JSONTemplate)
    }

    let body: Body
    /// `omit_empty_values`: missing values print nothing in text and are left out of JSON.
    let omitEmptyValues: Bool

    /// Envoy's default access log format (no format configured).
    public static let envoyDefaultFormat = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
        + "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "
        + "\"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n"

    /// A text format (`text_format`, `text_format_source.inline_string`).
    public init(text: String, omitEmptyValues: Bool = false) throws(SubstitutionFormatError) {
        body = .text(try Self.parse(text))
        self.omitEmptyValues = omitEmptyValues
    }

    /// A JSON format (`json_format`): one object per line.
    public init(json: Google_Protobuf_Struct, omitEmptyValues: Bool = false) throws(SubstitutionFormatError) {
        body = .json(try Self.template(json))
        self.omitEmptyValues = omitEmptyValues
    }

    /// The line for `entry` (text formats carry their own newline; JSON lines get one).
    public func format(_ entry: AccessLogEntry) -> String {
        switch body {
        case .text(let segments):
            var out = ""
            for segment in segments {
                switch segment {
                case .literal(let text): out += text
                case .command(let command):
                    switch command.evaluate(entry) {
                    case .string(let s): out += s
                    case .number(let n): out += String(n)
                    case .missing: if !omitEmptyValues { out += "-" }
                    }
                }
            }
            return out
        case .json(let template):
            var out = ""
            _ = render(template, entry, into: &out)
            out += "\n"
            return out
        }
    }

    /// Appends `template`'s JSON; false when the value is missing and left out.
    private func render(_ template: JSONTemplate, _ entry: AccessLogEntry, into out: inout String) -> Bool {
        switch template {
        case .object(let members):
            out += "{"
            var first = true
            for member in members {
                var value = ""
                guard render(member.value, entry, into: &value) else { continue }
                if !first { out += "," }
                first = false
                Self.appendJSONString(member.key, to: &out)
                out += ":"
                out += value
            }
            out += "}"
            return true
        case .list(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                if !render(item, entry, into: &out) { out += "null" }
            }
            out += "]"
            return true
        case .literalNumber(let number):
            out += number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            return true
        case .literalBool(let value):
            out += value ? "true" : "false"
            return true
        case .null:
            out += "null"
            return true
        case .segments(let segments):
            if segments.count == 1, case .command(let command) = segments[0] {
                switch command.evaluate(entry) {
                case .string(let s): Self.appendJSONString(s, to: &out)
                case .number(let n): out += String(n)
                case .missing:
                    if omitEmptyValues { return false }
                    out += "null"
                }
                return true
            }
            var text = ""
            for segment in segments {
                switch segment {
                case .literal(let literal): text += literal
                case .command(let command):
                    switch command.evaluate(entry) {
                    case .string(let s): text += s
                    case .number(let n): text += String(n)
                    case .missing: if !omitEmptyValues { text += "-" }
                    }
                }
            }
            Self.appendJSONString(text, to: &out)
            return true
        }
    }

    static func appendJSONString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func template(_ value: Google_Protobuf_Struct) throws(SubstitutionFormatError) -> JSONTemplate {
        var members: [(key: String, value: JSONTemplate)] = []
        // Sorted keys: the same line for the same entry, whatever the map's order.
        for key in value.fields.keys.sorted() {
            members.append((key, try template(value.fields[key]!)))
        }
        return .object(members)
    }

    private static func template(_ value: Google_Protobuf_Value) throws(SubstitutionFormatError) -> JSONTemplate {
        switch value.kind {
        case .stringValue(let s): return .segments(try parse(s))
        case .numberValue(let n): return .literalNumber(n)
        case .boolValue(let b): return .literalBool(b)
        case .structValue(let s): return try template(s)
        case .listValue(let list):
            var items: [JSONTemplate] = []
            for item in list.values { items.append(try template(item)) }
            return .list(items)
        case .nullValue, nil: return .null
        }
    }

    // MARK: Parsing

    /// Splits a format into literal text and commands, as Envoy's parser does: every `%` starts a
    /// command `%NAME%`, `%NAME(arg)%` or `%NAME(arg):max_length%`.
    static func parse(_ format: String) throws(SubstitutionFormatError) -> [Segment] {
        let bytes = Array(format.utf8)
        var segments: [Segment] = []
        var literal: [UInt8] = []
        var i = 0
        func isNameByte(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
        }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "%") else {
                literal.append(bytes[i])
                i += 1
                continue
            }
            let start = i
            var j = i + 1
            while j < bytes.count, isNameByte(bytes[j]) { j += 1 }
            let name = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
            var argument: String?
            if j < bytes.count, bytes[j] == UInt8(ascii: "(") {
                guard let close = bytes[(j + 1)...].firstIndex(of: UInt8(ascii: ")")) else {
                    throw invalid(format, at: start)
                }
                argument = String(decoding: bytes[(j + 1)..<close], as: UTF8.self)
                j = close + 1
            }
            var maxLength: Int?
            if j < bytes.count, bytes[j] == UInt8(ascii: ":") {
                var k = j + 1
                while k < bytes.count, bytes[k] >= UInt8(ascii: "0"), bytes[k] <= UInt8(ascii: "9") { k += 1 }
                guard k > j + 1, let length = Int(String(decoding: bytes[(j + 1)..<k], as: UTF8.self)) else { throw invalid(format, at: start) }
                maxLength = length
                j = k
            }
            guard !name.isEmpty, j < bytes.count, bytes[j] == UInt8(ascii: "%") else { throw invalid(format, at: start) }
            if !literal.isEmpty {
                segments.append(.literal(String(decoding: literal, as: UTF8.self)))
                literal = []
            }
            segments.append(.command(try Command(name: name, argument: argument, maxLength: maxLength)))
            i = j + 1
        }
        if !literal.isEmpty { segments.append(.literal(String(decoding: literal, as: UTF8.self))) }
        return segments
    }

    private static func invalid(_ format: String, at position: Int) -> SubstitutionFormatError {
        SubstitutionFormatError(isUnsupported: false, message: "Incorrect configuration: \(format). Couldn't find valid command at position \(position)")
    }
}
