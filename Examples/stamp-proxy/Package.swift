// swift-tools-version:6.1
// A package of your own that builds the Swift proxy with extra filters. Copy this directory,
// point the SwiftMesh dependency at its repository instead of the path below, and keep the rest.
// (Inside the SwiftMesh repository the same sources also build as its `stamp-proxy` target.)
import PackageDescription

let package = Package(
    name: "stamp-proxy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stamp-proxy", targets: ["stamp-proxy"]),
    ],
    dependencies: [
        .package(name: "SwiftMesh", path: "../.."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "stamp-proxy",
            dependencies: [
                .product(name: "MeshProxy", package: "SwiftMesh"),
                .product(name: "MeshXDS", package: "SwiftMesh"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        ),
    ]
)
