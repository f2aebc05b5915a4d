import Foundation
import MeshTestSupport

extension LoopbackMesh {
    /// Sends `count` requests at once through an HTTP proxy listener and returns every answer.
    func concurrentRequestsThroughProxy(
        _ proxy: Proxy, port: Int, url: String, count: Int, headers: [(String, String)] = []
    ) async -> [Response] {
        await withTaskGroup(of: Response.self) { group in
            for _ in 0..<count {
                group.addTask { await self.requestThroughProxy(proxy, port: port, url: url, headers: headers) }
            }
            var responses: [Response] = []
            for await response in group { responses.append(response) }
            return responses
        }
    }

    /// Stops one workload (SIGTERM) and waits for it to exit, so its address refuses connections.
    func stopWorkload(_ workload: Workload) async -> Bool {
        workload.process.send(SIGTERM)
        return await workload.process.waitForExit(timeout: .seconds(20)) != nil
    }

    /// A `WorkloadEntry` for an echo-server serving the port named `portName`.
    static func workloadEntry(
        _ workload: Workload, namespace: String, labels: [String: String], portName: String = "http",
        locality: String? = nil
    ) -> String {
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        return """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: \(workload.name), namespace: \(namespace)}
            spec: {address: \(workload.ip), labels: {\(labelText)}, ports: {\(portName): \(workload.port)}\(locality.map { ", locality: \($0)" } ?? "")}
            """
    }
}
