import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server, so that shutdown can ask each to finish and then wait.
final class ConnectionTracker: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    /// Starts tracking `channel` until it closes.
    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = channels.withLockedValue { $0.removeValue(forKey: id) }
        }
    }

    /// The number of connections still open.
    var count: Int { channels.withLockedValue { $0.count } }

    /// Asks every connection to quiesce, waits up to `timeout` for them to close, then closes the rest.
    func drain(timeout: TimeAmount) async {
        let open = channels.withLockedValue { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = NIODeadline.now() + timeout
        while count > 0, NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = channels.withLockedValue { Array($0.values) }
        for channel in remaining {
            try? await channel.close()
        }
    }
}
