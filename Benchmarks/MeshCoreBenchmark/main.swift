// Decode, validate and index a synthetic mesh, and compare with bare YAML parsing of the same text.
//
//   swift run -c release MeshCoreBenchmark [services]     (default 1667 services = 10,003 resources)
//
// Prints resources per second for each phase and the ratio of the full pipeline to parsing the same
// text with Yams alone.
import Foundation
import MeshCore
import MeshTestSupport
import Yams

let services = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 1667
let mesh = SyntheticMesh(services: services)
let text = mesh.yaml()
let clock = ContinuousClock()

func measure<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
    let start = clock.now
    let value = try body()
    return (value, clock.now - start)
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

// Warm up allocators and regex caches on a small mesh first.
_ = ConfigDecoder().decode(SyntheticMesh(services: 20).yaml(), file: "warmup.yaml")

// Baselines: Yams' own parse with its default (regex) scalar resolution, and with none at all,
// which is the parser cost MeshCore's decoder cannot go below.
let (documentCount, parseTime) = try measure { () throws -> Int in
    var count = 0
    for _ in try Yams.compose_all(yaml: text) { count += 1 }
    return count
}
let (_, rawParseTime) = try measure { () throws -> Int in
    var count = 0
    for _ in try Yams.compose_all(yaml: text, .basic) { count += 1 }
    return count
}
let (decodedOnly, decodeTime) = measure { ConfigDecoder(validates: false).decode(text, file: "mesh.yaml") }
let (output, decodeValidateTime) = measure { ConfigDecoder().decode(text, file: "mesh.yaml") }
precondition(!output.hasErrors, "synthetic mesh must be valid: \(output.errors.prefix(3))")
precondition(decodedOnly.resources.count == mesh.resourceCount && output.resources.count == mesh.resourceCount)
let (snapshot, indexTime) = measure { MeshSnapshot(resources: output.resources) }
precondition(snapshot.services.all.count == services)

let n = Double(output.resources.count)
func line(_ label: String, _ d: Duration) {
    let padded = label.padding(toLength: 34, withPad: " ", startingAt: 0)
    print(padded + String(format: "%8.1f ms  %9.0f resources/s", seconds(d) * 1000, n / seconds(d)))
}
print("MeshCore pipeline: \(output.resources.count) resources (\(services) services), \(text.utf8.count / 1024) KiB of YAML, \(documentCount) documents")
line("Yams compose, default resolver", parseTime)
line("Yams compose, no resolver rules", rawParseTime)
line("decode (strict, typed)", decodeTime)
line("decode + validate", decodeValidateTime)
line("index (MeshSnapshot)", indexTime)
line("decode + validate + index", decodeValidateTime + indexTime)
print(String(format: "ratio: decode+validate+index / Yams compose (default resolver) = %.2fx", seconds(decodeValidateTime + indexTime) / seconds(parseTime)))
print(String(format: "ratio: decode+validate+index / Yams compose (no resolver)      = %.2fx", seconds(decodeValidateTime + indexTime) / seconds(rawParseTime)))
