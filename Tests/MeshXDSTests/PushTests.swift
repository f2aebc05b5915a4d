import MeshCore
import MeshTestSupport
import Testing
@testable import MeshXDS

@Suite struct DebounceTests {
    typealias Instant = ContinuousClock.Instant
    let t0 = ContinuousClock.now
    let key = ResourceKey(kind: .virtualService, namespace: "default", name: "reviews")

    @Test func quietPeriodAfterLastChange() {
        var machine = DebounceStateMachine<Instant>()
        #expect(machine.deadline == nil)
        machine.receive(.config(key), at: t0)
        #expect(machine.deadline == t0 + .milliseconds(100))
        machine.receive(.endpoints(["a"]), at: t0 + .milliseconds(60))
        #expect(machine.deadline == t0 + .milliseconds(160))
        #expect(machine.flush(at: t0 + .milliseconds(159)) == nil)
        let request = machine.flush(at: t0 + .milliseconds(160))
        #expect(request?.full == true, "a full push absorbs an endpoint-only one")
        #expect(request?.changedHosts == ["a"])
        #expect(request?.changedConfigs == [key])
        #expect(request?.reasons == ["config": 1, "endpoint": 1])
        #expect(!machine.hasPending)
    }

    @Test func maximumDelayBoundsAContinuousTrickle() {
        var machine = DebounceStateMachine<Instant>(quietPeriod: .milliseconds(100), maximumDelay: .seconds(1))
        for i in 0..<50 { machine.receive(.endpoints(["h\(i)"]), at: t0 + .milliseconds(50 * i)) }
        #expect(machine.deadline == t0 + .seconds(1))
        let request = machine.flush(at: t0 + .seconds(1))
        #expect(request?.full == false)
        #expect(request?.changedHosts.count == 50)
    }

    @Test func debouncerDeliversMergedBurstsOnTheInjectedClock() async throws {
        let clock = ManualClock()
        let debouncer = Debouncer(clock: clock, quietPeriod: .milliseconds(100), maximumDelay: .seconds(10))
        var pushes = debouncer.pushes.makeAsyncIterator()
        await debouncer.submit(.endpoints(["a"]))
        #expect(await clock.waitForSleepers())
        clock.advance(by: .milliseconds(50))
        await debouncer.submit(.endpoints(["b"]))
        clock.advance(by: .milliseconds(60))   // 110 ms after the first, 60 after the last: not yet
        #expect(await clock.waitForSleepers())
        clock.advance(by: .milliseconds(40))   // 100 ms after the last change
        let first = await pushes.next()
        #expect(first?.changedHosts == ["a", "b"])
        #expect(first?.full == false)

        await debouncer.submit(.config(key))
        #expect(await clock.waitForSleepers())
        clock.advance(by: .milliseconds(100))
        #expect(await pushes.next()?.full == true)

        await debouncer.submit(.endpoints(["c"]))
        await debouncer.finish()
        #expect(await pushes.next()?.changedHosts == ["c"], "finish flushes what is pending")
        #expect(await pushes.next() == nil)
    }
}

@Suite struct PushQueueTests {
    @Test func mergesRequestsPerProxyAndRequeuesAfterDone() async {
        let queue = PushQueue<String>()
        await queue.enqueue("a", .endpoints(["x"]))
        await queue.enqueue("b", .endpoints(["y"]))
        await queue.enqueue("a", .services(["z"]))
        #expect(await queue.count == 2)
        let (first, request) = await queue.next()!
        #expect(first == "a")
        #expect(request.full)
        #expect(request.changedHosts == ["x", "z"])

        // A request for a proxy being pushed waits until that push is done.
        await queue.enqueue("a", .endpoints(["w"]))
        #expect(await queue.count == 1)
        let second = await queue.next()!
        #expect(second.0 == "b")
        await queue.markDone("a")
        let third = await queue.next()!
        #expect(third.0 == "a")
        #expect(third.1.changedHosts == ["w"])
        #expect(!third.1.full)
    }

    @Test func waitingWorkerIsWokenAndCloseEndsIt() async {
        let queue = PushQueue<String>()
        async let taken = queue.next()
        try? await Task.sleep(for: .milliseconds(20))
        await queue.enqueue("p", .endpoints(["h"]))
        #expect(await taken?.0 == "p")
        async let ended = queue.next()
        try? await Task.sleep(for: .milliseconds(20))
        await queue.close()
        #expect(await ended == nil)
    }

    @Test func removeForgetsADisconnectedProxy() async {
        let queue = PushQueue<String>()
        await queue.enqueue("gone", .endpoints(["h"]))
        await queue.remove("gone")
        #expect(await queue.count == 0)
    }
}
