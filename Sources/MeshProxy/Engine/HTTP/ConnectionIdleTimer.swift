import NIOCore

/// Envoy's connection `idle_timeout` for a downstream connection: `expired` runs once the
/// connection has had no active stream for `timeout`.
///
/// One event-loop timer, re-armed lazily from when the connection last went idle rather than
/// cancelled and rescheduled around every request. Must be used on its event loop only.
final class ConnectionIdleTimer {
    private let eventLoop: any EventLoop
    private let timeout: TimeAmount
    private let expired: () -> Void
    private var timer: Scheduled<Void>?
    /// When the last stream ended; nil while a stream is active.
    private var idleSince: NIODeadline?

    /// Starts watching a connection that is idle now.
    init(eventLoop: any EventLoop, timeout: TimeAmount, expired: @escaping () -> Void) {
        self.eventLoop = eventLoop
        self.timeout = timeout
        self.expired = expired
        idleSince = eventLoop.now
        arm(at: eventLoop.now + timeout)
    }

    /// A stream started.
    func busy() { idleSince = nil }

    /// The last active stream ended.
    func idle() { idleSince = eventLoop.now }

    /// No further checks.
    func cancel() {
        timer?.cancel()
        timer = nil
    }

    private func arm(at deadline: NIODeadline) {
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in self?.check() }
    }

    private func check() {
        guard let idleSince else {
            // Busy: the idle period starts when the stream ends, so look again a full timeout later.
            arm(at: eventLoop.now + timeout)
            return
        }
        let due = idleSince + timeout
        guard due <= eventLoop.now else {
            arm(at: due)
            return
        }
        timer = nil
        expired()
    }
}
