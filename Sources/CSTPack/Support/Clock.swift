import Glibc

/// Seconds on the monotonic clock (not wall time, which can jump): the one clock of every
/// duration and deadline.
package func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
