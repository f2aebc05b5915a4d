/// Proxies waiting for a push, each at most once: a request for a proxy already queued or being
/// pushed is merged, as Istio's push queue does.
///
/// Workers call ``next()`` to take the next proxy and its merged request, and ``markDone(_:)``
/// when its push is sent; requests that arrived meanwhile are queued again then.
public actor PushQueue<Proxy: Hashable & Sendable> {
    private var order: [Proxy] = []
    private var pending: [Proxy: PushRequest] = [:]
    private var inProgress: [Proxy: PushRequest?] = [:]
    private var waiters: [CheckedContinuation<(Proxy, PushRequest)?, Never>] = []
    private var closed = false

    public init() {}

    /// Number of proxies waiting (not counting those being pushed).
    public var count: Int { order.count }

    /// Queues `request` for `proxy`, merging with what is already waiting for it.
    public func enqueue(_ proxy: Proxy, _ request: PushRequest) {
        guard !closed else { return }
        if let running = inProgress[proxy] {
            inProgress[proxy] = running.map { $0.merging(request) } ?? request
            return
        }
        if let existing = pending[proxy] {
            pending[proxy] = existing.merging(request)
            return
        }
        if !waiters.isEmpty {
            inProgress[proxy] = .some(nil)
            waiters.removeFirst().resume(returning: (proxy, request))
            return
        }
        pending[proxy] = request
        order.append(proxy)
    }

    /// The next proxy to push and its request; nil once the queue is closed and drained.
    public func next() async -> (Proxy, PushRequest)? {
        if !order.isEmpty {
            let proxy = order.removeFirst()
            let request = pending.removeValue(forKey: proxy)!
            inProgress[proxy] = .some(nil)
            return (proxy, request)
        }
        if closed { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Marks `proxy`'s push finished; a request that arrived meanwhile is queued again.
    public func markDone(_ proxy: Proxy) {
        guard let leftover = inProgress.removeValue(forKey: proxy) else { return }
        if let request = leftover { enqueue(proxy, request) }
    }

    /// Forgets a proxy that disconnected.
    public func remove(_ proxy: Proxy) {
        pending[proxy] = nil
        order.removeAll { $0 == proxy }
        inProgress[proxy] = nil
    }

    /// Stops accepting requests; waiting workers get nil once the queue is empty.
    public func close() {
        closed = true
        if order.isEmpty {
            for waiter in waiters { waiter.resume(returning: nil) }
            waiters = []
        }
    }
}
