internal import MeshXDS
public import NIOHTTP1

/// Envoy's `type.matcher.v3.StringMatcher`, compiled: exact, prefix, suffix, contains (optionally
/// ignoring ASCII case) or a whole-string regex.
struct StringMatcher: Sendable {
    enum Pattern: Sendable {
        case exact(String)
        case prefix(String)
        case suffix(String)
        case contains(String)
        case regex(CompiledRegex)
    }

    let pattern: Pattern
    let ignoreCase: Bool

    init(pattern: Pattern, ignoreCase: Bool) {
        self.ignoreCase = ignoreCase
        switch pattern {
        case .exact(let s) where ignoreCase: self.pattern = .exact(ASCII.lowercased(s))
        case .prefix(let s) where ignoreCase: self.pattern = .prefix(ASCII.lowercased(s))
        case .suffix(let s) where ignoreCase: self.pattern = .suffix(ASCII.lowercased(s))
        case .contains(let s) where ignoreCase: self.pattern = .contains(ASCII.lowercased(s))
        default: self.pattern = pattern
        }
    }

    init(_ proto: Envoy_Type_Matcher_V3_StringMatcher, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        let ignoreCase = proto.ignoreCase
        switch proto.matchPattern {
        case .exact(let s): self.init(pattern: .exact(s), ignoreCase: ignoreCase)
        case .prefix(let s):
            guard !s.isEmpty else { throw context.invalid(field + ".prefix", "must not be empty") }
            self.init(pattern: .prefix(s), ignoreCase: ignoreCase)
        case .suffix(let s):
            guard !s.isEmpty else { throw context.invalid(field + ".suffix", "must not be empty") }
            self.init(pattern: .suffix(s), ignoreCase: ignoreCase)
        case .contains(let s):
            guard !s.isEmpty else { throw context.invalid(field + ".contains", "must not be empty") }
            self.init(pattern: .contains(s), ignoreCase: ignoreCase)
        case .safeRegex(let regex):
            guard !ignoreCase else {
                throw context.invalid(field + ".ignore_case", "ignore_case has no effect for safe_regex; use (?i) in the pattern")
            }
            self.init(pattern: .regex(try context.regex(regex, field + ".safe_regex")), ignoreCase: false)
        case nil:
            throw context.invalid(field, "a string matcher needs one of exact, prefix, suffix, contains or safe_regex")
        }
    }

    func matches(_ value: Substring) -> Bool {
        switch pattern {
        case .exact(let s): ASCII.equals(value, s, ignoringCase: ignoreCase)
        case .prefix(let s): ASCII.hasPrefix(value, s, ignoringCase: ignoreCase)
        case .suffix(let s): ASCII.hasSuffix(value, s, ignoringCase: ignoreCase)
        case .contains(let s): ASCII.contains(value, s, ignoringCase: ignoreCase)
        case .regex(let regex): regex.wholeMatch(value)
        }
    }
}

/// Envoy's `route.v3.HeaderMatcher`, compiled: used by route matching and by a retry policy's
/// `retriable_headers` / `retriable_request_headers`.
///
/// Semantics follow Envoy: the values of a repeated header are joined with `,` before matching; an
/// absent header matches only `present_match: false` (or, inverted, `present_match: true`) unless
/// `treat_missing_header_as_empty` is set; `invert_match` negates the result; regexes match the whole
/// value; a matcher with no specifier checks presence.
public struct HeaderMatcher: Sendable {
    enum Kind: Sendable {
        case exact(String)
        case regex(CompiledRegex)
        case range(start: Int64, end: Int64)
        case present(Bool)
        case prefix(String)
        case suffix(String)
        case contains(String)
        case string(StringMatcher)
    }

    /// The header name, lowercased. Pseudo-headers (`:method`, `:path`, `:authority`, `:scheme`) are
    /// read from the request line when matching routes, and so is `host` (as the authority; Envoy
    /// stores Host as `:authority` and would find no `host` header at all).
    public let name: String
    let kind: Kind
    let invert: Bool
    let treatMissingAsEmpty: Bool

    init(_ proto: Envoy_Config_Route_V3_HeaderMatcher, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        guard !proto.name.isEmpty else { throw context.invalid(field + ".name", "a header matcher needs a header name") }
        name = ASCII.lowercased(proto.name)
        invert = proto.invertMatch
        treatMissingAsEmpty = proto.treatMissingHeaderAsEmpty
        switch proto.headerMatchSpecifier {
        case .exactMatch(let s): kind = .exact(s)
        case .safeRegexMatch(let regex): kind = .regex(try context.regex(regex, field + ".safe_regex_match"))
        case .rangeMatch(let range):
            guard range.start <= range.end else {
                throw context.invalid(field + ".range_match", "start \(range.start) is greater than end \(range.end)")
            }
            kind = .range(start: range.start, end: range.end)
        case .presentMatch(let present): kind = .present(present)
        case .prefixMatch(let s):
            guard !s.isEmpty else { throw context.invalid(field + ".prefix_match", "must not be empty") }
            kind = .prefix(s)
        case .suffixMatch(let s):
            guard !s.isEmpty else { throw context.invalid(field + ".suffix_match", "must not be empty") }
            kind = .suffix(s)
        case .containsMatch(let s):
            guard !s.isEmpty else { throw context.invalid(field + ".contains_match", "must not be empty") }
            kind = .contains(s)
        case .stringMatch(let matcher): kind = .string(try StringMatcher(matcher, field + ".string_match", context))
        case nil: kind = .present(true)
        }
    }

    /// Whether `headers` (a request's or a response's) satisfy this matcher.
    public func matches(_ headers: HTTPHeaders) -> Bool {
        matches(value: headers.joinedValue(lowercasedName: name))
    }

    /// Matches the joined header value, nil when the header is absent.
    func matches(value: String?) -> Bool {
        guard let value = value ?? (treatMissingAsEmpty ? "" : nil) else {
            if case .present(let present) = kind { return invert ? present : !present }
            return false
        }
        let text = value[...]
        let matched: Bool
        switch kind {
        case .exact(let s): matched = s.isEmpty || ASCII.equals(text, s, ignoringCase: false)
        case .regex(let regex): matched = regex.wholeMatch(text)
        case .range(let start, let end):
            if let number = Int64(value.trimmingASCIIWhitespace()) {
                matched = number >= start && number < end
            } else {
                matched = false
            }
        case .present(let present): matched = present
        case .prefix(let s): matched = ASCII.hasPrefix(text, s, ignoringCase: false)
        case .suffix(let s): matched = ASCII.hasSuffix(text, s, ignoringCase: false)
        case .contains(let s): matched = ASCII.contains(text, s, ignoringCase: false)
        case .string(let matcher): matched = matcher.matches(text)
        }
        return matched != invert
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}

/// Envoy's `route.v3.QueryParameterMatcher`: the first value of a parameter (not percent-decoded)
/// against a string matcher, or presence.
struct QueryParameterMatcher: Sendable {
    let name: String
    let matcher: StringMatcher?

    init(_ proto: Envoy_Config_Route_V3_QueryParameterMatcher, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        guard !proto.name.isEmpty else { throw context.invalid(field + ".name", "a query parameter matcher needs a name") }
        name = proto.name
        switch proto.queryParameterMatchSpecifier {
        case .stringMatch(let m): matcher = try StringMatcher(m, field + ".string_match", context)
        case .presentMatch, nil: matcher = nil
        }
    }

    func matches(query: Substring?) -> Bool {
        guard let query, let value = ASCII.firstQueryValue(query, name: name) else { return false }
        return matcher?.matches(value) ?? true
    }
}
