import Foundation
import MeshTestSupport
import Testing

/// `echo-server --fail-status`: the unhealthy endpoint of the outlier-detection tests.
@Suite(.timeLimit(.minutes(2))) struct EchoFailureTests {
    @Test func answersEveryRequestWithTheConfiguredStatus() async throws {
        let host = LoopbackAddresses.next()
        let port = try LoopbackNetwork.freePort(on: host)
        let process = try ChildProcess(
            ExampleBinary.url(named: "echo-server"), ["--address", "\(host):\(port)", "--name", "broken", "--fail-status", "503"])
        defer { process.send(SIGTERM) }
        try #require(await LoopbackNetwork.waitUntilAccepting(host: host, port: port, timeout: .seconds(20)), "\(process.output)")
        for path in ["/", "/status/200", "/anything?x=1"] {
            let response = await LoopbackMesh.request(host: host, port: port, path: path)
            #expect(response.status == 503, "\(path): \(response)")
            #expect(response.echoName == "broken" && response.echoPath == path, "the failing server still says who it is")
        }
    }

    @Test func rejectsStatusesThatAreNotErrors() async throws {
        let process = try ChildProcess(
            ExampleBinary.url(named: "echo-server"), ["--address", "\(LoopbackAddresses.next()):0", "--fail-status", "200"])
        let status = await process.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(process.output.contains("--fail-status must be an HTTP status from 400 to 599, got 200"), "\(process.output)")
    }
}
