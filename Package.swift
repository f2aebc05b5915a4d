// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "SwiftMesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeshCore", targets: ["MeshCore"]),
        .library(name: "MeshXDS", targets: ["MeshXDS"]),
        .library(name: "MeshProxy", targets: ["MeshProxy"]),
        .library(name: "MeshCA", targets: ["MeshCA"]),
        .library(name: "MeshTelemetry", targets: ["MeshTelemetry"]),
        .executable(name: "meshctl", targets: ["meshctl"]),
        .executable(name: "echo-server", targets: ["echo-server"]),
        .executable(name: "sidecar", targets: ["sidecar"]),
        .executable(name: "istiod", targets: ["istiod"]),
        .executable(name: "custom-control-plane", targets: ["custom-control-plane"]),
        .executable(name: "stamp-proxy", targets: ["stamp-proxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        .target(
            name: "MeshCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MeshXDS",
            dependencies: [
                "MeshCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MeshProxy",
            dependencies: [
                "MeshXDS",
                "MeshTelemetry",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MeshCA",
            dependencies: [
                "MeshCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MeshTelemetry",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(name: "MeshTestSupport", dependencies: ["MeshCore"], swiftSettings: strictSettings),
        .executableTarget(
            name: "meshctl",
            dependencies: [
                "MeshCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/meshctl",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MeshCoreBenchmark",
            dependencies: ["MeshCore", "MeshTestSupport", .product(name: "Yams", package: "Yams")],
            path: "Benchmarks/MeshCoreBenchmark",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ADSBenchmark",
            dependencies: [
                "MeshXDS",
                "MeshTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Benchmarks/ADSBenchmark",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "CABenchmark",
            dependencies: [
                "MeshCA",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            path: "Benchmarks/CABenchmark",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshCoreTests",
            dependencies: ["MeshCore", "MeshTestSupport"],
            exclude: ["testdata"],
            
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshXDSTests",
            dependencies: [
                "MeshXDS",
                "MeshCA",
                "MeshTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            exclude: ["testdata"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshCATests",
            dependencies: [
                "MeshCA",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshTelemetryTests",
            dependencies: ["MeshTelemetry"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshProxyTests",
            dependencies: [
                "MeshProxy",
                "MeshXDS",
                "MeshCA",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "MeshCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "meshctlTests",
            dependencies: ["MeshCore"],
            path: "Tests/meshctlTests",
            exclude: ["testdata"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "istiod",
            dependencies: [
                "MeshCore",
                "MeshXDS",
                "MeshCA",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Examples/istiod",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "custom-control-plane",
            dependencies: [
                "MeshXDS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Examples/custom-control-plane",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "echo-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Examples/echo-server",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "sidecar",
            dependencies: [
                "MeshXDS",
                "MeshProxy",
                "MeshCA",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
            ],
            path: "Examples/sidecar",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ExamplesTests",
            dependencies: [
                "sidecar", "echo-server", "stamp-proxy", "MeshXDS", "MeshCA", "MeshTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/ExamplesTests",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "stamp-proxy",
            dependencies: [
                "MeshProxy",
                "MeshXDS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Examples/stamp-proxy/Sources/stamp-proxy",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "TranslationBenchmark",
            dependencies: ["MeshXDS", "MeshCore", "MeshTestSupport", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Benchmarks/TranslationBenchmark",
            swiftSettings: strictSettings
        ),
    ]
)
