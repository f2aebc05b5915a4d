/// When to push after a burst of changes: Istio's debounce rule as a pure state machine.
///
/// A push happens once no change has arrived for `quietPeriod` (Istio's `PILOT_DEBOUNCE_AFTER`,
/// 100 ms), or at the latest `maximumDelay` (`PILOT_DEBOUNCE_MAX`, 10 s) after the first change of
/// the burst, so a steady trickle of changes cannot postpone pushes forever.
public struct DebounceStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public let quietPeriod: Duration
    public let maximumDelay: Duration
    private var pending: PushRequest?
    private var firstChange: Instant?
    private var lastChange: Instant?

    public init(quietPeriod: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(10)) {
        self.quietPeriod = quietPeriod
        self.maximumDelay = maximumDelay
    }

    /// True when a change is waiting to be pushed.
    public var hasPending: Bool { pending != nil }

    /// Records a change that arrived at `now`.
    public mutating func receive(_ request: PushRequest, at now: Instant) {
        pending = pending.map { $0.merging(request) } ?? request
        if firstChange == nil { firstChange = now }
        lastChange = now
    }

    /// The instant the pending changes are due, or nil when nothing is pending.
    public var deadline: Instant? {
        guard let firstChange, let lastChange else { return nil }
        let quiet = lastChange.advanced(by: quietPeriod)
        let latest = firstChange.advanced(by: maximumDelay)
        return quiet < latest ? quiet : latest
    }

    /// The merged request when it is due at `now` (and resets the burst), else nil.
    public mutating func flush(at now: Instant) -> PushRequest? {
        guard let deadline, now >= deadline, let request = pending else { return nil }
        pending = nil
        firstChange = nil
        lastChange = nil
        return request
    }
}
