/// A failure to read an archive or to answer a request: one line naming the thing that
/// went wrong (the archive, the file, the segment or the query).
public struct CSTPackError: Error, CustomStringConvertible, Sendable {
    /// The message, one line.
    public let description: String
    /// An error with the message `message`.
    public init(_ message: String) { description = message }
}

/// `errno` as text, for messages about files.
import Glibc
package func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Writes text to standard error unbuffered (the C `stderr` global is not usable under
/// Swift 6's strict concurrency).
package func writeStderr(_ s: String) {
    _ = Array(s.utf8).withUnsafeBytes { writeAll(2, $0) }
}

/// Writes raw bytes to standard output (paths need not be UTF-8), after anything `print`
/// has buffered. A closed pipe ends the output quietly, as for other command-line tools.
package func writeStdout(_ bytes: [UInt8]) {
    fflush(nil)
    _ = bytes.withUnsafeBytes { writeAll(1, $0) }
}
