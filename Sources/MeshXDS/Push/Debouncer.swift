/// Debounces push requests with an injected clock and delivers merged batches in order.
///
/// Call ``submit(_:)`` for every change; iterate ``pushes`` to receive merged requests. The clock
/// is injected so tests drive time explicitly. ``finish()`` flushes what is pending and ends
/// ``pushes``.
public actor Debouncer<C: Clock> where C.Duration == Duration {
    private let clock: C
    private var state: DebounceStateMachine<C.Instant>
    private var timer: Task<Void, Never>?
    private let continuation: AsyncStream<PushRequest>.Continuation

    /// Merged requests, each delivered when its burst is due.
    public nonisolated let pushes: AsyncStream<PushRequest>

    /// - Parameters:
    ///   - clock: the clock deadlines are measured on (`ContinuousClock` in production).
    ///   - quietPeriod: push after this long without a change (100 ms, as Istio).
    ///   - maximumDelay: push at the latest this long after the first change of a burst (10 s).
    public init(clock: C, quietPeriod: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(10)) {
        self.clock = clock
        self.state = DebounceStateMachine(quietPeriod: quietPeriod, maximumDelay: maximumDelay)
        (pushes, continuation) = AsyncStream.makeStream(of: PushRequest.self)
    }

    /// Records a change; the merged push is delivered when the burst is due.
    public func submit(_ request: PushRequest) {
        state.receive(request, at: clock.now)
        schedule()
    }

    /// Delivers whatever is pending now and ends ``pushes``.
    public func finish() {
        timer?.cancel()
        timer = nil
        if state.hasPending, let deadline = state.deadline, let request = state.flush(at: deadline) {
            continuation.yield(request)
        }
        continuation.finish()
    }

    private func schedule() {
        timer?.cancel()
        guard let deadline = state.deadline else { return }
        let clock = self.clock
        timer = Task { [weak self] in
            do {
                try await clock.sleep(until: deadline, tolerance: nil)
            } catch {
                return
            }
            await self?.fire()
        }
    }

    private func fire() {
        if let request = state.flush(at: clock.now) {
            continuation.yield(request)
            timer = nil
        } else {
            schedule()
        }
    }
}
