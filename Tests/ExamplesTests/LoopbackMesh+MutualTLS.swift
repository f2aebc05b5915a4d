import Foundation
import MeshTestSupport

/// Mesh mutual TLS on a ``LoopbackMesh``: istiod with its CA (`--ca-dir`, `--secure-address`,
/// `--bootstrap-token-file`) and sidecars that get their workload certificates from it.
extension LoopbackMesh {
    /// istiod's CA as the agents see it: the secure port, the root to verify istiod with and the
    /// bootstrap token every agent presents.
    struct MeshCA: Sendable {
        var directory: URL
        /// istiod's secure address (its own loopback address, as the harness's plaintext one).
        var host: String
        var securePort: Int
        /// `host:port` for `--xds` and `--ca`.
        var secureAddress: String { "\(host):\(securePort)" }
        var rootCert: URL { directory.appendingPathComponent("cacerts/root-cert.pem") }
        var agentToken: URL { directory.appendingPathComponent("token") }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// Starts a mesh whose istiod runs its CA and secure port (a self-signed root is created in a
    /// fresh folder); one bootstrap token is accepted for every service account of `namespace`.
    ///
    /// Returns nil when Envoy is not installed (recorded as a failure under `CI=true`).
    static func startWithCA(namespace: String, files: [String: String] = [:], dataPlane: DataPlane = .envoy) async throws -> (LoopbackMesh, MeshCA)? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let host = LoopbackAddresses.next()
        let ca = MeshCA(directory: directory, host: host, securePort: try LoopbackNetwork.freePort(on: host))
        let token = "mtls-e2e-\(UUID().uuidString)"
        let tokenFile = directory.appendingPathComponent("istiod-tokens")
        try "\(token) spiffe://cluster.local/ns/\(namespace)/sa/*\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        try "\(token)\n".write(to: ca.agentToken, atomically: true, encoding: .utf8)
        guard let mesh = try await start(files: files, istiodArguments: [
            "--ca-dir", directory.appendingPathComponent("cacerts").path, "--secure-address", ca.secureAddress,
            "--bootstrap-token-file", tokenFile.path,
        ], dataPlane: dataPlane) else {
            ca.remove()
            return nil
        }
        guard await LoopbackNetwork.waitUntilAccepting(host: ca.host, port: ca.securePort, timeout: .seconds(30)),
            FileManager.default.fileExists(atPath: ca.rootCert.path)
        else {
            let output = mesh.istiod?.output ?? ""
            mesh.stop()
            ca.remove()
            throw HarnessError("istiod's secure port never answered\n\(output)")
        }
        return (mesh, ca)
    }

    /// Starts a sidecar that gets its certificate from `ca`, serves it to Envoy over SDS and
    /// talks xDS to istiod's secure port (the later `--xds` overrides the harness's plaintext one).
    func startSecureProxy(
        ca: MeshCA, namespace: String, labels: [String: String], serviceAccount: String, ip: String
    ) async throws -> Proxy {
        try await startProxy(namespace: namespace, labels: labels, serviceAccount: serviceAccount, ip: ip, arguments: [
            "--xds", ca.secureAddress, "--ca", ca.secureAddress, "--root-cert", ca.rootCert.path,
            "--token-file", ca.agentToken.path,
        ])
    }
}
