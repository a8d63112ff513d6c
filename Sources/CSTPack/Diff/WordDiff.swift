/// The words that differ between the two texts of an update, as `git diff --word-diff`
/// shows them: words are runs of letters, digits, `_` and non-ASCII bytes, runs of white
/// space, and single other characters; they are aligned as lines are in a line diff.
package enum WordDiff {
    package enum Kind: Sendable, Equatable { case same, deleted, inserted }

    package struct Segment: Sendable, Equatable {
        package var kind: Kind
        package var text: String
        package init(kind: Kind, text: String) {
            self.kind = kind
            self.text = text
        }
    }

    /// The two texts as one sequence of unchanged, deleted and inserted pieces, deletions
    /// before insertions at each place.
    package static func segments(_ old: String, _ new: String) -> [Segment] {
        let a = words(Array(old.utf8)), b = words(Array(new.utf8))
        var work = 0
        let same = Align.common(a.map(\.hash), b.map(\.hash), work: &work)
        var out: [Segment] = []
        func add(_ kind: Kind, _ w: ArraySlice<Word>) {
            guard !w.isEmpty else { return }
            let text = w.map(\.text).joined()
            if let last = out.last, last.kind == kind { out[out.count - 1].text += text } else { out.append(Segment(kind: kind, text: text)) }
        }
        var i = 0, j = 0
        for (x, y) in same + [(a.count, b.count)] {
            add(.deleted, a[i..<x])
            add(.inserted, b[j..<y])
            if x < a.count { add(.same, a[x...x]) }
            i = x + 1; j = y + 1
        }
        return out
    }

    struct Word {
        var text: String
        var hash: UInt64
    }

    static func words(_ bytes: [UInt8]) -> [Word] {
        func isWordByte(_ c: UInt8) -> Bool {
            c >= 0x80 || c == UInt8(ascii: "_") || (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A)
        }
        var out: [Word] = []
        var s = 0
        while s < bytes.count {
            var e = s + 1
            if isWordByte(bytes[s]) {
                while e < bytes.count && isWordByte(bytes[e]) { e += 1 }
            } else if isSpace(bytes[s]) {
                while e < bytes.count && isSpace(bytes[e]) && (bytes[e] == 0x0A) == (bytes[s] == 0x0A) { e += 1 }
            }
            let slice = bytes[s..<e]
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for c in slice { h = (h ^ UInt64(c)) &* 0x100_0000_01B3 }
            out.append(Word(text: String(decoding: slice, as: UTF8.self), hash: mix(h)))
            s = e
        }
        return out
    }
}
