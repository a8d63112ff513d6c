import Foundation
import XCTest
@testable import CSTPack

/// TreeCodec / TreeDecoder round trips (random trees, real parses, huge and deep inputs),
/// hostile bytecode, and the segment compressors.
final class CodecTests: XCTestCase {

    // MARK: A synthetic language and random trees

    /// 20 kinds plus ERROR: named kinds, anonymous tokens of several lengths (one empty,
    /// as tree-sitter's MISSING tokens are), and 5 fields.
    static let table = LanguageTable(
        name: "synthetic", abi: 14,
        kindNames: ["end", "module", "identifier", "call", "(", ")", "def", "return", ",", "",
                    "string", "number", "block", "==", "...", "comment", "é", "binary", "lambda", "if", "ERROR"],
        kindNamed: [false, true, true, true, false, false, false, false, false, false,
                    true, true, true, false, false, true, false, true, false, false, true],
        fieldNames: ["", "name", "body", "left", "right", "value"])

    /// A random preorder tree valid for `table`: ranges nondecreasing and nested, gaps of
    /// every varint size, tokens whose length sometimes equals their kind's predicted
    /// length, parents whose end sometimes equals their last child's, random flags.
    static func randomTree(_ rng: inout SplitMix64, table: LanguageTable, maxNodes: Int, maxDepth: Int = 12) -> CSTTree {
        var tree = CSTTree()
        let kindCount = table.kindCount

        func gap() -> UInt32 {
            switch rng.below(20) {
            case 0: return UInt32(120 + rng.below(20))          // around the 1-byte varint edge
            case 1: return UInt32(16_000 + rng.below(800))      // 2/3-byte edge
            case 2: return UInt32(rng.below(3_000_000))         // large
            case 3...9: return 0
            default: return UInt32(rng.below(4))
            }
        }

        func flagsFor(kind: UInt16) -> CSTTree.Flags {
            var f: CSTTree.Flags = []
            let named = table.kindNamed[Int(kind)]
            if named != rng.chance(0.1) { f.insert(.named) }
            if rng.chance(0.1) { f.insert(.extra) }
            if rng.chance(0.05) { f.insert(.missing) }
            return f
        }

        // Returns the end of the node it adds (and of its subtree).
        func node(parent: Int32, field: UInt16, pos: UInt32, depth: Int) -> UInt32 {
            let start = pos + gap()
            let index = tree.count
            let kind = rng.chance(0.05) ? table.errorKind : UInt16(rng.below(kindCount))
            var f = flagsFor(kind: kind)
            tree.append(kind: kind, field: field, flags: f, start: start, end: start, parent: parent)
            var end: UInt32
            var childHasError = false
            if depth < maxDepth, tree.count < maxNodes, rng.chance(depth == 0 ? 0.95 : 0.45) {
                let n = 1 + rng.below(depth == 0 ? 12 : 5)
                var p = start
                for _ in 0..<n where tree.count < maxNodes {
                    let childField: UInt16 = rng.chance(0.4) ? UInt16(1 + rng.below(table.fieldCount)) : 0
                    let childIndex = tree.count
                    p = node(parent: Int32(index), field: childField, pos: p, depth: depth + 1)
                    if tree.flags[childIndex].contains(.hasError) { childHasError = true }
                }
                end = p + (rng.chance(0.7) ? 0 : gap())
            } else {
                if let predicted = table.predictedLength[Int(kind)], rng.chance(0.6) {
                    end = start + predicted
                } else {
                    end = start + UInt32(rng.chance(0.1) ? rng.below(100_000) : rng.below(12))
                }
            }
            // hasError mostly as tree-sitter derives it, sometimes not (exercises the toggle).
            var hasError = kind == table.errorKind || f.contains(.missing) || childHasError
            if rng.chance(0.08) { hasError.toggle() }
            if hasError { f.insert(.hasError) }
            tree.flags[index] = f
            tree.ends[index] = end
            return end
        }

        _ = node(parent: -1, field: 0, pos: 0, depth: 0)
        return tree
    }

    static func sourceLength(of tree: CSTTree) -> Int {
        Int(tree.ends.max() ?? 0) + 0
    }

    // MARK: (a) random trees

