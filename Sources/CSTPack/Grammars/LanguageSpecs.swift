/// Which grammar handles which files: extensions and well-known file names.
/// `symbol` is the suffix of the grammar's exported `tree_sitter_<symbol>` function.
package struct LanguageSpec: Sendable {
    package let name: String
    package let extensions: [String]
    package let fileNames: [String]
}

package enum LanguageSpecs {
    package static let all: [LanguageSpec] = [
        .init(name: "bash", extensions: ["sh", "bash", "zsh"], fileNames: [".bashrc", ".bash_profile", ".profile"]),
        .init(name: "c", extensions: ["c", "h"], fileNames: []),
        .init(name: "c_sharp", extensions: ["cs"], fileNames: []),
        .init(name: "commonlisp", extensions: ["lisp", "cl", "asd"], fileNames: []),
        .init(name: "cpp", extensions: ["cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "h++", "ipp", "tcc"], fileNames: []),
        .init(name: "css", extensions: ["css"], fileNames: []),
        .init(name: "dockerfile", extensions: ["dockerfile"], fileNames: ["Dockerfile", "Containerfile"]),
        .init(name: "dot", extensions: ["dot", "gv"], fileNames: []),
        .init(name: "elisp", extensions: ["el"], fileNames: []),
        .init(name: "elixir", extensions: ["ex", "exs"], fileNames: []),
        .init(name: "elm", extensions: ["elm"], fileNames: []),
        .init(name: "embedded_template", extensions: ["erb", "ejs"], fileNames: []),
        .init(name: "erlang", extensions: ["erl", "hrl"], fileNames: ["rebar.config"]),
        .init(name: "fixed_form_fortran", extensions: ["f", "for", "f77"], fileNames: []),
        .init(name: "fortran", extensions: ["f90", "f95", "f03", "f08"], fileNames: []),
        .init(name: "go", extensions: ["go"], fileNames: []),
        .init(name: "gomod", extensions: [], fileNames: ["go.mod"]),
        .init(name: "hack", extensions: ["hack", "hhi"], fileNames: []),
        .init(name: "haskell", extensions: ["hs"], fileNames: []),
        .init(name: "hcl", extensions: ["hcl", "tf", "tfvars"], fileNames: []),
        .init(name: "html", extensions: ["html", "htm", "xhtml"], fileNames: []),
        .init(name: "java", extensions: ["java"], fileNames: []),
        .init(name: "javascript", extensions: ["js", "mjs", "cjs", "jsx"], fileNames: []),
        .init(name: "json", extensions: ["json"], fileNames: [".babelrc", ".eslintrc"]),
        .init(name: "julia", extensions: ["jl"], fileNames: []),
        .init(name: "kotlin", extensions: ["kt", "kts"], fileNames: []),
        .init(name: "lua", extensions: ["lua"], fileNames: []),
        .init(name: "make", extensions: ["mk", "mak"], fileNames: ["Makefile", "makefile", "GNUmakefile"]),
        .init(name: "markdown", extensions: ["md", "markdown"], fileNames: []),
        .init(name: "objc", extensions: ["m"], fileNames: []),
        .init(name: "ocaml", extensions: ["ml"], fileNames: []),
        .init(name: "perl", extensions: ["pl", "pm"], fileNames: []),
        .init(name: "php", extensions: ["php"], fileNames: []),
        .init(name: "python", extensions: ["py", "pyi", "pyw"], fileNames: ["SConstruct", "SConscript"]),
        .init(name: "ql", extensions: ["ql", "qll"], fileNames: []),
        .init(name: "r", extensions: ["r"], fileNames: []),
        .init(name: "rst", extensions: ["rst"], fileNames: []),
        .init(name: "ruby", extensions: ["rb", "rake", "gemspec"], fileNames: ["Rakefile", "Gemfile"]),
        .init(name: "rust", extensions: ["rs"], fileNames: []),
        .init(name: "scala", extensions: ["scala", "sc"], fileNames: []),
        .init(name: "sql", extensions: ["sql"], fileNames: []),
        .init(name: "toml", extensions: ["toml"], fileNames: ["Cargo.lock", "Pipfile"]),
        .init(name: "tsx", extensions: ["tsx"], fileNames: []),
        .init(name: "typescript", extensions: ["ts", "mts", "cts"], fileNames: []),
        .init(name: "yaml", extensions: ["yml", "yaml"], fileNames: []),
    ]
}

/// Maps a file name to a language name: overrides first, then file names, then the
/// extension (case-insensitive).
package struct LanguageMap: Sendable {
    var byExtension: [String: String] = [:]
    var byFileName: [String: String] = [:]

    package init(overrides: [String: String] = [:]) {
        for spec in LanguageSpecs.all {
            for e in spec.extensions { byExtension[e] = spec.name }
            for f in spec.fileNames { byFileName[f] = spec.name }
        }
        for (ext, lang) in overrides { byExtension[ext.lowercased()] = lang }
    }

    /// `name` is the last path component as bytes (it may not be UTF-8).
    package func language(forFileName name: [UInt8]) -> String? {
        let s = String(decoding: name, as: UTF8.self)
        if let l = byFileName[s] { return l }
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot > name.startIndex else { return nil }
        let ext = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
        return byExtension[ext]
    }

    /// Parses `EXT=NAME` override arguments.
    package static func parseOverrides(_ args: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for a in args {
            let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw CSTPackError("--lang expects EXT=NAME (e.g. --lang inc=cpp), got '\(a)'")
            }
            out[parts[0].hasPrefix(".") ? String(parts[0].dropFirst()) : parts[0]] = parts[1]
        }
        return out
    }
}
