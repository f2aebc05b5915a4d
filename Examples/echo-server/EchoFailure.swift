import NIOHTTP1
import Synchronization

/// `--fail-status CODE`: a server that answers every request with one error status, still with
/// its JSON body (so the caller sees who failed). Tests use it as the unhealthy endpoint that
/// outlier detection must eject. Paths keep their `/delay/MS` meaning.
enum EchoFailure {
    /// The status every request gets, or 0 for normal answers. Set once at startup.
    private static let status = Atomic<Int>(0)

    /// Makes every later request fail with `code` (nil: answer normally).
    static func set(_ code: Int?) {
        status.store(code ?? 0, ordering: .relaxed)
    }

    /// `route` with its status replaced when failing is switched on.
    static func apply(to route: EchoRoute) -> EchoRoute {
        let code = status.load(ordering: .relaxed)
        guard code != 0 else { return route }
        var failed = route
        failed.status = HTTPResponseStatus(statusCode: code)
        return failed
    }

    /// Whether `code` can be given to `--fail-status`.
    static func isValid(_ code: Int) -> Bool { (400...599).contains(code) }
}