    /// A tag model trained on `count` random trees of `table` (a different seed from the
    /// trees it is used on, so that it predicts some instructions and misses others).
    static func trainedModel(seed: UInt64, count: Int, table: LanguageTable = table) throws -> TagModel {
        var rng = SplitMix64(seed: seed)
        let trainer = TagModelTrainer(table: table)
        for _ in 0..<count {
            let t = randomTree(&rng, table: table, maxNodes: 400)
            try trainer.add(t, sourceBytes: sourceLength(of: t))
        }
        return trainer.model()
    }

    func testRandomTreesRoundTrip() throws {
        var rng = SplitMix64(seed: 0xC0DE_0001)
        let table = Self.table
        let limits = [16, 64, 256, 256 * 1024]
        let model = try Self.trainedModel(seed: 0xC0DE_0101, count: 40)
        XCTAssertGreaterThan(model.contexts.count, 50)
        var multiRecord = 0
        var totalNodes = 0
        var predicted = 0
        for t in 0..<300 {
            let maxNodes = t % 10 == 0 ? 1 + rng.below(3) : 1 + rng.below(600)
            let tree = Self.randomTree(&rng, table: table, maxNodes: maxNodes)
            totalNodes += tree.count
            let srcLen = Self.sourceLength(of: tree) + rng.below(3)
            for limit in limits {
              for model in [nil, model] {
                // Checkpoints under any stack (bytesPerAncestor 0): the decoder must take them.
                let enc = try TreeCodec.encode(tree, table: table, model: model, recordLimit: limit, bytesPerAncestor: 0)
                if model != nil {
                    // Without a model the same tree takes exactly what the encoder said it would.
                    let plain = try TreeCodec.encode(tree, table: table, recordLimit: limit, bytesPerAncestor: 0)
                    if limit == 256 * 1024 { XCTAssertEqual(enc.plainBytes, plain.byteCount, "tree \(t)") }
                    if enc.byteCount < plain.byteCount { predicted += 1 }
                }
                XCTAssertEqual(enc.records.count, enc.firstNodes.count)
                XCTAssertEqual(enc.firstNodes.first, 0)
                XCTAssertEqual(enc.firstNodes, enc.firstNodes.sorted(), "checkpoints in node order")
                if enc.records.count > 1 { multiRecord += 1 }
                if limit == 16 && tree.count > 40 {
                    XCTAssertGreaterThan(enc.records.count, 1, "tree \(t) (\(tree.count) nodes) fits one 16-byte record?")
                }
                let label = "tree \(t) limit \(limit)" + (model == nil ? "" : " with a tag model")
                let decoded: CSTTree
                do {
                    decoded = try decodeAll(enc, table: table, model: model, nodeCount: tree.count, sourceLength: srcLen)
                } catch {
                    XCTFail("\(label): \(error)")
                    continue
                }
                if decoded != tree {
                    XCTFail("\(label): \(firstDifference(tree, decoded) ?? "trees differ")")
                }
                // A model's records cannot be read without it.
                if model != nil && tree.count > 20, let wrong = try? decodeAll(enc, table: table, nodeCount: tree.count, sourceLength: srcLen) {
                    XCTAssertNotEqual(wrong, tree, "\(label): decoded without its model")
                }
                try checkCheckpoints(enc, tree: tree, table: table, model: model, sourceLength: srcLen, rng: &rng, label: label)
              }
            }
        }
        XCTAssertGreaterThan(predicted, 500, "the model shortens most trees")
        XCTAssertGreaterThan(multiRecord, 150, "small record limits must split trees over several records")
        XCTAssertGreaterThan(totalNodes, 15_000)
    }

