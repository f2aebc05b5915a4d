import NIOCore
import NIOHTTP1

/// Delays and/or aborts one request, as the route's (or the filter's) fault settings say.
final class FaultFilter: HTTPFilter {
    private let defaults: FaultFilterFactory.Settings?
    private var timer: Scheduled<Void>?

    init(defaults: FaultFilterFactory.Settings?) { self.defaults = defaults }

    func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        let settings = (context.perRouteConfig as? FaultFilterFactory.Settings) ?? defaults
        guard let settings else { return .continue }
        let abort = settings.abort.flatMap { Self.hit($0.perMillion, context) ? $0.abort : nil }
        if let delay = settings.delay, Self.hit(delay.perMillion, context) {
            context.responseFlags.insert(.delayInjected)
            context.counter("fault.delays_injected").increment()
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay.duration.timeAmount) {
                if let abort { Self.send(abort, context) } else { context.continueDecoding() }
            }
            return .stopIteration
        }
        if let abort {
            Self.send(abort, context)
            return .stopIteration
        }
        return .continue
    }

    func onStreamComplete(context: HTTPFilterContext) {
        timer?.cancel()
        timer = nil
    }

    private static func hit(_ perMillion: UInt32, _ context: HTTPFilterContext) -> Bool {
        perMillion >= 1_000_000 || context.randomValue() % 1_000_000 < UInt64(perMillion)
    }

    private static func send(_ abort: FaultFilterFactory.Settings.Abort, _ context: HTTPFilterContext) {
        context.counter("fault.aborts_injected").increment()
        switch abort {
        case .httpStatus(let code):
            context.sendLocalReply(HTTPLocalReply(status: HTTPResponseStatus(statusCode: code), body: "fault filter abort", details: "fault_filter_abort", flags: .faultInjected))
        case .grpcStatus(let code):
            context.sendLocalReply(HTTPLocalReply(status: .ok, headers: ["content-type": "application/grpc", "grpc-status": String(code), "grpc-message": "fault filter abort"], details: "fault_filter_abort", flags: .faultInjected))
        }
    }
}
