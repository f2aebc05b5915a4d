internal import Foundation
internal import MeshXDS
public import NIOHTTP1

/// How a configured header joins the headers already present (`HeaderValueOption.append_action`).
public enum HeaderAppendAction: Sendable, Hashable {
    /// Adds another value, keeping existing ones (the default).
    case appendIfExistsOrAdd
    /// Adds the header only when it is absent.
    case addIfAbsent
    /// Replaces every existing value, or adds the header.
    case overwriteIfExistsOrAdd
    /// Replaces every existing value; does nothing when the header is absent.
    case overwriteIfExists
}

/// One header a route adds to a request or response.
public struct HeaderAddition: Sendable, Hashable {
    /// The header name, lowercased.
    public let name: String
    /// The value, possibly with `%COMMAND%` formatters.
    public let value: HeaderValueFormat
    /// How the value joins existing ones.
    public let appendAction: HeaderAppendAction
    /// Whether an empty value is still added (`keep_empty_value`); Envoy skips it otherwise.
    public let keepEmptyValue: Bool
}

/// The header operations of one configuration level (weighted cluster, route, virtual host or
/// route configuration): its removals, then its additions.
public struct HeaderMutationLevel: Sendable, Hashable {
    /// Header names removed first, lowercased.
    public let remove: [String]
    /// Headers added after the removals, in configuration order.
    public let add: [HeaderAddition]

    /// Whether the level does nothing.
    public var isEmpty: Bool { remove.isEmpty && add.isEmpty }

    static let empty = HeaderMutationLevel(remove: [], add: [])

    init(remove: [String], add: [HeaderAddition]) {
        self.remove = remove
        self.add = add
    }

    init(
        add options: [Envoy_Config_Core_V3_HeaderValueOption],
        remove names: [String],
        field prefix: String,
        direction: String,
        _ context: RouteConfigurationContext
    ) throws(ProxyConfigurationError) {
        var removals: [String] = []
        for (i, name) in names.enumerated() {
            let field = "\(prefix)\(direction)_headers_to_remove[\(i)]"
            let lower = ASCII.lowercased(name)
            guard !lower.isEmpty else { throw context.invalid(field, "header name is empty") }
            guard Self.isModifiable(lower) else {
                throw context.invalid(field, "\"\(name)\" may not be removed (pseudo-headers and host are not modifiable)")
            }
            removals.append(lower)
        }
        var additions: [HeaderAddition] = []
        for (i, option) in options.enumerated() {
            let field = "\(prefix)\(direction)_headers_to_add[\(i)]"
            guard option.hasHeader else { throw context.invalid(field + ".header", "a header value option needs a header") }
            let name = ASCII.lowercased(option.header.key)
            guard !name.isEmpty else { throw context.invalid(field + ".header.key", "header name is empty") }
            guard Self.isModifiable(name) else {
                throw context.invalid(field + ".header.key", "\"\(option.header.key)\" may not be modified (pseudo-headers and host are not modifiable)")
            }
            guard name.utf8.allSatisfy(Self.isTokenByte) else {
                throw context.invalid(field + ".header.key", "\"\(option.header.key)\" is not a valid header name")
            }
            if !option.header.value.isEmpty, !option.header.rawValue.isEmpty {
                throw context.invalid(field + ".header", "only one of value and raw_value may be set")
            }
            let rawText: String
            if option.header.rawValue.isEmpty {
                rawText = option.header.value
            } else {
                guard let text = String(validating: option.header.rawValue, as: UTF8.self) else {
                    throw context.unsupported(field + ".header.raw_value", "header values that are not UTF-8 are not supported")
                }
                rawText = text
            }
            guard !ASCII.containsLineBreakOrNUL(rawText) else {
                throw context.invalid(field + ".header.value", "a header value may not contain NUL, CR or LF")
            }
            let value: HeaderValueFormat
            do {
                value = try HeaderValueFormat(parsing: rawText)
            } catch {
                throw error.isUnsupported
                    ? context.unsupported(field + ".header.value", error.message)
                    : context.invalid(field + ".header.value", error.message)
            }
            let action: HeaderAppendAction
            if option.hasAppend {
                guard option.appendAction == .appendIfExistsOrAdd else {
                    throw context.invalid(field, "append and append_action are both set")
                }
                action = option.append.value ? .appendIfExistsOrAdd : .overwriteIfExistsOrAdd
            } else {
                switch option.appendAction {
                case .appendIfExistsOrAdd: action = .appendIfExistsOrAdd
                case .addIfAbsent: action = .addIfAbsent
                case .overwriteIfExistsOrAdd: action = .overwriteIfExistsOrAdd
                case .overwriteIfExists: action = .overwriteIfExists
                case .UNRECOGNIZED(let raw): throw context.invalid(field + ".append_action", "unknown append action \(raw)")
                }
            }
            additions.append(HeaderAddition(name: name, value: value, appendAction: action, keepEmptyValue: option.keepEmptyValue))
        }
        self.init(remove: removals, add: additions)
    }

    static func isModifiable(_ lowercasedName: String) -> Bool {
        !lowercasedName.hasPrefix(":") && lowercasedName != "host"
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Applies this level as Envoy's header parser does: removals first; then every value is
    /// formatted against the headers as they stand; overwrites are applied, then appends.
    func apply(to headers: inout HTTPHeaders, context: HeaderFormatterContext) {
        for name in remove { headers.remove(name: name) }
        if add.isEmpty { return }
        var overwrites: [(String, String)] = []
        var appends: [(String, String)] = []
        for addition in add {
            let value = addition.value.format(context)
            if value.isEmpty, !addition.keepEmptyValue { continue }
            switch addition.appendAction {
            case .appendIfExistsOrAdd:
                appends.append((addition.name, value))
            case .addIfAbsent:
                if !headers.contains(name: addition.name) { appends.append((addition.name, value)) }
            case .overwriteIfExists:
                if headers.contains(name: addition.name) { overwrites.append((addition.name, value)) }
            case .overwriteIfExistsOrAdd:
                overwrites.append((addition.name, value))
            }
        }
        for (name, value) in overwrites { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in appends { headers.add(name: name, value: value) }
    }
}

/// The request or response header operations for a route, as ordered levels applied one after
/// another.
///
/// Envoy's order is the most specific level first — weighted cluster, route, virtual host, route
/// configuration — so a less specific level's overwrite wins; `most_specific_header_mutations_wins`
/// reverses it.
public struct HeaderMutations: Sendable, Hashable {
    /// The levels, in the order they are applied.
    public let levels: [HeaderMutationLevel]

    /// No operations.
    public static let none = HeaderMutations(levels: [])

    /// - Parameter levels: The levels, in application order; empty ones are dropped.
    public init(levels: [HeaderMutationLevel]) {
        self.levels = levels.filter { !$0.isEmpty }
    }

    /// Whether applying does nothing.
    public var isEmpty: Bool { levels.isEmpty }

    /// Applies every level to `headers`.
    /// - Parameters:
    ///   - headers: The request's or response's headers.
    ///   - context: What `%COMMAND%` formatters read; the default knows nothing.
    public func apply(to headers: inout HTTPHeaders, context: HeaderFormatterContext = HeaderFormatterContext()) {
        for level in levels { level.apply(to: &headers, context: context) }
    }
}
