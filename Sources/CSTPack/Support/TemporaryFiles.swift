import Glibc

/// Temporary files to remove if the process is interrupted (SIGINT, SIGTERM, SIGHUP).
/// The signal handler may only call async-signal-safe functions, so paths are kept as
/// C strings in fixed slots and removed with unlink(2).
enum TemporaryFiles {
    private static let slots = 8
    nonisolated(unsafe) private static var paths = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
    nonisolated(unsafe) private static var installed = false
    private static let lock = Mutex()

    static func register(_ path: String) {
        lock.locked {
            if !installed {
                paths.initialize(repeating: nil, count: slots)
                for sig in [SIGINT, SIGTERM, SIGHUP] {
                    signal(sig) { sig in
                        for i in 0..<TemporaryFiles.slots {
                            if let p = TemporaryFiles.paths[i] { unlink(p) }
                        }
                        signal(sig, SIG_DFL)
                        raise(sig)
                    }
                }
                installed = true
            }
            for i in 0..<slots where paths[i] == nil {
                paths[i] = strdup(path)
                return
            }
        }
    }

    static func unregister(_ path: String) {
        lock.locked {
            guard installed else { return }
            for i in 0..<slots {
                if let p = paths[i], String(cString: p) == path {
                    paths[i] = nil
                    free(p)
                }
            }
        }
    }
}

/// A pthread mutex for the few places that share mutable state between threads.
package final class Mutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    package init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    package func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
