/// Envoy's earliest-deadline-first scheduler: each entry's next deadline is the scheduler's current
/// time plus `1 / weight`; the earliest deadline is picked (ties go to the entry added first) and
/// re-added with its weight at that moment. Over time each entry is picked in proportion to its
/// weight, interleaved smoothly.
struct EDFScheduler<Element> {
    private struct Entry {
        var deadline: Double
        var order: UInt64
        var element: Element
    }

    private var heap: [Entry] = []
    private var currentTime: Double = 0
    private var nextOrder: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    /// Adds `element`; a weight of zero or less is not scheduled.
    mutating func add(_ element: Element, weight: Double) {
        guard weight > 0, weight.isFinite else { return }
        heap.append(Entry(deadline: currentTime + 1 / weight, order: nextOrder, element: element))
        nextOrder &+= 1
        siftUp(heap.count - 1)
    }

    /// Picks the entry with the earliest deadline and schedules it again with `weight(element)`.
    mutating func pickAndAdd(weight: (Element) -> Double) -> Element? {
        guard let top = heap.first else { return nil }
        currentTime = top.deadline
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        add(top.element, weight: weight(top.element))
        return top.element
    }

    private func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.order < b.order)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < heap.count, less(heap[left], heap[best]) { best = left }
            if right < heap.count, less(heap[right], heap[best]) { best = right }
            if best == parent { return }
            heap.swapAt(parent, best)
            parent = best
        }
    }
}
