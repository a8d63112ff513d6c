// cstpack-outline: prints the outline of a file stored in a cstpack archive (its classes,
// functions and other definitions, with their lines), using only CSTPack's public API.
//
//     cstpack-outline index.cstpack json/decoder.py
//
// prints one line per definition (line, kind, name), indented by nesting:
//
//     20: class_definition JSONDecodeError
//     31:   function_definition __init__
import CSTPack

#if canImport(Glibc)
import Glibc
#endif

/// Node kinds that define something an outline lists, in the grammars cstpack knows.
let definitionKinds: Set<String> = [
    // Python
    "class_definition", "function_definition",
    // C, C++
    "struct_specifier", "union_specifier", "enum_specifier", "class_specifier", "namespace_definition",
    // Rust
    "function_item", "struct_item", "enum_item", "trait_item", "impl_item", "mod_item", "union_item",
    "function_signature_item",
    // JavaScript, TypeScript
    "class_declaration", "function_declaration", "method_definition", "interface_declaration",
    "generator_function_declaration",
    // Go, Java
    "method_declaration", "type_spec", "constructor_declaration", "enum_declaration",
    // Ruby
    "class", "module", "method", "singleton_method",
]

/// The name a definition gives: its `name` field, else (C declarators) the innermost
/// `declarator`, else for an `impl` block its `type`.
func name(of node: SyntaxNode) -> String? {
    if let n = node.child(field: "name") { return n.text }
    var d = node.child(field: "declarator")
    while let inner = d?.child(field: "declarator") { d = inner }
    if let d { return d.text }
    return node.child(field: "type")?.text
}

/// A C struct or enum mentioned without a body (`struct stat st;`) defines nothing.
func isDefinition(_ node: SyntaxNode) -> Bool {
    guard node.isNamed, node.parent != nil, definitionKinds.contains(node.kind) else { return false }
    if node.kind.hasSuffix("_specifier") { return node.child(field: "body") != nil }
    return true
}

func fail(_ message: String) -> Never {
    var line = "cstpack-outline: error: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2 else { fail("usage: cstpack-outline ARCHIVE FILE") }
let archivePath = arguments[arguments.startIndex], filePath = arguments[arguments.startIndex + 1]

do {
    let archive = try CSTArchive(path: archivePath)
    guard let file = archive.file(path: filePath) else { fail("no file '\(filePath)' in \(archivePath)") }
    let tree = try file.syntaxTree()
    // A preorder walk with a cursor; `open` holds the depths of the definitions
    // enclosing the current node, for the indentation.
    var cursor = tree.walk()
    var open: [Int] = []
    var output = ""
    while true {
        while let last = open.last, last >= cursor.depth { open.removeLast() }
        let node = cursor.node
        if isDefinition(node) {
            // Without stored text (--no-source) a definition is shown by its kind alone.
            let label = name(of: node).map { $0.split(separator: "\n").first.map(String.init) ?? $0 } ?? "?"
            output += "\(node.start.line): " + String(repeating: "  ", count: open.count) + "\(node.kind) \(label)\n"
            open.append(cursor.depth)
        }
        if cursor.gotoFirstChild() { continue }
        while !cursor.gotoNextSibling() {
            guard cursor.gotoParent() else {
                print(output, terminator: "")
                exit(0)
            }
        }
    }
} catch {
    fail("\(error)")
}
