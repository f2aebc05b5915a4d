// CABenchmark: istio.v1.auth.IstioCertificateService/CreateCertificate requests per second,
// end to end over gRPC with TLS (N concurrent clients, each on its own connection, a bounded
// number of requests), next to the CA's in-process signing rate and `openssl speed ecdsap256`'s
// raw signing rate, measured in the same run.
//
//   swift run -c release CABenchmark [--clients 8] [--requests 2000]
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MeshCA
import X509

struct Arguments {
    var clients = 8
    var requests = 2000

    init(_ argv: [String]) {
        var index = 1
        while index < argv.count {
            let value = index + 1 < argv.count ? Int(argv[index + 1]) : nil
            switch argv[index] {
            case "--clients": clients = max(1, value ?? clients); index += 2
            case "--requests": requests = max(1, value ?? requests); index += 2
            default:
                FileHandle.standardError.write(Data("usage: CABenchmark [--clients N] [--requests M]\n".utf8))
                exit(2)
            }
        }
    }
}

/// `openssl speed -seconds 3 ecdsap256`: ECDSA P-256 signatures per second on one core.
///
/// openssl times itself with SIGALRM, which this process's threads block and a spawned child
/// inherits blocked; a one-line python3 shim clears the signal mask and execs openssl.
func opensslSignRate() -> Double? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
        "openssl", "speed", "-seconds", "3", "ecdsap256",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  13000.0"
    guard let line = text.split(separator: "\n").first(where: { $0.contains("ecdsa (nistp256)") }) else { return nil }
    let numbers = line.split(separator: " ").compactMap { Double($0) }
    // numbers: [256, sign/s, verify/s] (the times end with "s" and do not parse)
    return numbers.count >= 3 ? numbers[numbers.count - 2] : nil
}

let arguments = Arguments(CommandLine.arguments)
let identityCount = 16
let token = "benchmark-token-0123456789abcdef"
let (authority, _) = try MeshCertificateAuthority.selfSigned()
let tokens = try BootstrapTokenAuthenticator(tokenFile: "\(token) spiffe://cluster.local/ns/bench/sa/*\n")
let registry = PeerCertificateRegistry()
let serverCertificate = try authority.issueServerCertificate(dnsNames: ["istiod.istio-system.svc"], ipAddresses: ["127.0.0.1"])
let factory = try SecureListenerFactory(
    host: "127.0.0.1", port: 0,
    identity: .init(certificateChainPEM: serverCertificate.certificateChainPEM, privateKeyPEM: serverCertificate.privateKeyPEM),
    clientTrust: authority.trustBundle, registry: registry)
var quiet = Logger(label: "CABenchmark")
quiet.logLevel = .warning
let service = IstioCertificateService(authority: authority, authenticators: [tokens], peerCertificates: registry, logger: quiet)
let transport = HTTP2ServerTransport.Custom(listenerFactory: factory)
let server = GRPCServer(transport: transport, services: [service])

// CSRs are made before timing: the figure is the CA's, not the clients' key generation.
let csrs: [String] = try (0..<identityCount).map { index in
    try WorkloadCSR.make(identity: SPIFFEIdentity(namespace: "bench", serviceAccount: "sa\(index)")).csrPEM
}
let parsedCSR = try CertificateSigningRequest(pemEncoded: csrs[0])

// 1. The CA's in-process signing rate (CSR verification + certificate build + ECDSA signature).
let inProcessCount = 2000
let signStart = ContinuousClock.now
for _ in 0..<inProcessCount {
    _ = try authority.sign(parsedCSR, options: SigningOptions(identity: SPIFFEIdentity(namespace: "bench", serviceAccount: "sa0")))
}
let signElapsed = ContinuousClock.now - signStart
let inProcessRate = Double(inProcessCount) / signElapsed.seconds

func progress(_ text: String) { FileHandle.standardError.write(Data("[CABenchmark] \(text)\n".utf8)) }
progress(String(format: "in-process signing: %.0f certs/s", inProcessRate))

// 2. End to end over gRPC + TLS.
let endToEnd: (rate: Double, failures: Int) = try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await server.serve() }
    guard let address = await transport.listeningAddress, let ipv4 = address.ipv4 else {
        fatalError("the CA server did not start listening")
    }
    let port = ipv4.port
    let perClient = (arguments.requests + arguments.clients - 1) / arguments.clients
    let start = ContinuousClock.now
    let failures = try await withThrowingTaskGroup(of: Int.self) { clients in
        for clientIndex in 0..<arguments.clients {
            clients.addTask {
                var config = HTTP2ClientTransport.Posix.Config.defaults
                config.http2.authority = "istiod.istio-system.svc"
                let clientTransport = try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: "127.0.0.1", port: port),
                    transportSecurity: .tls(.init(
                        certificateChain: [], privateKey: nil, serverCertificateVerification: .fullVerification,
                        trustRoots: .certificates([.bytes(Array(authority.trustBundle.pem.utf8), format: .pem)]))),
                    config: config)
                return try await withGRPCClient(transport: clientTransport) { client in
                    let ca = Istio_V1_Auth_IstioCertificateService.Client(wrapping: client)
                    var failed = 0
                    for requestIndex in 0..<perClient {
                        let request = Istio_V1_Auth_IstioCertificateRequest.with {
                            $0.csr = csrs[(clientIndex + requestIndex) % csrs.count]
                            $0.validityDuration = 3600
                        }
                        do {
                            let chain = try await ca.createCertificate(request, metadata: ["authorization": "Bearer \(token)"]).certChain
                            if chain.count != 2 { failed += 1 }
                        } catch {
                            failed += 1
                        }
                    }
                    return failed
                }
            }
        }
        var total = 0
        while let failed = try await clients.next() { total += failed }
        return total
    }
    let elapsed = ContinuousClock.now - start
    progress("gRPC phase done in \(elapsed); stopping the server")
    server.beginGracefulShutdown()
    return (Double(perClient * arguments.clients) / elapsed.seconds, failures)
}

progress("server stopped; running openssl speed")
// 3. openssl's raw ECDSA P-256 signing rate, after the gRPC run so they do not compete.
let openssl = opensslSignRate()

let cores = ProcessInfo.processInfo.activeProcessorCount
print("CABenchmark (ECDSA P-256 CA and workload keys; \(cores) cores; \(arguments.clients) clients, \(arguments.requests) requests)")
print(String(format: "  CreateCertificate over gRPC+TLS, end to end: %8.0f req/s  (%d failed)", endToEnd.rate, endToEnd.failures))
print(String(format: "  MeshCertificateAuthority.sign, in process:   %8.0f certs/s", inProcessRate))
if let openssl {
    print(String(format: "  openssl speed ecdsap256, sign:              %8.0f sign/s (one core)", openssl))
    print(String(format: "  ratio gRPC end to end / openssl sign:       %8.3f", endToEnd.rate / openssl))
    print(String(format: "  ratio in-process sign / openssl sign:       %8.3f", inProcessRate / openssl))
} else {
    print("  openssl speed ecdsap256: not available (openssl not found)")
}
if endToEnd.failures > 0 { exit(1) }

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
