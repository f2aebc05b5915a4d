import Foundation
import SwiftProtobuf
import Synchronization

/// Parsed per-route configurations keyed by their serialized bytes, so a route's
/// `typed_per_filter_config` is parsed once, not on every request. Bounded: it starts over
/// when it holds too many entries (configs of routes that no longer exist).
final class ParsedConfigCache<Value: Sendable>: Sendable {
    private let storage = Mutex<[Key: Value]>([:])
    private static var limit: Int { 4096 }

    private struct Key: Hashable, Sendable {
        var typeURL: String
        var bytes: Data
    }

    func value(for config: Google_Protobuf_Any, parse: (Google_Protobuf_Any) throws -> Value) throws -> Value {
        let key = Key(typeURL: config.typeURL, bytes: config.value)
        if let cached = storage.withLock({ $0[key] }) { return cached }
        let parsed = try parse(config)
        storage.withLock { storage in
            if storage.count >= Self.limit { storage.removeAll() }
            storage[key] = parsed
        }
        return parsed
    }
}

/// A filter's parsed per-route configuration (nil when the factory ignores per-route configs).
struct ParsedPerRouteConfig: Sendable {
    var value: (any Sendable)?
}
