#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1

extension SubstitutionFormatter {
    /// One command operator, parsed.
    struct Command: Sendable {
        enum HeaderSource: Sendable { case request, response, trailer }

        enum Operator: Sendable {
            case startTime(StartTimeFormat)
            case header(HeaderSource, main: String, alternative: String?)
            case `protocol`
            case responseCode
            case responseFlags
            case responseCodeDetails
            case connectionTerminationDetails
            case upstreamTransportFailureReason
            case bytesReceived
            case bytesSent
            case duration
            case upstreamHost
            case upstreamCluster
            case upstreamLocalAddress(AddressPart)
            case upstreamRemoteAddress(AddressPart)
            case upstreamRequestAttemptCount
            case downstreamLocalAddress(AddressPart)
            case downstreamRemoteAddress(AddressPart)
            case downstreamPeerURISAN
            case downstreamLocalURISAN
            case downstreamPeerSubject
            case downstreamPeerFingerprint
            case downstreamTLSSession
            case requestedServerName
            case routeName
            case hostname(String)
        }

        enum AddressPart: Sendable { case full, withoutPort, port }

        let op: Operator
        let maxLength: Int?

        init(name: String, argument: String?, maxLength: Int?) throws(SubstitutionFormatError) {
            self.maxLength = maxLength
            func noArgument(_ op: Operator) throws(SubstitutionFormatError) -> Operator {
                guard argument == nil else {
                    throw SubstitutionFormatError(isUnsupported: false, message: "\(name) does not take parameters")
                }
                return op
            }
            switch name {
            case "START_TIME":
                op = .startTime(try StartTimeFormat(argument ?? ""))
            case "REQ", "RESP", "TRAILER":
                guard let argument, !argument.isEmpty else {
                    throw SubstitutionFormatError(isUnsupported: false, message: "\(name) requires parameters")
                }
                let parts = argument.split(separator: "?", omittingEmptySubsequences: false)
                guard parts.count <= 2, !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
                    throw SubstitutionFormatError(isUnsupported: false, message: "More than 1 alternative header specified in token: \(argument)")
                }
                let source: HeaderSource = name == "REQ" ? .request : name == "RESP" ? .response : .trailer
                op = .header(source, main: ASCII.lowercased(String(parts[0])), alternative: parts.count == 2 ? ASCII.lowercased(String(parts[1])) : nil)
            case "PROTOCOL", "REQUEST_PROTOCOL": op = try noArgument(.protocol)
            case "RESPONSE_CODE": op = try noArgument(.responseCode)
            case "RESPONSE_FLAGS": op = try noArgument(.responseFlags)
            case "RESPONSE_CODE_DETAILS": op = try noArgument(.responseCodeDetails)
            case "CONNECTION_TERMINATION_DETAILS": op = try noArgument(.connectionTerminationDetails)
            case "UPSTREAM_TRANSPORT_FAILURE_REASON": op = try noArgument(.upstreamTransportFailureReason)
            case "BYTES_RECEIVED": op = try noArgument(.bytesReceived)
            case "BYTES_SENT": op = try noArgument(.bytesSent)
            case "DURATION": op = try noArgument(.duration)
            case "UPSTREAM_HOST": op = try noArgument(.upstreamHost)
            // No `alt_stat_name` in this proxy: the observability name is the cluster name.
            case "UPSTREAM_CLUSTER", "UPSTREAM_CLUSTER_RAW": op = try noArgument(.upstreamCluster)
            case "UPSTREAM_LOCAL_ADDRESS": op = try noArgument(.upstreamLocalAddress(.full))
            case "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT": op = try noArgument(.upstreamLocalAddress(.withoutPort))
            case "UPSTREAM_LOCAL_PORT": op = try noArgument(.upstreamLocalAddress(.port))
            case "UPSTREAM_REMOTE_ADDRESS": op = try noArgument(.upstreamRemoteAddress(.full))
            case "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": op = try noArgument(.upstreamRemoteAddress(.withoutPort))
            case "UPSTREAM_REMOTE_PORT": op = try noArgument(.upstreamRemoteAddress(.port))
            case "UPSTREAM_REQUEST_ATTEMPT_COUNT": op = try noArgument(.upstreamRequestAttemptCount)
            case "DOWNSTREAM_LOCAL_ADDRESS": op = try noArgument(.downstreamLocalAddress(.full))
            case "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT": op = try noArgument(.downstreamLocalAddress(.withoutPort))
            case "DOWNSTREAM_LOCAL_PORT": op = try noArgument(.downstreamLocalAddress(.port))
            // No PROXY protocol or trusted XFF hops: the direct peer is the remote address.
            case "DOWNSTREAM_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS": op = try noArgument(.downstreamRemoteAddress(.full))
            case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT":
                op = try noArgument(.downstreamRemoteAddress(.withoutPort))
            case "DOWNSTREAM_REMOTE_PORT", "DOWNSTREAM_DIRECT_REMOTE_PORT": op = try noArgument(.downstreamRemoteAddress(.port))
            case "DOWNSTREAM_PEER_URI_SAN": op = try noArgument(.downstreamPeerURISAN)
            case "DOWNSTREAM_LOCAL_URI_SAN": op = try noArgument(.downstreamLocalURISAN)
            case "DOWNSTREAM_PEER_SUBJECT": op = try noArgument(.downstreamPeerSubject)
            case "DOWNSTREAM_PEER_FINGERPRINT_256": op = try noArgument(.downstreamPeerFingerprint)
            case "REQUESTED_SERVER_NAME": op = try noArgument(.requestedServerName)
            case "ROUTE_NAME": op = try noArgument(.routeName)
            case "HOSTNAME": op = try noArgument(.hostname(Self.systemHostname()))
            default:
                throw SubstitutionFormatError(isUnsupported: true, message: "command operator %\(name)% is not supported by the Swift proxy")
            }
        }

