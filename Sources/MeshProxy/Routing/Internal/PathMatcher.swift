internal import MeshXDS

/// A route's path specifier, compiled; `prefix` and `path` are stored lowercased when the route is
/// case-insensitive. Paths are matched without their query and fragment.
struct PathMatcher: Sendable {
    enum Specifier: Sendable {
        case prefix(String)
        case exact(String)
        case regex(CompiledRegex)
        case separatedPrefix(String)
        case connect
    }

    let specifier: Specifier
    let ignoreCase: Bool
    let ignorePathParameters: Bool

    init(_ match: Envoy_Config_Route_V3_RouteMatch, _ field: String, ignorePathParameters: Bool, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        let caseSensitive = match.hasCaseSensitive ? match.caseSensitive.value : true
        self.ignorePathParameters = ignorePathParameters
        switch match.pathSpecifier {
        case .prefix(let prefix):
            ignoreCase = !caseSensitive
            specifier = .prefix(caseSensitive ? prefix : ASCII.lowercased(prefix))
        case .path(let path):
            ignoreCase = !caseSensitive
            specifier = .exact(caseSensitive ? path : ASCII.lowercased(path))
        case .safeRegex(let regex):
            // case_sensitive does not apply to regexes (use (?i) in the pattern).
            ignoreCase = false
            specifier = .regex(try context.regex(regex, field + ".safe_regex"))
        case .pathSeparatedPrefix(let prefix):
            let bytes = Array(prefix.utf8)
            guard !bytes.isEmpty, bytes.last != UInt8(ascii: "/"),
                  !bytes.contains(UInt8(ascii: "?")), !bytes.contains(UInt8(ascii: "#")) else {
                throw context.invalid(field + ".path_separated_prefix", "\"\(prefix)\" must be non-empty, must not end with \"/\" and must not contain \"?\" or \"#\"")
            }
            ignoreCase = !caseSensitive
            specifier = .separatedPrefix(caseSensitive ? prefix : ASCII.lowercased(prefix))
        case .connectMatcher:
            ignoreCase = false
            specifier = .connect
        case .pathMatchPolicy(let policy):
            throw context.unsupported(field + ".path_match_policy", "path match policy \"\(policy.name)\" (URI templates) is not supported")
        case nil:
            throw context.invalid(field, "a route match needs a path specifier (prefix, path, safe_regex, path_separated_prefix or connect_matcher)")
        }
    }

    /// The path Envoy matches: no query or fragment, and with `ignore_path_parameters_in_path_matching`
    /// cut at the first `;`.
    @inline(__always)
    func matchablePath(_ path: String) -> Substring {
        let base = ASCII.pathWithoutQuery(path)
        if ignorePathParameters, let semicolon = base.utf8.firstIndex(of: UInt8(ascii: ";")) {
            return base[..<semicolon]
        }
        return base
    }

    func matches(_ request: RouteRequest) -> Bool {
        if case .connect = specifier { return request.method == "CONNECT" }
        let path = matchablePath(request.path)
        switch specifier {
        case .prefix(let prefix): return ASCII.hasPrefix(path, prefix, ignoringCase: ignoreCase)
        case .exact(let exact): return ASCII.equals(path, exact, ignoringCase: ignoreCase)
        case .regex(let regex): return regex.wholeMatch(path)
        case .separatedPrefix(let prefix):
            guard ASCII.hasPrefix(path, prefix, ignoringCase: ignoreCase) else { return false }
            let count = prefix.utf8.count
            guard path.utf8.count > count else { return true }
            return path.utf8[path.utf8.index(path.utf8.startIndex, offsetBy: count)] == UInt8(ascii: "/")
        case .connect: return false
        }
    }

    /// How many leading bytes of a matched request path a `prefix_rewrite` replaces: the prefix
    /// for prefix matches, the whole path (without query) for exact, regex and CONNECT matches.
    func rewrittenPrefixLength(_ path: String) -> Int {
        switch specifier {
        case .prefix(let prefix), .separatedPrefix(let prefix): prefix.utf8.count
        case .exact, .regex, .connect: matchablePath(path).utf8.count
        }
    }
}

/// `RegexMatchAndSubstitute` compiled.
enum RouteRegexRewrite {
    static func compile(
        _ proto: Envoy_Type_Matcher_V3_RegexMatchAndSubstitute,
        _ field: String,
        _ context: RouteConfigurationContext
    ) throws(ProxyConfigurationError) -> (CompiledRegex, RegexSubstitution) {
        guard proto.hasPattern else { throw context.invalid(field + ".pattern", "a regex rewrite needs a pattern") }
        let regex = try context.regex(proto.pattern, field + ".pattern")
        do {
            return (regex, try RegexSubstitution(proto.substitution, captureCount: regex.captureCount))
        } catch {
            throw context.invalid(field + ".substitution", error.message)
        }
    }
}

/// How a forwarded or redirected request's path changes.
enum PathRewrite: Sendable {
    case prefix(String)
    case regex(CompiledRegex, RegexSubstitution)

    /// The new path (with the original query) for a request the route matched.
    func apply(to path: String, matcher: PathMatcher) -> String {
        switch self {
        case .prefix(let replacement):
            let utf8 = path.utf8
            let count = min(matcher.rewrittenPrefixLength(path), utf8.count)
            return replacement + path[utf8.index(utf8.startIndex, offsetBy: count)...]
        case .regex(let regex, let substitution):
            let base = ASCII.pathWithoutQuery(path)
            return regex.replaceAll(in: base, with: substitution) + path[base.endIndex...]
        }
    }
}
