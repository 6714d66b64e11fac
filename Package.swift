// swift-tools-version:6.1
import PackageDescription

// Dependencies point down: executables → role libraries → Store / Wire → Model → C shims.
// Role libraries (Controller, Combiner, Client) never import each other.
let package = Package(
    name: "Tributary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tributary-controller", targets: ["tributary-controller"]),
        .executable(name: "tributary-combiner", targets: ["tributary-combiner"]),
        .executable(name: "tributary-client", targets: ["tributary-client"]),
        .executable(name: "tributary", targets: ["tributary"]),
        .executable(name: "tributary-bench", targets: ["tributary-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.30.0"),
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
    ],
    targets: [
        // C libraries from Debian: libnng-dev and libxxhash-dev.
        .systemLibrary(name: "CNNG", path: "Sources/CNNG", providers: [.apt(["libnng-dev"])]),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", providers: [.apt(["libxxhash-dev"])]),

        .target(
            name: "TributaryModel",
            dependencies: ["CXXHash", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        // SecAgg+ (secure aggregation): key agreement, Shamir, masking, quantization, the
        // cohort and participant state machines. Depends on nothing of Tributary's.
        .target(
            name: "TributarySecAgg",
            dependencies: [.product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto")]
        ),
        .target(
            name: "TributaryWire",
            dependencies: [
                "CNNG", "TributaryModel", "TributarySecAgg",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "TributaryStore",
            dependencies: ["TributaryModel", "TributarySecAgg", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "TributaryController",
            dependencies: [
                "TributaryWire", "TributaryModel", "TributaryStore", "TributarySecAgg",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Dashboard/Assets")]
        ),
        .target(
            name: "TributaryCombiner",
            dependencies: [
                "TributaryWire", "TributaryModel", "TributarySecAgg",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TributaryClient",
            dependencies: [
                "TributaryWire", "TributaryModel", "TributarySecAgg",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                // The one REST call, over HTTPS with the network's own CA when it has one.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/digits.csv")]
        ),

        .executableTarget(name: "tributary-controller", dependencies: [
            "TributaryController", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "tributary-combiner", dependencies: [
            "TributaryCombiner", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "tributary-client", dependencies: [
            "TributaryClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "tributary", dependencies: [
            "TributaryModel", "TributaryWire", "TributaryClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // Micro-benchmarks: aggregation kernels against memory bandwidth, and the nng loopback
        // bound for a round's bytes (scripts/bench.sh).
        .executableTarget(name: "tributary-bench", dependencies: [
            "TributaryWire", "TributaryModel", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "TributaryModelTests", dependencies: ["TributaryModel"]),
        .testTarget(name: "TributaryWireTests", dependencies: ["TributaryWire", "CNNG"]),
        .testTarget(name: "TributaryStoreTests", dependencies: ["TributaryStore"]),
        .testTarget(name: "TributaryControllerTests", dependencies: [
            "TributaryController", "TributaryStore", "TributaryModel", "TributaryWire",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "TributaryClientTests", dependencies: ["TributaryClient"]),
        .testTarget(name: "TributarySecAggTests", dependencies: ["TributarySecAgg"]),
        // Starts the real executables: depending on them makes `swift test` build them.
        .testTarget(name: "EndToEndTests", dependencies: [
            "TributaryModel", "TributaryWire", "TributaryClient", "tributary-controller", "tributary-combiner", "tributary-client", "tributary",
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
    ]
)
