import Yams

/// ast-grep rule files (`query --rule FILE.yml`): one or more YAML documents (`---`), each
/// with id, language, rule, and optionally message, severity and constraints. Keys cstpack
/// does not run (fix, transform, utils, ...) are errors that name them, never ignored.
enum RuleFileCompiler {
    static let documentKeys = ["id", "language", "rule", "message", "severity", "constraints", "note", "url", "metadata"]
    static let ruleKeys = ["pattern", "kind", "regex", "inside", "has", "follows", "precedes", "all", "any", "not"]
    static let severities = ["hint", "info", "warning", "error", "off"]

    /// Rule objects one file may compile to. YAML aliases copy a node wherever they appear,
    /// so a few lines can stand for an exponential number of rules (a "billion laughs"
    /// file): counting them as they are compiled stops such a file with an error, in
    /// linear time.
    static let maxRuleObjects = 10_000

    final class Budget {
        var left = RuleFileCompiler.maxRuleObjects
    }

    struct Context {
        let path: String
        let id: String
        let grammar: Grammar
        let budget: Budget
        let parser: UntrustedTextParser

        func error(_ node: Node?, _ message: String) -> CSTPackError {
            CSTPackError("\(location(node)) rule '\(id)': \(message)")
        }
        func location(_ node: Node?) -> String {
            guard let m = node?.mark else { return "\(path):" }
            return "\(path):\(m.line):\(m.column):"
        }
    }

