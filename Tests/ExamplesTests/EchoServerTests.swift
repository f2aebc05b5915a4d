import Foundation
import MeshTestSupport
import Testing

/// Runs the real `echo-server` binary built by `swift build` on a random 127.0.0.N address.
@Suite(.timeLimit(.minutes(2))) struct EchoServerTests {
    /// A running echo server and where it listens.
    struct Server {
        var process: ChildProcess
        var host: String
        var port: Int
        var authority: String { "\(host):\(port)" }

        func connect() throws -> TCPTestConnection { try TCPTestConnection(host: host, port: port) }

        func get(_ path: String, headers: [(String, String)] = []) throws -> HTTP1TestResponse {
            let connection = try connect()
            try connection.sendHTTP1Request(path: path, host: authority, headers: headers)
            return try connection.readHTTP1Response()
        }
    }

    /// Starts `echo-server --address 127.0.0.N:0 --name NAME`, runs `body`, then stops it
    /// (SIGKILL if `body` left it running).
    func withEchoServer(name: String = "echo-test", _ body: (Server) async throws -> Void) async throws {
        let host = LoopbackNetwork.randomAddress()
        let process = try ChildProcess(ExampleBinary.url(named: "echo-server"), ["--address", "\(host):0", "--name", name])
        guard await process.waitForOutput(containing: "listening on ", timeout: .seconds(30)),
              let line = process.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
              let portText = line.split(separator: ":").last, let port = Int(portText)
        else {
            await process.forceKill()
            Issue.record("echo-server did not start:\n\(process.output)")
            return
        }
        do {
            try await body(Server(process: process, host: host, port: port))
        } catch {
            await process.forceKill()
            throw error
        }
        await process.forceKill()
    }

    @Test func answersHTTP1GetWithJSON() async throws {
        try await withEchoServer(name: "alpha") { server in
            let response = try server.get("/hello/world?x=1", headers: [("X-Test", "one"), ("x-test", "two")])
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            let json = try response.jsonObject()
            #expect(json["name"] as? String == "alpha")
            #expect(json["address"] as? String == server.authority)
            #expect(json["protocol"] as? String == "HTTP/1.1")
            #expect((json["remote"] as? String)?.hasPrefix("127.") == true)
            let request = try #require(json["request"] as? [String: Any])
            #expect(request["method"] as? String == "GET")
            #expect(request["path"] as? String == "/hello/world?x=1")
            #expect(request["host"] as? String == server.authority)
            #expect(request["bodySize"] as? Int == 0)
            let headers = try #require(request["headers"] as? [String: String])
            #expect(headers["x-test"] == "one, two")
            #expect(headers["host"] == server.authority)
        }
    }

    @Test(arguments: [0, 1, 1000, 300_000])
    func postReportsBodySize(size: Int) async throws {
        try await withEchoServer { server in
            let connection = try server.connect()
            try connection.sendHTTP1Request(method: "POST", path: "/upload", host: server.authority, body: Array(repeating: UInt8(ascii: "z"), count: size))
            let response = try connection.readHTTP1Response()
            #expect(response.status == 200)
            let request = try #require(try response.jsonObject()["request"] as? [String: Any])
            #expect(request["method"] as? String == "POST")
            #expect(request["bodySize"] as? Int == size)
        }
    }

    @Test func keepsConnectionsAlive() async throws {
        try await withEchoServer { server in
            let connection = try server.connect()
            try connection.sendHTTP1Request(path: "/first", host: server.authority)
            let first = try connection.readHTTP1Response()
            try connection.sendHTTP1Request(path: "/second", host: server.authority)
            let second = try connection.readHTTP1Response()
            #expect(first.status == 200 && second.status == 200)
            #expect(first.header("connection") == nil, "HTTP/1.1 keeps the connection open without saying so")
            let firstJSON = try first.jsonObject(), secondJSON = try second.jsonObject()
            #expect((secondJSON["request"] as? [String: Any])?["path"] as? String == "/second")
            #expect(firstJSON["remote"] as? String == secondJSON["remote"] as? String, "both requests came over one connection")
        }
    }

    @Test func closesWhenAsked() async throws {
        try await withEchoServer { server in
            let connection = try server.connect()
            try connection.sendHTTP1Request(path: "/", host: server.authority, headers: [("connection", "close")])
            let response = try connection.readHTTP1Response()
            #expect(response.status == 200)
            #expect(response.header("connection") == "close")
            #expect(connection.peerClosed())
        }
    }

    @Test func statusPathSetsTheStatus() async throws {
        try await withEchoServer { server in
            let unavailable = try server.get("/status/503")
            #expect(unavailable.status == 503)
            #expect(try unavailable.jsonObject()["name"] as? String == "echo-test")
            let teapot = try server.get("/status/418?why=1")
            #expect(teapot.status == 418)
            let noContent = try server.get("/status/204")
            #expect(noContent.status == 204)
            #expect(noContent.body.isEmpty)
        }
    }

    @Test func delayPathWaitsFirst() async throws {
        try await withEchoServer { server in
            let start = ContinuousClock.now
            let response = try server.get("/delay/100")
            let elapsed = ContinuousClock.now - start
            #expect(response.status == 200)
            #expect(elapsed >= .milliseconds(100), "answered after \(elapsed)")
        }
    }

    @Test func delayParameterWaitsOnAnyPath() async throws {
        try await withEchoServer { server in
            let start = ContinuousClock.now
            let response = try server.get("/status/404?x=1&delay=150")
            let elapsed = ContinuousClock.now - start
            #expect(response.status == 404)
            #expect(elapsed >= .milliseconds(150), "answered after \(elapsed)")
        }
    }

    /// `/reset/N/KEY` closes the connection without an answer for the first N requests per key.
    @Test func resetPathClosesTheFirstAttempts() async throws {
        try await withEchoServer { server in
            for attempt in 1...2 {
                let connection = try server.connect()
                try connection.sendHTTP1Request(path: "/reset/2/k", host: server.authority)
                #expect(throws: (any Error).self, "attempt \(attempt) was answered") { try connection.readHTTP1Response() }
            }
            #expect(try server.get("/reset/2/k").status == 200)
            // Keys count apart, and /flaky keys apart from /reset keys.
            #expect(try server.get("/flaky/1/k").status == 503)
            let other = try server.connect()
            try other.sendHTTP1Request(path: "/reset/1/other", host: server.authority)
            #expect(throws: (any Error).self) { try other.readHTTP1Response() }
        }
    }

    @Test func upgradeToH2CIsAnsweredOverHTTP1() async throws {
        try await withEchoServer { server in
            let response = try server.get("/up", headers: [("connection", "Upgrade, HTTP2-Settings"), ("upgrade", "h2c"), ("http2-settings", "AAMAAABkAAQCAAAAAAIAAAAA")])
            #expect(response.status == 200)
            #expect(try response.jsonObject()["protocol"] as? String == "HTTP/1.1")
        }
    }

    @Test func answersH2CPriorKnowledgeFromCurl() async throws {
        guard let curl = Self.curl() else { return }
        try await withEchoServer(name: "h2") { server in
            let run = try await ChildProcess.run(curl, ["-sS", "--max-time", "10", "--http2-prior-knowledge", "-H", "x-h2: yes", "-d", "12345", "http://\(server.authority)/over/h2?q"])
            #expect(run.status == 0, "\(run.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
            #expect(json["protocol"] as? String == "HTTP/2.0")
            #expect(json["name"] as? String == "h2")
            let request = try #require(json["request"] as? [String: Any])
            #expect(request["method"] as? String == "POST")
            #expect(request["path"] as? String == "/over/h2?q")
            #expect(request["host"] as? String == server.authority)
            #expect(request["bodySize"] as? Int == 5)
            #expect((request["headers"] as? [String: String])?["x-h2"] == "yes")
        }
    }

    @Test func multiplexesHTTP2Streams() async throws {
        try await withEchoServer { server in
            let connection = try server.connect()
            let bodies = try connection.fetchHTTP2PriorKnowledge(paths: ["/delay/200", "/fast", "/status/503"], authority: server.authority)
            let objects = try bodies.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)") }
            #expect(objects.map { ($0["request"] as? [String: Any])?["path"] as? String } == ["/delay/200", "/fast", "/status/503"])
            #expect(objects.allSatisfy { $0["protocol"] as? String == "HTTP/2.0" })
            #expect(Set(objects.compactMap { $0["remote"] as? String }).count == 1, "all streams shared one connection")
        }
    }

    @Test func sigtermFinishesInFlightRequestsAndExitsZero() async throws {
        try await withEchoServer { server in
            let idle = try server.connect()
            try idle.sendHTTP1Request(path: "/warm", host: server.authority)
            #expect(try idle.readHTTP1Response().status == 200)

            let busy = try server.connect()
            // The server must have read the request before SIGTERM, or it drains the connection
            // as idle: a second's head start, inside the two-second answer.
            try busy.sendHTTP1Request(path: "/delay/2000", host: server.authority)
            try await Task.sleep(for: .seconds(1))
            server.process.send(SIGTERM)

            let response = try busy.readHTTP1Response()
            #expect(response.status == 200, "the request in flight is answered")
            #expect(idle.peerClosed(), "idle keep-alive connections are closed")
            let status = await server.process.waitForExit(timeout: .seconds(20))
            #expect(status == 0, "\(server.process.output)")
            #expect(!LoopbackNetwork.accepts(host: server.host, port: server.port))
        }
    }

    /// curl with HTTP/2, or nil (a failure under CI, where `.ci/run` installs it).
    static func curl() -> URL? {
        for path in ["/usr/bin/curl", "/usr/local/bin/curl", "/opt/homebrew/bin/curl"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("curl is required under CI (.ci/run installs it)")
        } else {
            print("note: curl not found; skipping the curl h2c check")
        }
        return nil
    }
}