        func evaluate(_ entry: AccessLogEntry) -> SubstitutionFormatter.Value {
            let value = rawValue(entry)
            guard let maxLength, case .string(let s) = value, s.utf8.count > maxLength else { return value }
            return .string(String(decoding: s.utf8.prefix(maxLength), as: UTF8.self))
        }

        private func rawValue(_ entry: AccessLogEntry) -> SubstitutionFormatter.Value {
            func string(_ s: String?) -> SubstitutionFormatter.Value { s.map { $0.isEmpty ? .missing : .string($0) } ?? .missing }
            switch op {
            case .startTime(let format): return .string(format.format(entry.startTime))
            case .header(let source, let main, let alternative):
                if let value = header(source, main, entry) { return .string(value) }
                if let alternative, let value = header(source, alternative, entry) { return .string(value) }
                return .missing
            case .protocol:
                guard let version = entry.request?.version else { return .missing }
                if version.major == 2 { return .string("HTTP/2") }
                if version.major == 3 { return .string("HTTP/3") }
                return .string("HTTP/\(version.major).\(version.minor)")
            case .responseCode: return .number(Int64(entry.responseCode))
            case .responseFlags: return .string(entry.responseFlags.description)
            case .responseCodeDetails: return string(entry.responseCodeDetails)
            case .connectionTerminationDetails: return string(entry.connectionTerminationDetails)
            case .upstreamTransportFailureReason: return string(entry.upstreamTransportFailureReason)
            case .bytesReceived: return .number(Int64(entry.bytesReceived))
            case .bytesSent: return .number(Int64(entry.bytesSent))
            case .duration: return .number(entry.durationNanoseconds / 1_000_000)
            case .upstreamHost:
                if entry.upstreamRemoteAddress != nil { return Self.address(entry.upstreamRemoteAddress, .full) }
                return string(entry.upstreamHost)
            case .upstreamCluster: return string(entry.upstreamCluster)
            case .upstreamLocalAddress(let part): return Self.address(entry.upstreamLocalAddress, part)
            case .upstreamRemoteAddress(let part):
                if entry.upstreamRemoteAddress == nil, part == .full { return string(entry.upstreamHost) }
                return Self.address(entry.upstreamRemoteAddress, part)
            case .upstreamRequestAttemptCount: return .number(Int64(entry.upstreamRequestAttemptCount))
            case .downstreamLocalAddress(let part): return Self.address(entry.downstreamLocalAddress, part)
            case .downstreamRemoteAddress(let part): return Self.address(entry.downstreamRemoteAddress, part)
            case .downstreamPeerURISAN:
                guard let tls = entry.downstreamTLS, !tls.peerURISANs.isEmpty else { return .missing }
                return .string(tls.peerURISANs.joined(separator: ","))
            case .downstreamLocalURISAN:
                guard let tls = entry.downstreamTLS, !tls.localURISANs.isEmpty else { return .missing }
                return .string(tls.localURISANs.joined(separator: ","))
            case .downstreamPeerSubject: return string(entry.downstreamTLS?.peerSubject)
            case .downstreamPeerFingerprint: return string(entry.downstreamTLS?.peerCertificateSHA256)
            case .downstreamTLSSession: return .missing
            case .requestedServerName: return string(entry.requestedServerName ?? entry.downstreamTLS?.serverName)
            case .routeName: return string(entry.routeName)
            case .hostname(let name): return .string(name)
            }
        }