    /// Every rule of the file for the archive's languages (a language the archive lacks has
    /// nothing to match). Everything is checked before any file is read.
    static func compile(_ text: String, path: String, onlyLanguage: String?, archive: Archive,
                        parser: UntrustedTextParser) throws -> [Int: [SearchRule]] {
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let doc = try parser.nextRoot() { documents.append(doc) }
        } catch let e as YamlError {
            throw CSTPackError("\(path): " + ("\(e)".split(separator: "\n").first.map(String.init) ?? "not YAML"))
        }
        var out: [Int: [SearchRule]] = [:]
        var count = 0
        let budget = Budget()
        for doc in documents {
            guard let map = doc.mapping else {
                throw CSTPackError("\(path):\(doc.mark.map { "\($0.line):\($0.column):" } ?? "") a rule document is a mapping (id, language, rule, ...)")
            }
            let id = try string(map["id"], "id", path: path, doc: doc)
            for (k, _) in map {
                let key = k.string ?? "\(k)"
                guard documentKeys.contains(key) else {
                    throw CSTPackError("\(path):\(k.mark.map { "\($0.line):\($0.column):" } ?? "") rule '\(id)': unsupported key '\(key)' (supported: \(documentKeys.joined(separator: ", ")))")
                }
            }
            let languageName = try string(map["language"], "language", path: path, doc: doc)
            let grammarName = PatternLanguage.grammarName(languageName)
            guard LanguageSpecs.all.contains(where: { $0.name == grammarName }) || archive.languages.contains(where: { $0.name == grammarName }) else {
                throw CSTPackError("\(path):\(map["language"]?.mark.map { "\($0.line):\($0.column):" } ?? "") rule '\(id)': unknown language '\(languageName)'")
            }
            let severity = try map["severity"].map { try string($0, "severity", path: path, doc: doc) }
            if let s = severity, !severities.contains(s) {
                throw CSTPackError("\(path):\(map["severity"]?.mark.map { "\($0.line):\($0.column):" } ?? "") rule '\(id)': severity must be one of \(severities.joined(separator: ", ")) (got '\(s)')")
            }
            let message = try map["message"].map { try string($0, "message", path: path, doc: doc) }
            guard let ruleNode = map["rule"] else { throw CSTPackError("\(path):\(doc.mark.map { "\($0.line):\($0.column):" } ?? "") rule '\(id)': no 'rule'") }
            count += 1
            // A language the archive lacks, or not the one --lang asks for: nothing to run.
            guard let l = archive.languages.firstIndex(where: { $0.name == grammarName }),
                  onlyLanguage.map({ PatternLanguage.grammarName($0) == grammarName }) ?? true, severity != "off" else { continue }
            let context = Context(path: path, id: id, grammar: try StructuralSearch.grammar(for: l, archive: archive), budget: budget, parser: parser)
            let rule = try compileRule(ruleNode, context)
            var constraints: [(String, Rule)] = []
            if let c = map["constraints"] {
                guard let cm = c.mapping else { throw context.error(c, "'constraints' is a mapping from metavariable names to rules") }
                for (name, r) in cm {
                    guard let n = name.string, !n.isEmpty else { throw context.error(name, "a constraint is named by a metavariable (A for $A)") }
                    constraints.append((n, try compileRule(r, context)))
                }
            }
            out[l, default: []].append(SearchRule(id: id, message: message, severity: severity ?? "hint", rule: CompiledRule(rule, constraints: constraints)))
        }
        if count == 0 { throw CSTPackError("\(path): no rules in the file") }
        return out
    }

    static func string(_ node: Node?, _ key: String, path: String, doc: Node) throws -> String {
        guard let node else { throw CSTPackError("\(path):\(doc.mark.map { "\($0.line):\($0.column):" } ?? "") a rule needs '\(key)'") }
        guard let s = node.scalar?.string else {
            throw CSTPackError("\(path):\(node.mark.map { "\($0.line):\($0.column):" } ?? "") '\(key)' must be a string")
        }
        return s
    }

    /// One rule object: all of its keys must hold.
    /// Rules nest at most this deep (matching recurses along the nesting).
    static let maxDepth = 64

    static func compileRule(_ node: Node, _ c: Context, depth: Int = 0) throws -> Rule {
        guard depth < maxDepth else { throw c.error(node, "rules nest more than \(maxDepth) levels deep") }
        c.budget.left -= 1
        guard c.budget.left >= 0 else {
            throw c.error(node, "the file holds more than \(maxRuleObjects) rule objects once its YAML aliases are expanded")
        }
        guard let map = node.mapping else { throw c.error(node, "a rule is a mapping (pattern, kind, regex, inside, has, ...)") }
        var parts: [Rule] = []
        for (k, value) in map {
            let key = k.string ?? "\(k)"
            func text() throws -> String {
                guard let s = value.scalar?.string else { throw c.error(value, "'\(key)' must be a string") }
                return s
            }
            switch key {
            case "pattern":
                parts.append(.pattern(try compilePattern(value, c)))
            case "kind":
                let name = try text()
                let codes = Set(c.grammar.table.kindCodes(named: name))
                guard !codes.isEmpty else { throw c.error(value, "no node kind '\(name)' in \(c.grammar.name)") }
                parts.append(.kind(codes))
            case "regex":
                let r = try text()
                do { parts.append(.regex(try RuleRegex(r))) } catch { throw c.error(value, "invalid regular expression '\(r)': \(error)") }
            case "inside", "has", "follows", "precedes":
                parts.append(try compileRelation(Rule.Relation(rawValue: key)!, value, c, depth: depth + 1))
            case "all", "any":
                guard let seq = value.sequence else { throw c.error(value, "'\(key)' is a list of rules") }
                let rules = try seq.map { try compileRule($0, c, depth: depth + 1) }
                parts.append(key == "all" ? .all(rules) : .any(rules))
            case "not":
                parts.append(.not(try compileRule(value, c, depth: depth + 1)))
            case "stopBy", "field":
                throw c.error(k, "'\(key)' goes in inside, has, follows or precedes")
            default:
                throw c.error(k, "unsupported rule key '\(key)' (supported: \(ruleKeys.joined(separator: ", ")))")
            }
        }
        guard !parts.isEmpty else { throw c.error(node, "an empty rule matches nothing") }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    static func compileRelation(_ relation: Rule.Relation, _ node: Node, _ c: Context, depth: Int) throws -> Rule {
        guard let map = node.mapping else { throw c.error(node, "'\(relation.rawValue)' is a rule (a mapping)") }
        var stopBy = Rule.StopBy.neighbor
        var field: UInt16? = nil
        var rest = Node.Mapping([])
        for (k, value) in map {
            switch k.string {
            case "stopBy":
                switch value.scalar?.string {
                case "neighbor"?: stopBy = .neighbor
                case "end"?: stopBy = .end
                case nil where value.mapping != nil: stopBy = .rule(try compileRule(value, c, depth: depth + 1))
                default: throw c.error(value, "stopBy is neighbor, end or a rule")
                }
            case "field":
                guard let f = value.scalar?.string else { throw c.error(value, "'field' must be a string") }
                guard relation == .inside || relation == .has else { throw c.error(k, "'field' goes with inside or has") }
                guard let id = c.grammar.table.fieldNames.indices.first(where: { $0 > 0 && c.grammar.table.fieldNames[$0] == f }) else {
                    throw c.error(value, "no field '\(f)' in \(c.grammar.name)")
                }
                field = UInt16(id)
            default:
                rest[k] = value
            }
        }
        return .relation(relation, try compileRule(.mapping(rest), c, depth: depth), stopBy: stopBy, field: field)
    }

    /// `pattern: CODE`, or `pattern: {context: CODE, selector: KIND, strictness: LEVEL}`.
    static func compilePattern(_ node: Node, _ c: Context) throws -> CompiledPattern {
        do {
            if let s = node.scalar?.string {
                return try PatternCompiler.compile(s, grammar: c.grammar, strictness: .smart, parser: c.parser)
            }
            guard let map = node.mapping else { throw c.error(node, "'pattern' is a string or a mapping (context, selector, strictness)") }
            var context: String? = nil, selector: String? = nil, strictness = PatternStrictness.smart
            for (k, value) in map {
                guard let v = value.scalar?.string else { throw c.error(value, "'\(k.string ?? "?")' must be a string") }
                switch k.string {
                case "context": context = v
                case "selector": selector = v
                case "strictness":
                    guard let s = PatternStrictness(rawValue: v) else { throw c.error(value, "strictness is cst, smart, ast, relaxed or signature") }
                    strictness = s
                default: throw c.error(k, "unsupported pattern key '\(k.string ?? "?")' (supported: context, selector, strictness)")
                }
            }
            guard let context else { throw c.error(node, "a pattern object needs 'context'") }
            return try PatternCompiler.compile(context, grammar: c.grammar, strictness: strictness, selector: selector, parser: c.parser)
        } catch let e as CSTPackError where !e.description.hasPrefix(c.path) {
            throw c.error(node, "pattern: \(e.description)")
        }
    }
}

extension StructuralSearch {
    /// `--rule FILE.yml`: every rule compiled (and every error thrown) before a file is read.
    package static func rules(file path: String, language: String?, archive: Archive, files: [Int],
                              parser: UntrustedTextParser) throws -> StructuralSearch {
        let bytes: [UInt8]
        do { bytes = try readFile(Array(path.utf8), limit: 16 << 20) } catch { throw CSTPackError("cannot read the rule file \(path): \(error)") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CSTPackError("\(path): the rule file is not UTF-8 text")
        }
        return StructuralSearch(rules: try RuleFileCompiler.compile(text, path: path, onlyLanguage: language, archive: archive, parser: parser))
    }
}
