import NIOCore

/// The stream idle timeouts of one downstream connection's streams, checked by a single
/// event-loop timer armed for the earliest deadline.
///
/// A stream registers when it starts and leaves when it finishes; activity only moves its own
/// deadline forward. NIO's scheduled tasks cost a promise and, on cancellation, a linear search of
/// the loop's timer heap, so one timer per stream (Envoy's default `stream_idle_timeout` is five
/// minutes, so nearly every one is cancelled) was a per-request cost that grew with concurrency.
/// Must be used on its event loop only.
final class StreamIdleSweeper {
    private let eventLoop: any EventLoop
    private var streams: [ObjectIdentifier: HTTPStream] = [:]
    private var timer: Scheduled<Void>?
    /// The point ``timer`` is armed for.
    private var timerDeadline: NIODeadline?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Watches `stream`, whose idle deadline is now `deadline` (later calls may only move it forward,
    /// except through a route's shorter idle timeout, which calls this again).
    func watch(_ stream: HTTPStream, deadline: NIODeadline) {
        streams[ObjectIdentifier(stream)] = stream
        deadlineMoved(to: deadline)
    }

    /// A watched stream's deadline is now `deadline`: re-arms only when that is earlier than the timer.
    func deadlineMoved(to deadline: NIODeadline) {
        if timer != nil, let timerDeadline, timerDeadline <= deadline { return }
        arm(at: deadline)
    }

    /// Stops watching `stream` (finished, or its idle timeout was disabled by its route).
    func unwatch(_ stream: HTTPStream) {
        streams.removeValue(forKey: ObjectIdentifier(stream))
    }

    /// The connection is gone: no further checks.
    func stop() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        streams = [:]
    }

    private func arm(at deadline: NIODeadline) {
        timer?.cancel()
        timerDeadline = deadline
        // Strong: the timer ends with ``stop()`` or fires and finds nothing left to watch. A weak
        // reference would put every retain and release of the sweeper on the slow path.
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.sweep() }
    }

    private func sweep() {
        timer = nil
        timerDeadline = nil
        let now = eventLoop.now
        var next: NIODeadline?
        for stream in Array(streams.values) {
            guard let deadline = stream.streamIdleExpiry else {
                unwatch(stream)
                continue
            }
            if deadline <= now {
                unwatch(stream)
                stream.streamIdleTimedOut()
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        // A timed-out stream's reply may have armed the timer already; keep the earlier point.
        if let next { deadlineMoved(to: next) }
    }
}
