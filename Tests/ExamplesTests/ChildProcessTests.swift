import Foundation
import MeshTestSupport
import Testing

/// The test harness's own process handling: exits must be seen even when Foundation misses them.
@Suite(.timeLimit(.minutes(1))) struct ChildProcessTests {
    /// Foundation notices an exit when a socket the child inherits reaches its end; a background
    /// grandchild keeps that socket open, as a process spawned concurrently by another test can.
    @Test func anExitIsSeenWhileAnotherProcessHoldsFoundationsSocket() async throws {
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "sleep 30 </dev/null >/dev/null 2>&1 & echo $!; exit 3"])
        let status = await child.waitForExit(timeout: .seconds(10))
        if let grandchild = Int32(child.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(grandchild, SIGKILL) }
        #expect(status == 3, "\(child.output)")
        #expect(child.hasExited)
    }

    @Test func aSignalledExitReportsTheSignal() async throws {
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "kill -9 $$"])
        #expect(await child.waitForExit(timeout: .seconds(10)) == 128 + SIGKILL)
    }
}
