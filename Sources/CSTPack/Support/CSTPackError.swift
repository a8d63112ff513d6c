/// A user-facing failure: one line naming the thing that went wrong.
public struct CSTPackError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// `errno` as text, for messages about files.
import Glibc
public func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Writes text to standard error unbuffered (the C `stderr` global is not usable under
/// Swift 6's strict concurrency).
public func writeStderr(_ s: String) {
    var bytes = Array(s.utf8)
    bytes.withUnsafeMutableBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(2, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}

/// Writes raw bytes to standard output (paths need not be UTF-8).
public func writeStdout(_ bytes: [UInt8]) {
    fflush(nil)
    bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(1, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}
