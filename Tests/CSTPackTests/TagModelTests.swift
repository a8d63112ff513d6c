import Foundation
import XCTest
@testable import CSTPack

/// Phase 2: tag models (training, bytes, validation, hostile models) and archives built
/// with and without phase 2.
final class TagModelTests: XCTestCase {

    // MARK: Training and bytes

    func testSerializedModelParsesBackEqual() throws {
        let model = try CodecTests.trainedModel(seed: 0x7A6_0001, count: 30)
        XCTAssertGreaterThan(model.flat.count, 100)
        let bytes = model.serialized()
        let parsed = try bytes.withUnsafeBytes { try TagModel.parse($0, table: CodecTests.table, context: "model") }
        XCTAssertEqual(parsed, model)
        XCTAssertEqual(parsed.serialized(), bytes)
        // Every context is found by the lookup, with its own symbols.
        for c in model.contexts {
            let r = parsed.symbols(parent: c.parent, previous: c.previous)
            XCTAssertEqual(Array(parsed.flat[r]), c.symbols)
        }
        XCTAssertEqual(parsed.symbols(parent: 9999, previous: 0).count, 0)
        // The lookup packs symbols in 8 bytes and ranges in 32 bits when they fit; a model
        // whose values do not (a folded value over 255, a context of 300 symbols) is read
        // through the wide tables, with the same answers.
        let wide = TagModel(kindCount: 20, contexts: [
            .init(parent: 1, previous: 2, symbols: [.init(tag: 3, field: 1, lengthCode: 300, gap: 2)]),
            .init(parent: 2, previous: 20, symbols: (0..<300).map { .init(tag: UInt32($0 % 7 + 1), lengthCode: UInt32($0)) }),
        ])
        for c in wide.contexts {
            XCTAssertEqual(Array(wide.flat[wide.symbols(parent: c.parent, previous: c.previous)]), c.symbols)
        }
        // A model is for one grammar: another table's kind count is refused by the encoder.
        let other = LanguageTable(name: "other", abi: 14, kindNames: ["a", "ERROR"], kindNamed: [true, true], fieldNames: [""])
        var t = CSTTree()
        t.append(kind: 0, field: 0, flags: .named, start: 0, end: 0, parent: -1)
        XCTAssertThrowsError(try TreeCodec.encode(t, table: other, model: model))
    }

    /// Large grammars (more than ~720 kinds) use the hashed context table instead of the
    /// square one: both find every context and nothing else.
    func testLookupWithSquareAndHashedTables() {
        var rng = SplitMix64(seed: 0x7A6_0006)
        for kindCount in [30, 2_000] {
            var keys = Set<UInt64>()
            while keys.count < 500 { keys.insert(UInt64(rng.below(kindCount + 1)) << 32 | UInt64(rng.below(kindCount + 1))) }
            let contexts = keys.sorted().map { k in
                TagModel.Context(parent: UInt32(k >> 32), previous: UInt32(k & 0xFFFF_FFFF),
                                 symbols: (0...rng.below(4)).map { TagModel.Symbol(tag: UInt32(1 + $0) << 6 | UInt32(k % 7)) })
            }
            let model = TagModel(kindCount: kindCount, contexts: contexts)
            for c in contexts {
                let r = model.symbols(parent: c.parent, previous: c.previous)
                XCTAssertEqual(r.map { model.lookup.symbol($0) }, c.symbols, "kinds \(kindCount)")
            }
            var misses = 0
            for _ in 0..<2000 {
                let p = UInt32(rng.below(kindCount + 1)), q = UInt32(rng.below(kindCount + 1))
                if !keys.contains(UInt64(p) << 32 | UInt64(q)) { XCTAssertTrue(model.symbols(parent: p, previous: q).isEmpty); misses += 1 }
            }
            XCTAssertGreaterThan(misses, 100)
            XCTAssertTrue(model.symbols(parent: UInt32(kindCount + 1), previous: 0).isEmpty)
        }
    }