    /// Decoding from a checkpoint (without the earlier records) yields exactly the original
    /// nodes from that point on, and single nodes can be found from their checkpoint, as
    /// ArchiveReader.node(ofFile:id:) does.
    func checkCheckpoints(_ enc: TreeCodec.Encoded, tree: CSTTree, table: LanguageTable, model: TagModel? = nil,
                          sourceLength: Int, rng: inout SplitMix64, label: String) throws {
        var checkpoints: Set<Int> = [enc.records.count - 1]
        for _ in 0..<2 { checkpoints.insert(rng.below(enc.records.count)) }
        for k in checkpoints.sorted() {
            let base = Int(enc.firstNodes[k])
            let (nodes, open) = try decodeFromCheckpoint(enc.records, from: k, base: base, table: table, model: model,
                                                         nodeCount: tree.count, sourceLength: sourceLength)
            XCTAssertEqual(open, 0, "\(label): checkpoint \(k) leaves nodes open")
            var suffix = CSTTree()
            for i in base..<tree.count {
                suffix.append(kind: tree.kinds[i], field: tree.fields[i], flags: tree.flags[i],
                              start: tree.starts[i], end: tree.ends[i], parent: tree.parents[i])
            }
            if nodes != suffix {
                XCTFail("\(label): decoding from checkpoint \(k) (node \(base)): \(firstDifference(suffix, nodes) ?? "differs")")
            }
        }
        // Random single-node lookups from the nearest checkpoint.
        for _ in 0..<3 {
            let id = rng.below(tree.count)
            var k = enc.firstNodes.count - 1
            while k > 0 && Int(enc.firstNodes[k]) > id { k -= 1 }
            let found = try nodeFromCheckpoint(enc.records, from: k, base: Int(enc.firstNodes[k]), id: id, table: table,
                                               model: model, nodeCount: tree.count, sourceLength: sourceLength)
            XCTAssertEqual(found, nodeRecord(tree, id), "\(label): node \(id) from checkpoint \(k)")
        }
    }

    func testEncoderRejectsInvalidTrees() {
        let table = Self.table
        XCTAssertThrowsError(try TreeCodec.encode(CSTTree(), table: table), "empty tree")

        var overlap = CSTTree()
        overlap.append(kind: 1, field: 0, flags: .named, start: 0, end: 10, parent: -1)
        overlap.append(kind: 2, field: 0, flags: .named, start: 0, end: 5, parent: 0)
        overlap.append(kind: 2, field: 0, flags: .named, start: 3, end: 8, parent: 0)
        XCTAssertThrowsError(try TreeCodec.encode(overlap, table: table), "overlapping siblings")

        var badParent = CSTTree()
        badParent.append(kind: 1, field: 0, flags: .named, start: 0, end: 10, parent: -1)
        badParent.append(kind: 2, field: 0, flags: .named, start: 0, end: 5, parent: 1)
        XCTAssertThrowsError(try TreeCodec.encode(badParent, table: table), "parent is not earlier")

        var badKind = CSTTree()
        badKind.append(kind: UInt16(table.kindCount), field: 0, flags: .named, start: 0, end: 1, parent: -1)
        XCTAssertThrowsError(try TreeCodec.encode(badKind, table: table), "kind outside the table")

        var childPastParent = CSTTree()
        childPastParent.append(kind: 1, field: 0, flags: .named, start: 0, end: 4, parent: -1)
        childPastParent.append(kind: 2, field: 0, flags: .named, start: 0, end: 9, parent: 0)
        XCTAssertThrowsError(try TreeCodec.encode(childPastParent, table: table), "child ends after its parent")

        var twoRoots = CSTTree()
        twoRoots.append(kind: 1, field: 0, flags: .named, start: 0, end: 4, parent: -1)
        twoRoots.append(kind: 1, field: 0, flags: .named, start: 4, end: 9, parent: -1)
        XCTAssertThrowsError(try TreeCodec.encode(twoRoots, table: table), "second root")
    }

