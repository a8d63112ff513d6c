import Glibc

/// Hands out item indices to worker threads and gives results back in index order, with
/// at most `window` items and about `byteLimit` bytes of finished results waiting, so
/// memory does not grow with the number of files or their sizes.
final class OrderedWorkQueue<Result>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private let total: Int
    private let window: Int
    private var nextToTake = 0
    private var nextToDeliver = 0
    private var done: [Int: (result: Result, bytes: Int)] = [:]
    private var cancelled = false
    private let byteLimit: Int
    private var waitingBytes = 0

    init(total: Int, window: Int, byteLimit: Int = 64 << 20) {
        self.total = total
        self.window = max(1, window)
        self.byteLimit = byteLimit
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// The next index to work on, or nil when all are taken (or the queue was cancelled).
    func take() -> Int? { take(run: 1)?.lowerBound }

    /// Up to `count` consecutive indices (fewer near the end or the window's edge), or nil
    /// as `take`. Readers take runs: consecutive files share segments.
    /// `holdingResults`: the caller holds results it has not put yet (which the consumer may
    /// be waiting for), so it must not wait at all: where another caller would wait, it gets
    /// an empty range, puts what it holds and asks again. (Waiting for the window there
    /// deadlocked a build: one worker held the next result while the other filled the window.)
    func take(run count: Int, holdingResults: Bool = false) -> Range<Int>? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        // The item the consumer needs next may always be taken, so the limits cannot deadlock.
        while !cancelled && nextToTake < total && nextToTake != nextToDeliver
                && (nextToTake >= nextToDeliver + window || waitingBytes > byteLimit) {
            if holdingResults { return nextToTake..<nextToTake }
            pthread_cond_wait(&changed, &mutex)
        }
        guard !cancelled, nextToTake < total else { return nil }
        let n = max(1, min(count, total - nextToTake, nextToDeliver + window - nextToTake))
        defer { nextToTake += n }
        return nextToTake..<(nextToTake + n)
    }

    func put(_ index: Int, _ result: Result, bytes: Int = 0) { put([(index, result, bytes)]) }

    /// Several results under one lock and one wake-up (a run's: fewer context switches).
    func put(_ results: [(index: Int, result: Result, bytes: Int)]) {
        pthread_mutex_lock(&mutex)
        for r in results {
            done[r.index] = (r.result, r.bytes)
            waitingBytes += r.bytes
        }
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// Waits for the result of the next index in order; nil when all were delivered or the
    /// queue was cancelled (workers take nothing more then, so it would never come: a
    /// build whose write failed waited here forever).
    func next() -> Result? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !cancelled, nextToDeliver < total else { return nil }
        while done[nextToDeliver] == nil {
            pthread_cond_wait(&changed, &mutex)
            if cancelled { return nil }
        }
        let r = done.removeValue(forKey: nextToDeliver)!
        waitingBytes -= r.bytes
        nextToDeliver += 1
        pthread_cond_broadcast(&changed)
        return r.result
    }

    func cancel() {
        pthread_mutex_lock(&mutex)
        cancelled = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}

/// Starts `count` threads running `body(workerIndex)` and returns a function that joins them
/// (once: later calls return at once).
package func startThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> () -> Void {
    final class Box: @unchecked Sendable {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ b: @escaping @Sendable (Int) -> Void, _ i: Int) { body = b; index = i }
    }
    var threads: [pthread_t] = []
    for i in 0..<count {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 8 << 20)
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body, i)).toOpaque()
        let rc = pthread_create(&t, &attr, { raw in
            let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            b.body(b.index)
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc == 0 { threads.append(t) } else {
            // Could not start a thread: run the work inline instead.
            let b = Unmanaged<Box>.fromOpaque(box).takeRetainedValue()
            b.body(b.index)
        }
    }
    // Joining twice is harmless (a search that stops after its workers ended joins again on
    // the way out; joining a thread twice is undefined, and crashed).
    final class Joined: @unchecked Sendable { var done = false }
    let joined = Joined()
    return {
        guard !joined.done else { return }
        joined.done = true
        for t in threads { pthread_join(t, nil) }
    }
}