    /// Counts merge commutatively: trainers filled in any order (as workers fill them)
    /// give the same model, so builds stay deterministic.
    func testTrainersMergeInAnyOrder() throws {
        var rng = SplitMix64(seed: 0x7A6_0002)
        let trees = (0..<12).map { _ in CodecTests.randomTree(&rng, table: CodecTests.table, maxNodes: 300) }
        func trained(_ order: [Int], parts: Int) throws -> TagModel {
            let trainers = (0..<parts).map { _ in TagModelTrainer(table: CodecTests.table) }
            for (k, i) in order.enumerated() { try trainers[k % parts].add(trees[i], sourceBytes: 10) }
            for t in trainers.dropFirst() { trainers[0].merge(t) }
            XCTAssertEqual(trainers[0].sampleFiles, trees.count)
            return trainers[0].model()
        }
        let a = try trained(Array(0..<12), parts: 1)
        let b = try trained(Array((0..<12).reversed()), parts: 3)
        let c = try trained([5, 1, 9, 0, 11, 2, 7, 3, 10, 4, 8, 6], parts: 2)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a, c)
    }

    /// Real code: a model trained on some files shrinks others' bytecode, and folds token
    /// lengths and indentation into symbols.
    func testModelShrinksRealCode() throws {
        let python = try TestGrammars.require("python")
        var files: [[UInt8]] = []
        for rel in try listFiles(TestPaths.fixturesPath) where rel.hasSuffix(".py") {
            files.append(try readBytes(TestPaths.fixturesPath + "/" + rel))
        }
        XCTAssertGreaterThanOrEqual(files.count, 4)
        let trainer = TagModelTrainer(table: python.table)
        let trees = try files.map { try parseTree($0, grammar: python) }
        for (t, f) in zip(trees, files).dropFirst() { try trainer.add(t, sourceBytes: f.count) }
        let model = trainer.model(minCount: 1)
        XCTAssertTrue(model.flat.contains { $0.lengthCode != 0 }, "some symbols fix a token length")
        XCTAssertTrue(model.flat.contains { $0.gap != 0 }, "some symbols fix a gap")
        var with = 0, without = 0
        for t in trees {
            with += try TreeCodec.encode(t, table: python.table, model: model).byteCount
            without += try TreeCodec.encode(t, table: python.table).byteCount
        }
        XCTAssertLessThan(Double(with), 0.8 * Double(without), "bytecode with the model: \(with) B, without: \(without) B")
    }

    // MARK: Hostile models

    private func parse(_ bytes: [UInt8]) throws -> TagModel {
        try bytes.withUnsafeBytes { try TagModel.parse($0, table: CodecTests.table, context: "model") }
    }

    func testInvalidModelsAreRejected() throws {
        let k = CodecTests.table.kindCount // 21: the sentinel; 22 is out of range
        let tag = (3 + 1) << 6             // kind 3, gap 0, no flags
        let cases: [(String, [UInt8])] = [
            ("context parent out of range", [1, UInt8(k + 1), 0, 1, UInt8(tag & 0x7F) | 0x80, UInt8(tag >> 7), 0, 0, 0]),
            ("empty context", [1, 0, 0, 0]),
            ("contexts out of order", [2, 1, 0, 1, 0, 0, 5, 1, 0]),
            ("tag of kind 0 - 1", [1, 0, 0, 1, 0x20, 0, 0, 0]),
            ("field without the field bit", [1, 0, 0, 1, UInt8(tag & 0x7F) | 0x80, UInt8(tag >> 7), 1, 0, 0]),
            ("length folded into a node with children", [1, 0, 0, 1, UInt8((tag | 4) & 0x7F) | 0x80, UInt8((tag | 4) >> 7), 0, 3, 0]),
            ("gap folded without gap code 2", [1, 0, 0, 1, UInt8(tag & 0x7F) | 0x80, UInt8(tag >> 7), 0, 0, 5]),
            ("gap code 3", [1, 0, 0, 1, UInt8((tag | 0x30) & 0x7F) | 0x80, UInt8((tag | 0x30) >> 7), 0, 0, 0]),
            ("stray bytes", [0, 0]),
            ("count beyond the bytes", [0x7F]),
        ]
        for (label, bytes) in cases {
            XCTAssertThrowsError(try parse(bytes), label) { XCTAssertTrue($0 is FormatError, "\(label): \($0)") }
        }
        // The same shape with valid values parses.
        XCTAssertNoThrow(try parse([1, 0, 0, 1, UInt8(tag & 0x7F) | 0x80, UInt8(tag >> 7), 0, 0, 0]))
    }

    /// Every byte flip and truncation of a real model: parsing throws FormatError or gives
    /// a model that decodes without trapping (child process, so a trap fails the test).
    func testDamagedModelsNeverTrap() throws {
        let model = try CodecTests.trainedModel(seed: 0x7A6_0003, count: 10)
        let bytes = model.serialized()
        var rng = SplitMix64(seed: 0x7A6_0004)
        let tree = CodecTests.randomTree(&rng, table: CodecTests.table, maxNodes: 400)
        let enc = try TreeCodec.encode(tree, table: CodecTests.table, model: model, recordLimit: 64)
        let length = CodecTests.sourceLength(of: tree)
        let (outcome, last) = runIsolated { mark in
            var rng = SplitMix64(seed: 0x7A6_0005)
            var accepted = 0
            for pos in 0..<bytes.count + 200 {
                var damaged = bytes
                if pos < bytes.count {
                    damaged[pos] ^= UInt8(1 + rng.below(255))
                } else {
                    damaged.removeSubrange(rng.below(bytes.count)...)
                }
                mark("case \(pos)")
                guard let m = try? damaged.withUnsafeBytes({ try TagModel.parse($0, table: CodecTests.table, context: "m") }) else { continue }
                accepted += 1
                _ = try? decodeAll(enc, table: CodecTests.table, model: m, nodeCount: tree.count, sourceLength: length)
                _ = try? decodeFromCheckpoint(enc.records, from: enc.records.count - 1, base: Int(enc.firstNodes.last!),
                                              table: CodecTests.table, model: m, nodeCount: tree.count, sourceLength: length)
            }
            mark("done: \(accepted) damaged models parsed")
            return 0
        }
        XCTAssertEqual(outcome, .exited(0), "damaged model TRAPPED at \(last ?? "-")")
        XCTAssertTrue(last?.hasPrefix("done") ?? false, last ?? "-")
    }

    // MARK: Archives with and without phase 2

    /// Real code: the Python standard library's `email` package (about 30 files, 260 KB of
    /// Python on every machine of this kind), plus a copy of one file.
    private func realTree() throws -> String {
        guard let stdlib = QueryTests.pythonStdlib(), FileManager.default.fileExists(atPath: stdlib + "/email/parser.py") else {
            throw TestSetupError("the Python standard library was not found (python3 -c 'import sysconfig ...')")
        }
        let root = try makeTempDir("cstpack-phase2") + "/tree"
        try FileManager.default.createDirectory(atPath: root + "/email", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: stdlib + "/email") where name.hasSuffix(".py") {
            try FileManager.default.copyItem(atPath: stdlib + "/email/" + name, toPath: root + "/email/" + name)
        }
        try FileManager.default.copyItem(atPath: root + "/email/parser.py", toPath: root + "/copy.py")
        return root
    }

    func testPhase2ArchivesAreSmallerAndReadTheSame() throws {
        let registry = try TestGrammars.require()
        let root = try realTree()
        let dir = try makeTempDir()
        let with = dir + "/with.cstpack", without = dir + "/without.cstpack"
        try buildArchive(root: root, output: with, grammars: registry)
        try buildArchive(root: root, output: without, grammars: registry) { $0.phases = [.packing, .bytecode] }
        let a = try Archive(path: with), b = try Archive(path: without)
        XCTAssertEqual(a.buildInfo.phases, .all)
        XCTAssertEqual(b.buildInfo.phases, [.packing, .bytecode])
        // With phase 2: a Python model, and the copy shares its original's records.
        let python = try XCTUnwrap(a.languages.firstIndex { $0.name == "python" })
        XCTAssertNotNil(try a.tagModel(language: python), "a model pays on real code of this size")
        XCTAssertTrue(b.bases.isEmpty)
        XCTAssertEqual(try (0..<a.fileCount).filter { try a.file($0).sameAs != nil }.count, 1)
        XCTAssertEqual(try (0..<b.fileCount).filter { try b.file($0).sameAs != nil }.count, 0)
        // Same trees either way, and both verify (the model archive from the source too).
        let ra = ArchiveReader(a), rb = ArchiveReader(b)
        for i in 0..<a.fileCount { XCTAssertEqual(try ra.tree(ofFile: i), try rb.tree(ofFile: i)) }
        var o = VerifyOptions()
        o.sourceDirectory = root
        let report = Verifier.run(a, options: o, grammars: registry)
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertTrue(Verifier.run(b, options: VerifyOptions(), grammars: nil).ok)
        // Stats: the measured size without phase 2 is what the --phases 1,3 build stored.
        let sa = try StatsReport.compute(a, measure: true), sb = try StatsReport.compute(b)
        let m = try XCTUnwrap(sa.phase2.measured)
        XCTAssertEqual(m.cst_segments_with_phase2, sa.segments.cst_stored_bytes)
        XCTAssertEqual(Double(m.cst_segments_without_phase2), Double(sb.segments.cst_stored_bytes),
                       accuracy: Double(sb.segments.cst_stored_bytes) * 0.03, "attributed size of the shared copy")
        XCTAssertLessThan(sa.total.cst_bytes, sb.total.cst_bytes)
        XCTAssertGreaterThan(m.tag_models_saved, 0)
        XCTAssertGreaterThan(m.identical_files_saved, 0)
        XCTAssertGreaterThan(sa.phase2.tag_models_raw_saved, 0)
        XCTAssertEqual(sb.phase2.tag_models_raw_saved, 0)
        XCTAssertFalse(sb.phase2.applied)
        XCTAssertEqual(sa.phase2.bases.map(\.kind), ["tag model"])
    }

    func testModelArchivesAreDeterministicAcrossJobCounts() throws {
        let registry = try TestGrammars.require()
        let root = try realTree()
        let dir = try makeTempDir()
        var archives: [[UInt8]] = []
        for jobs in [1, 2, 4] {
            let out = dir + "/j\(jobs).cstpack"
            try buildArchive(root: root, output: out, jobs: jobs, grammars: registry) { $0.segmentSize = 4096 }
            archives.append(try readBytes(out))
        }
        XCTAssertEqual(archives[0], archives[1], "jobs 1 vs 2")
        XCTAssertEqual(archives[0], archives[2], "jobs 1 vs 4")
    }
}