    func testDecoderChecksCountsAgainstTheIndex() throws {
        var rng = SplitMix64(seed: 0xC0DE_0002)
        let table = Self.table
        let tree = Self.randomTree(&rng, table: table, maxNodes: 200)
        let enc = try TreeCodec.encode(tree, table: table, recordLimit: 64)
        let len = Self.sourceLength(of: tree)
        XCTAssertEqual(try decodeAll(enc, table: table, nodeCount: tree.count, sourceLength: len), tree)
        XCTAssertThrowsError(try decodeAll(enc, table: table, nodeCount: tree.count + 1, sourceLength: len), "one node too many in the index")
        XCTAssertThrowsError(try decodeAll(enc, table: table, nodeCount: tree.count - 1, sourceLength: len), "one node too few in the index")
        if len > 0 {
            XCTAssertThrowsError(try decodeAll(enc, table: table, nodeCount: tree.count, sourceLength: len - 1), "source one byte shorter")
        }
        // Records out of order or missing.
        if enc.records.count > 2 {
            var swapped = enc
            swapped.records.swapAt(1, 2)
            XCTAssertThrowsError(try decodeAll(swapped, table: table, nodeCount: tree.count, sourceLength: len))
            var dropped = enc
            dropped.records.remove(at: 1)
            XCTAssertThrowsError(try decodeAll(dropped, table: table, nodeCount: tree.count, sourceLength: len))
        } else {
            XCTFail("expected a tree of several records")
        }
    }

    // MARK: (b) real parses of the fixtures