        private func header(_ source: HeaderSource, _ name: String, _ entry: AccessLogEntry) -> String? {
            switch source {
            case .request:
                guard let request = entry.request else { return nil }
                switch name {
                case ":method": return request.method.rawValue
                case ":path": return request.uri
                case ":authority": return request.headers.first(name: "host")
                case ":scheme": return entry.scheme
                default: return request.headers.first(name: name)
                }
            case .response:
                guard let response = entry.response else { return nil }
                if name == ":status" { return String(response.status.code) }
                return response.headers.first(name: name)
            case .trailer:
                return entry.responseTrailers?.first(name: name)
            }
        }

        /// Envoy's address text: `1.2.3.4:80`, `[::1]:80`.
        static func address(_ address: SocketAddress?, _ part: AddressPart) -> SubstitutionFormatter.Value {
            guard let address, let ip = address.ipAddress else {
                if let path = address?.pathname { return part == .port ? .missing : .string(path) }
                return .missing
            }
            let port = address.port ?? 0
            switch part {
            case .full:
                if case .v6 = address { return .string("[\(ip)]:\(port)") }
                return .string("\(ip):\(port)")
            case .withoutPort: return .string(ip)
            case .port: return .number(Int64(port))
            }
        }

        static func systemHostname() -> String {
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count) == 0 else { return "-" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// `%START_TIME(...)%`: strftime in UTC plus Envoy's `%f`/`%<n>f` (fractional seconds),
    /// `%E<n>S` (seconds with `n` fractional digits) and `%s` (epoch seconds); empty means
    /// Envoy's default `%Y-%m-%dT%H:%M:%E3SZ`.
    struct StartTimeFormat: Sendable {
        enum Piece: Sendable {
            case strftime(String)
            case fraction(digits: Int)
            case secondsWithFraction(digits: Int)
            case epochSeconds
        }

        let pieces: [Piece]

        init(_ format: String) throws(SubstitutionFormatError) {
            let format = format.isEmpty ? "%Y-%m-%dT%H:%M:%E3SZ" : format
            var pieces: [Piece] = []
            var pending = ""
            let chars = Array(format)
            var i = 0
            func flush() { if !pending.isEmpty { pieces.append(.strftime(pending)); pending = "" } }
            while i < chars.count {
                if chars[i] == "%", i + 1 < chars.count {
                    let next = chars[i + 1]
                    if next == "f" { flush(); pieces.append(.fraction(digits: 9)); i += 2; continue }
                    if next == "s" { flush(); pieces.append(.epochSeconds); i += 2; continue }
                    if let digit = next.wholeNumberValue, i + 2 < chars.count, chars[i + 2] == "f" {
                        flush(); pieces.append(.fraction(digits: digit)); i += 3; continue
                    }
                    if next == "E", i + 3 < chars.count, chars[i + 3] == "S" {
                        if chars[i + 2] == "f" { flush(); pieces.append(.secondsWithFraction(digits: 9)); i += 4; continue }
                        if let digit = chars[i + 2].wholeNumberValue { flush(); pieces.append(.secondsWithFraction(digits: digit)); i += 4; continue }
                    }
                    pending.append(chars[i])
                    pending.append(next)
                    i += 2
                    continue
                }
                pending.append(chars[i])
                i += 1
            }
            flush()
            self.pieces = pieces
        }

        func format(_ time: WallClockTime) -> String {
            var seconds = time_t(time.seconds)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var out = ""
            for piece in pieces {
                switch piece {
                case .strftime(let pattern):
                    var buffer = [CChar](repeating: 0, count: 256)
                    let count = strftime(&buffer, buffer.count, pattern, &parts)
                    out += String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                case .fraction(let digits):
                    out += Self.fraction(time.nanoseconds, digits: digits)
                case .secondsWithFraction(let digits):
                    let s = Int(parts.tm_sec)
                    out += (s < 10 ? "0" : "") + String(s)
                    if digits > 0 { out += "." + Self.fraction(time.nanoseconds, digits: digits) }
                case .epochSeconds:
                    out += String(time.seconds)
                }
            }
            return out
        }

        static func fraction(_ nanoseconds: Int64, digits: Int) -> String {
            let digits = min(max(digits, 1), 9)
            let text = String(nanoseconds)
            let padded = String(repeating: "0", count: 9 - text.count) + text
            return String(padded.prefix(digits))
        }
    }
}
