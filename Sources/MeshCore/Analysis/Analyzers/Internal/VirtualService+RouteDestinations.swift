/// A destination of a VirtualService together with where it sits, as Istio's routing analyzers walk them.
struct RouteDestinationReference: Sendable {
    enum Kind: Sendable {
        /// `http[].route[]`, `tcp[].route[]` or `tls[].route[]`.
        case route
        /// `http[].mirror`.
        case mirror
        /// `http[].mirrors[]`.
        case mirrors
    }

    var kind: Kind
    /// The destination; an empty one when the route leaves it out (Istio reads its fields as empty).
    var destination: Destination
    /// The path of the destination, e.g. `spec.http[0].route[1].destination`.
    var path: FieldPath

    /// The host as written, or an empty string.
    var host: String { destination.host ?? "" }
    /// The subset, or an empty string.
    var subset: String { destination.subset ?? "" }
}

extension VirtualService {
    /// Route destinations in Istio's order: tcp, then tls, then http.
    var routeDestinations: [RouteDestinationReference] {
        let spec = FieldPath("spec")
        var out: [RouteDestinationReference] = []
        for (i, rule) in (tcp ?? []).enumerated() {
            for (j, route) in (rule.route ?? []).enumerated() {
                out.append(RouteDestinationReference(
                    kind: .route, destination: route.destination ?? Destination(), path: ((spec / "tcp")[i] / "route")[j] / "destination"))
            }
        }
        for (i, rule) in (tls ?? []).enumerated() {
            for (j, route) in (rule.route ?? []).enumerated() {
                out.append(RouteDestinationReference(
                    kind: .route, destination: route.destination ?? Destination(), path: ((spec / "tls")[i] / "route")[j] / "destination"))
            }
        }
        for (i, rule) in (http ?? []).enumerated() {
            for (j, route) in (rule.route ?? []).enumerated() {
                out.append(RouteDestinationReference(
                    kind: .route, destination: route.destination ?? Destination(), path: ((spec / "http")[i] / "route")[j] / "destination"))
            }
        }
        return out
    }

    /// HTTP mirror destinations (`mirror`, then `mirrors`) of each rule.
    var mirrorDestinations: [RouteDestinationReference] {
        let spec = FieldPath("spec")
        var out: [RouteDestinationReference] = []
        for (i, rule) in (http ?? []).enumerated() {
            if let mirror = rule.mirror {
                out.append(RouteDestinationReference(kind: .mirror, destination: mirror, path: (spec / "http")[i] / "mirror"))
            }
            for (j, mirror) in (rule.mirrors ?? []).enumerated() {
                out.append(RouteDestinationReference(
                    kind: .mirrors, destination: mirror.destination ?? Destination(), path: ((spec / "http")[i] / "mirrors")[j] / "destination"))
            }
        }
        return out
    }
}

/// Formatting of message arguments the way Istio's Go templates print them.
enum RoutingMessageFormat {
    /// Go's `%v` of a list: `[a b c]`.
    static func list<T>(_ items: [T]) -> String {
        "[" + items.map { "\($0)" }.joined(separator: " ") + "]"
    }

    /// Go's `%q` of a string: double-quoted, with quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for ch in text {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(ch)
            }
        }
        return out + "\""
    }
}