    /// Every fixture, without and with a tag model trained on the fixtures of its language
    /// (phase 2), at several record limits.
    func testFixturesRoundTrip() throws {
        let registry = try TestGrammars.require()
        let map = LanguageMap()
        var files = 0
        var languages = Set<String>()
        var sawError = false
        var parsed: [(rel: String, grammar: Grammar, tree: CSTTree, length: Int)] = []
        var trainers: [String: TagModelTrainer] = [:]
        for rel in try listFiles(TestPaths.fixturesPath) {
            let name = Array((rel.split(separator: "/").last.map(String.init) ?? rel).utf8)
            guard let lang = map.language(forFileName: name), let grammar = registry.grammars[lang] else { continue }
            let bytes = try readBytes(TestPaths.fixturesPath + "/" + rel)
            if bytes.prefix(8000).contains(0) { continue }
            let tree = try parseTree(bytes, grammar: grammar)
            XCTAssertGreaterThanOrEqual(tree.count, 1, rel)
            if tree.flags[0].contains(.hasError) { sawError = true }
            parsed.append((rel, grammar, tree, bytes.count))
            try (trainers[lang] ?? { let t = TagModelTrainer(table: grammar.table); trainers[lang] = t; return t }()).add(tree, sourceBytes: bytes.count)
            files += 1
            languages.insert(lang)
        }
        let models = trainers.mapValues { $0.model(minCount: 1) }
        for (rel, grammar, tree, length) in parsed {
            for limit in [64, 4096, 256 * 1024] {
                for model in [nil, models[grammar.table.name]] {
                    let label = "\(rel) limit \(limit)" + (model == nil ? "" : " with a tag model")
                    let enc = try TreeCodec.encode(tree, table: grammar.table, model: model, recordLimit: limit)
                    do {
                        let decoded = try decodeAll(enc, table: grammar.table, model: model, nodeCount: tree.count, sourceLength: length)
                        if decoded != tree { XCTFail("\(label): \(firstDifference(tree, decoded) ?? "differs")") }
                    } catch {
                        XCTFail("\(label): \(error)")
                    }
                    if model != nil && limit == 256 * 1024 && tree.count > 10 {
                        XCTAssertLessThan(enc.byteCount, enc.plainBytes, "\(label): a model trained on the file itself must shorten it")
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(files, 18, "fixture files parsed")
        XCTAssertGreaterThanOrEqual(languages.count, 10, "languages covered: \(languages.sorted())")
        XCTAssertTrue(sawError, "broken fixtures must produce error nodes")
    }

    // MARK: (c) huge lines and deep nesting

    private func roundTrip(_ source: [UInt8], grammar: Grammar, limits: [Int], label: String) throws -> CSTTree {
        let tree = try parseTree(source, grammar: grammar)
        for limit in limits {
            let enc = try TreeCodec.encode(tree, table: grammar.table, recordLimit: limit)
            let decoded = try decodeAll(enc, table: grammar.table, nodeCount: tree.count, sourceLength: source.count)
            if decoded != tree { XCTFail("\(label) limit \(limit): \(firstDifference(tree, decoded) ?? "differs")") }
            if limit <= 4096 { XCTAssertGreaterThan(enc.records.count, 1, "\(label): expected several records") }
        }
        return tree
    }

    func testHundredKilobyteSingleLine() throws {
        let python = try TestGrammars.require("python")
        let dir = try makeTempDir()
        let text = "x = [" + (0..<20_000).map(String.init).joined(separator: ", ") + "]\n"
        let path = dir + "/long.py"
        try writeBytes(Array(text.utf8), to: path)
        let source = try readBytes(path)
        XCTAssertGreaterThan(source.count, 100_000)
        XCTAssertEqual(source.filter { $0 == 0x0A }.count, 1)
        let tree = try roundTrip(source, grammar: python, limits: [4096, 256 * 1024], label: "long line")
        XCTAssertGreaterThan(tree.count, 40_000)
        XCTAssertFalse(tree.flags[0].contains(.hasError))
    }

    func testDeepNestingDoesNotOverflowTheStack() throws {
        let python = try TestGrammars.require("python")
        let json = try TestGrammars.require("json")
        let py = "x = " + String(repeating: "(", count: 1500) + "1" + String(repeating: ")", count: 1500) + "\n"
        let pyTree = try roundTrip(Array(py.utf8), grammar: python, limits: [4096, 256 * 1024], label: "python nesting")
        XCTAssertGreaterThan(pyTree.depth(), 1000)

        let js = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        let jsTree = try roundTrip(Array(js.utf8), grammar: json, limits: [256 * 1024], label: "json nesting")
        XCTAssertGreaterThan(jsTree.depth(), 3000)

        // Deeper still in a synthetic tree: a chain 50,000 deep.
        let table = Self.table
        var chain = CSTTree()
        let depth = 50_000
        for i in 0..<depth {
            chain.append(kind: 3, field: 0, flags: .named, start: UInt32(i), end: UInt32(2 * depth - i), parent: Int32(i - 1))
        }
        XCTAssertEqual(chain.depth(), depth)
        let enc = try TreeCodec.encode(chain, table: table)
        XCTAssertEqual(try decodeAll(enc, table: table, nodeCount: depth, sourceLength: 2 * depth), chain)
    }

    /// A checkpoint header lists every open ancestor. When the nesting is so deep that the
    /// header alone reaches the record limit, the encoder must not start a new record (and
    /// repeat the whole header) at every node: the encoded size must stay proportional to
    /// the tree, not to nodes x depth. Here: a 6 KB JSON file nested 3000 deep, with the
    /// smallest segment size the CLI accepts (--segment-size 4096).
    func testDeepNestingWithSmallRecordsStaysLinear() throws {
        let json = try TestGrammars.require("json")
        let js = Array((String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)).utf8)
        let tree = try parseTree(js, grammar: json)
        let single = try TreeCodec.encode(tree, table: json.table, recordLimit: 256 * 1024)
        XCTAssertEqual(single.records.count, 1)
        let small = try TreeCodec.encode(tree, table: json.table, recordLimit: 4096)
        XCTAssertLessThanOrEqual(small.byteCount, 4 * single.byteCount,
                                 "\(tree.count) nodes: \(single.byteCount) bytes in one record, \(small.byteCount) bytes in \(small.records.count) records of limit 4096")
        XCTAssertLessThanOrEqual(small.records.count, 4 * (single.byteCount / 4096 + 1))
    }

    // MARK: (d) hostile bytecode

    /// Mutations of real encoded records: decoding throws FormatError or yields a tree that
    /// still satisfies the decoder's guarantees; it never traps. Runs in a child process so
    /// that a trap fails this test with the case that caused it.
    func testCorruptedBytecodeNeverTraps() throws {
        let python = try TestGrammars.require("python")
        let app = try readBytes(TestPaths.fixturesPath + "/python/app.py")
        let broken = try readBytes(TestPaths.fixturesPath + "/python/broken.py")
        var rng = SplitMix64(seed: 0xC0DE_0003)
        var subjects: [(table: LanguageTable, model: TagModel?, enc: TreeCodec.Encoded, nodes: Int, length: Int)] = []
        let pythonTrainer = TagModelTrainer(table: python.table)
        for src in [app, broken] { try pythonTrainer.add(try parseTree(src, grammar: python), sourceBytes: src.count) }
        let pythonModel = pythonTrainer.model(minCount: 1)
        for (src, limit) in [(app, 64), (app, 256 * 1024), (broken, 32)] {
            let t = try parseTree(src, grammar: python)
            for model in [nil, pythonModel] {
                subjects.append((python.table, model, try TreeCodec.encode(t, table: python.table, model: model, recordLimit: limit), t.count, src.count))
            }
        }
        let syntheticModel = try Self.trainedModel(seed: 0xC0DE_0103, count: 20)
        for _ in 0..<3 {
            let t = Self.randomTree(&rng, table: Self.table, maxNodes: 300)
            for model in [nil, syntheticModel] {
                subjects.append((Self.table, model, try TreeCodec.encode(t, table: Self.table, model: model, recordLimit: 48), t.count, Self.sourceLength(of: t)))
            }
        }
        let iterations = 6000
        let (outcome, last) = runIsolated { mark in
            var rng = SplitMix64(seed: 0xC0DE_0004)
            var accepted = 0, rejected = 0
            for it in 0..<iterations {
                let s = subjects[it % subjects.count]
                var records = s.enc.records
                let k = rng.below(records.count)
                var rec = records[k]
                let how = rng.below(5)
                switch how {
                case 0: // flip 1-3 bytes
                    for _ in 0...rng.below(3) where !rec.isEmpty { rec[rng.below(rec.count)] ^= UInt8(1 + rng.below(255)) }
                case 1: // truncate
                    rec.removeSubrange(rng.below(rec.count + 1)...)
                case 2: // overwrite a run with random bytes
                    if !rec.isEmpty {
                        let a = rng.below(rec.count), n = min(rec.count - a, 1 + rng.below(8))
                        for i in a..<(a + n) { rec[i] = UInt8(rng.below(256)) }
                    }
                case 3: // insert random bytes
                    rec.insert(contentsOf: rng.bytes(1 + rng.below(6)), at: rng.below(rec.count + 1))
                default: // delete a byte
                    if !rec.isEmpty { rec.remove(at: rng.below(rec.count)) }
                }
                records[k] = rec
                mark("case \(it): subject \(it % subjects.count), record \(k) of \(records.count), mutation \(how), \(rec.count) bytes" + (rec.count <= 64 ? ": " + rec.map { String($0, radix: 16) }.joined(separator: " ") : ""))
                var enc = s.enc
                enc.records = records
                do {
                    let t = try decodeAll(enc, table: s.table, model: s.model, nodeCount: s.nodes, sourceLength: s.length)
                    accepted += 1
                    // What is accepted still satisfies what readers rely on.
                    guard t.count == s.nodes, t.parents[0] == -1 else { mark("FAIL case \(it): bad count/root"); return 1 }
                    for i in 0..<t.count {
                        guard t.starts[i] <= t.ends[i], Int(t.ends[i]) <= s.length, Int(t.kinds[i]) < s.table.kindCount,
                              Int(t.fields[i]) <= s.table.fieldCount, i == 0 || (t.parents[i] >= 0 && Int(t.parents[i]) < i) else {
                            mark("FAIL case \(it): node \(i) violates the decoder's guarantees"); return 1
                        }
                    }
                } catch is FormatError {
                    rejected += 1
                } catch {
                    mark("FAIL case \(it): non-FormatError \(error)"); return 1
                }
                // The checkpoint path (node lookup) over the mutated record, too.
                if k > 0 {
                    do {
                        _ = try decodeFromCheckpoint(records, from: k, base: Int(s.enc.firstNodes[k]), table: s.table,
                                                     model: s.model, nodeCount: s.nodes, sourceLength: s.length)
                        _ = try nodeFromCheckpoint(records, from: k, base: Int(s.enc.firstNodes[k]), id: s.nodes - 1,
                                                   table: s.table, model: s.model, nodeCount: s.nodes, sourceLength: s.length)
                    } catch is FormatError {
                    } catch {
                        mark("FAIL case \(it): non-FormatError \(error)"); return 1
                    }
                }
            }
            mark("done: \(accepted) accepted, \(rejected) rejected")
            return rejected > iterations / 4 ? 0 : 3
        }
        switch outcome {
        case .exited(0):
            XCTAssertTrue(last?.hasPrefix("done") ?? false)
        case .exited(let code):
            XCTFail("corrupted bytecode: child exited \(code); last: \(last ?? "-")")
        case .signalled(let sig):
            XCTFail("corrupted bytecode TRAPPED (signal \(sig)) at: \(last ?? "-")")
        }
    }

    /// State headers that claim open ancestors which are not earlier decoded nodes: the
    /// decoder must reject them, not index past its node arrays.
    func testStateHeaderWithBogusAncestorIsRejected() {
        let table = Self.table
        let cases: [(String, [UInt8], Int)] = [
            // position 0, depth 1, ancestor node 0 (not implied) of kind 3 with no child yet
            // (last child kind 21 = none), END, end delta 0.
            ("first record, ancestor 0 then END", [0x00, 0x01, 0x00, 0x03, 0x15, 0x00, 0x00], 0),
            // checkpoint at node 2 naming node 5 (after the checkpoint) as open, then END.
            ("checkpoint at node 2, ancestor 5 then END", [0x00, 0x01, 0x0A, 0x03, 0x15, 0x00, 0x00], 2),
            // checkpoint at node 2 naming node 2 itself as open, then END.
            ("checkpoint at node 2, ancestor 2 then END", [0x00, 0x01, 0x04, 0x03, 0x15, 0x00, 0x00], 2),
            // a valid ancestor whose kind is outside the language.
            ("checkpoint at node 2, ancestor 0 of kind 21", [0x00, 0x01, 0x00, 0x15, 0x15, 0x00, 0x00], 2),
        ]
        for (label, bytes, base) in cases {
            let (outcome, last) = runIsolated { mark in
                do {
                    if base == 0 {
                        var d = TreeDecoder(table: table, model: nil, nodeCount: 10, sourceLength: 10)
                        try bytes.withUnsafeBytes { try d.feed($0, context: label) }
                        _ = try d.finish(context: label)
                    } else {
                        _ = try decodeFromCheckpoint([bytes], from: 0, base: base, table: table, nodeCount: 10, sourceLength: 10)
                    }
                    mark("accepted")
                } catch {
                    mark("rejected: \(error)")
                }
                return 0
            }
            if case .signalled(let sig) = outcome {
                XCTFail("\(label): decoder TRAPPED (signal \(sig)) instead of throwing FormatError")
            } else {
                XCTAssertEqual(outcome, .exited(0))
                XCTAssertTrue(last?.hasPrefix("rejected") ?? false, "\(label): \(last ?? "-")")
            }
        }
    }

    // MARK: Compression

    func testCompressorRoundTripEveryCodec() throws {
        var rng = SplitMix64(seed: 0xC0DE_0005)
        var buffers: [[UInt8]] = [[0], [1, 2, 3], [UInt8](repeating: 0, count: 70_000)]
        for size in [1, 2, 17, 100, 4096, 65_537, 200_000] {
            buffers.append(rng.bytes(size))  // incompressible
            // compressible: a small alphabet with repeats
            buffers.append((0..<size).map { _ in UInt8(97 + rng.below(4)) })
        }
        let text = try readBytes(TestPaths.fixturesPath + "/python/app.py")
        buffers.append(Array(repeating: text, count: 20).flatMap { $0 })
        let decompressor = Decompressor()
        for codec in Codec.allCases {
            for level in codec == .none ? [0] : (codec == .zstd ? [1, codec.defaultLevel] : [0, 9]) {
                let c = Compressor(codec: codec, level: level)
                for (b, input) in buffers.enumerated() {
                    let stored = try input.withUnsafeBytes { try c.compress($0) }
                    if codec == .none { XCTAssertEqual(stored, input) }
                    var out: [UInt8] = [9, 9, 9]  // must be replaced, not appended to
                    try stored.withUnsafeBytes { try decompressor.decompress($0, codec: codec, rawLength: input.count, into: &out) }
                    XCTAssertEqual(out, input, "\(codec) level \(level) buffer \(b) (\(input.count) bytes)")
                    if codec != .none && b == 2 { XCTAssertLessThan(stored.count, input.count / 10, "\(codec) compresses zeros") }
                }
            }
        }
    }

    /// A prefix of a zstd segment: exactly the bytes asked for, equal to the whole's start;
    /// the whole (with its exact length check) when the prefix reaches the end; a truncated
    /// frame that cannot give the prefix is an error.
    func testDecompressorPrefix() throws {
        var rng = SplitMix64(seed: 0xC0DE_0009)
        let raw = (0..<300_000).map { i in UInt8(truncatingIfNeeded: i / 7 + (rng.chance(0.1) ? rng.below(256) : 0)) }
        let packed = try raw.withUnsafeBytes { try Compressor(codec: .zstd, level: 3).compress($0) }
        let d = Decompressor()
        for prefix in [0, 1, 1000, 65_536, 299_999] {
            var out: [UInt8] = []
            try packed.withUnsafeBytes { try d.decompress($0, codec: .zstd, rawLength: raw.count, prefix: prefix, into: &out) }
            XCTAssertEqual(out.count, prefix)
            XCTAssertEqual(out, Array(raw.prefix(prefix)))
        }
        var whole: [UInt8] = []
        try packed.withUnsafeBytes { try d.decompress($0, codec: .zstd, rawLength: raw.count, prefix: raw.count + 5, into: &whole) }
        XCTAssertEqual(whole, raw)
        XCTAssertThrowsError(try packed.withUnsafeBytes { buf in
            var out: [UInt8] = []
            try d.decompress(UnsafeRawBufferPointer(rebasing: buf[0..<buf.count / 3]), codec: .zstd, rawLength: raw.count, prefix: 250_000, into: &out)
        })
    }

    func testDecompressorRejectsWrongLengthAndTruncation() throws {
        var rng = SplitMix64(seed: 0xC0DE_0006)
        var input: [UInt8] = []
        for i in 0..<20_000 {
            let b: UInt8 = i % 7 == 0 ? UInt8(rng.below(256)) : UInt8(97 + (i / 3) % 11)
            input.append(b)
        }
        let d = Decompressor()
        for codec in Codec.allCases {
            let stored = try input.withUnsafeBytes { try Compressor(codec: codec, level: codec.defaultLevel).compress($0) }
            var out: [UInt8] = []
            for wrong in [0, 1, input.count - 1, input.count + 1, input.count * 2] {
                XCTAssertThrowsError(try stored.withUnsafeBytes { try d.decompress($0, codec: codec, rawLength: wrong, into: &out) },
                                     "\(codec) with raw length \(wrong) instead of \(input.count)") { XCTAssertTrue($0 is FormatError) }
            }
            var cuts = [0, 1, 2, stored.count / 2, stored.count - 1]
            for _ in 0..<40 { cuts.append(rng.below(stored.count)) }
            for n in cuts {
                let cut = Array(stored[0..<n])
                XCTAssertThrowsError(try cut.withUnsafeBytes { try d.decompress($0, codec: codec, rawLength: input.count, into: &out) },
                                     "\(codec) truncated to \(n) of \(stored.count)") { XCTAssertTrue($0 is FormatError) }
            }
            // Still usable after errors.
            try stored.withUnsafeBytes { try d.decompress($0, codec: codec, rawLength: input.count, into: &out) }
            XCTAssertEqual(out, input)
        }
    }

    func testDecompressorOnGarbageNeverTraps() {
        var rng = SplitMix64(seed: 0xC0DE_0007)
        let d = Decompressor()
        var out: [UInt8] = []
        let valid = (try? Array(repeating: Array("hello, segment ".utf8), count: 200).flatMap { $0 }.withUnsafeBytes {
            try Compressor(codec: .zstd, level: 3).compress($0)
        }) ?? []
        XCTAssertFalse(valid.isEmpty)
        for i in 0..<2_000 {
            var input: [UInt8]
            if i % 2 == 0 {
                input = rng.bytes(rng.below(200))
            } else {
                input = valid
                input[rng.below(input.count)] ^= UInt8(1 + rng.below(255))
            }
            let codec: Codec = i % 4 < 2 ? .zstd : .lz4
            do {
                try input.withUnsafeBytes { try d.decompress($0, codec: codec, rawLength: 1 + rng.below(4000), into: &out) }
            } catch {
                XCTAssertTrue(error is FormatError)
            }
        }
    }
}
