// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "cstpack",
    // Linux only (glibc): the code imports Glibc and reads /proc. SwiftPM has no way to name
    // Linux alone, so no `platforms:` line is given (one naming macOS would claim support).
    products: [
        .executable(name: "cstpack", targets: ["cstpack"]),
        .library(name: "CSTPack", targets: ["CSTPack"]),
        .executable(name: "cstpack-outline", targets: ["cstpack-outline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation --target CSTPack` (the DocC catalog).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // YAML for ast-grep rule files (`query --rule`).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CTreeSitter", pkgConfig: "tree-sitter", providers: [.apt(["libtree-sitter-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        // C beside tree-sitter: the allocator that counts its memory, the one-pass tree
        // reader, and mended grammar scanners.
        .target(name: "CTreeSitterSupport", dependencies: ["CTreeSitter"], linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "CSTPack",
            dependencies: ["CTreeSitter", "CTreeSitterSupport", "CZstd", "CLZ4", "CXXHash", .product(name: "Yams", package: "Yams")],
            // Release builds skip the run-time exclusivity checks of class properties and
            // captured variables (measured: ~4% of a query's time); debug builds, which the
            // tests run, keep them.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // What the command-line programs share: option groups, failures, number options.
        .target(
            name: "CommandSupport",
            dependencies: ["CSTPack", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "cstpack",
            dependencies: ["CSTPack", "CommandSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Benchmark drivers (decode-all, bench-lookup) for scripts/bench*: not in the shipped cstpack.
        .executableTarget(
            name: "cstpack-bench",
            dependencies: ["CSTPack", "CommandSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // An example of the public read API: prints a stored file's outline.
        .executableTarget(name: "cstpack-outline", dependencies: ["CSTPack"], path: "Examples/Outline"),
        // scripts/bench-api's driver: walks every node of an archive within a cache budget.
        .executableTarget(name: "cstpack-api-walk", dependencies: ["CSTPack"], path: "Benchmarks/APIWalk"),
        // What a forger does (recompute every checksum), for the tests and scripts/fuzz: the
        // shipped library has no way to turn its checksums off.
        .target(name: "CSTPackForgery", dependencies: ["CSTPack", "CXXHash", "CZstd"]),
        .testTarget(name: "CSTPackTests", dependencies: ["CSTPack", "CSTPackForgery", "CommandSupport", "CTreeSitter"]),
        // The public API as another program sees it (no @testable), checked against
        // tree-sitter's own C API.
        .testTarget(name: "CSTPackAPITests", dependencies: ["CSTPack", "CTreeSitter"]),
    ]
)
