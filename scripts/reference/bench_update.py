"""Driver of scripts/bench-update (see there). Prints figures and exits 1 if an updated
archive differs from a fresh build or a check fails; targets are reported, not enforced
(timings on a shared machine are for people to read)."""
import os, random, shutil, statistics, subprocess, sys, time

BIN, WORK, TREE = os.environ["BIN"], os.environ["WORK"], os.environ["TREE"]
RUNS, ROUNDS, BIG = int(os.environ["RUNS"]), int(os.environ["ROUNDS"]), int(os.environ["BIG"])
rng = random.Random(12)
failures = []


def run(*args, cwd=None, ok=(0,)):
    p = subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit(f"bench-update: {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def timed(*args, cwd=None, ok=(0,)):
    t = time.monotonic()
    p = run(*args, cwd=cwd, ok=ok)
    return time.monotonic() - t, p


def check(cond, what):
    print(f"  check: {what}: {'ok' if cond else 'FAILED'}")
    if not cond:
        failures.append(what)


def copy_tree(dst):
    shutil.copytree(TREE, dst, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "__pycache__", ".*"))
    # Stamps older than the racy window, as files of a tree people work on are.
    old = time.time() - 3600
    for d, _, names in os.walk(dst):
        for n in names:
            p = os.path.join(d, n)
            if not os.path.islink(p):
                os.utime(p, (old, old))


def py_files(top):
    out = []
    for d, _, names in os.walk(top):
        out += [os.path.join(d, n) for n in names if n.endswith(".py")]
    return sorted(out)


def mutate(top, changed, deleted, added, renamed, tag):
    files = py_files(top)
    picks = rng.sample(files, changed + deleted + renamed)
    for k, p in enumerate(picks[:changed]):
        with open(p, "a") as f:
            f.write(f"\n\ndef _bench_{tag}_{k}(x):\n    return x + {k}\n")
    for p in picks[changed:changed + deleted]:
        os.remove(p)
    for k in range(added):
        src = rng.choice([f for f in py_files(top) if os.path.getsize(f) < 20000])
        with open(src) as f:
            text = f.read()
        with open(os.path.join(top, f"bench_added_{tag}_{k}.py"), "w") as f:
            f.write(text + f"\n\ndef _added_{tag}_{k}():\n    pass\n")
    for k, p in enumerate(picks[changed + deleted:]):
        os.rename(p, os.path.join(os.path.dirname(p), f"bench_renamed_{tag}_{k}.py"))


def ls(archive, *extra):
    return run("ls", "-a", archive, *extra).stdout


def equal_to_fresh(updated, fresh, tree, deep=False):
    d = run("diff", fresh, updated, "--exit-code", ok=(0, 1))
    check(d.returncode == 0, "diff FRESH UPDATED --exit-code finds nothing")
    check(ls(updated, "--as-built") == ls(fresh, "--as-built"), "the same files are listed (ls)")
    v = run("verify", "-a", updated, *(["--source", tree] if deep else []), ok=(0, 1))
    check(v.returncode == 0, "verify" + (" --source" if deep else "") + " passes: " + v.stdout.strip().splitlines()[-1])


def ratio(a, b):
    return f"{a / b:.3f}"


tree = os.path.join(WORK, "tree")
copy_tree(tree)
archive = os.path.join(WORK, "live.cstpack")
fresh = os.path.join(WORK, "fresh.cstpack")
print(f"tree: {TREE} (a copy, {len(py_files(tree))} .py files)   runs: {RUNS}   rounds: {ROUNDS}   {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
run("build", tree, "-q", "--no-ignore", "-o", archive)

print("\n== 1. update after 18 changed + 2 deleted + 2 added + 1 renamed, against a full build")
ratios = []
for r in range(ROUNDS):
    mutate(tree, 18, 2, 2, 1, f"r{r}")
    time.sleep(3.1)  # outside the racy window (FileStamp.racyWindowNanos), as edits usually are
    t_update, p = timed("update", "-a", archive)
    builds = sorted(timed("build", tree, "-q", "--no-ignore", "-o", fresh)[0] for _ in range(RUNS))
    t_build = statistics.median(builds)
    ratios.append(t_update / t_build)
    print(f" round {r + 1}: update {t_update:.3f} s, full build {t_build:.3f} s (median of {RUNS}): {ratio(t_update, t_build)}x")
    print("   " + p.stdout.strip())
    equal_to_fresh(archive, fresh, tree, deep=(r == ROUNDS - 1))
print(f" median update/build: {statistics.median(ratios):.3f}x (target <= 0.10, stretch 0.03)")

print("\n== 2. queries after 19 changed files, without update")
run("update", "-a", archive)
base_times, base_count = [], None
for _ in range(RUNS + 2):
    t, p = timed("query", "-a", archive, "--all", "function_definition", "--count")
    base_times.append(t)
    base_count = p.stdout.strip()
mutate(tree, 19, 0, 0, 0, "q")
live_times, live_count = [], None
for _ in range(RUNS + 2):
    t, p = timed("query", "-a", archive, "--all", "function_definition", "--count")
    live_times.append(t)
    live_count = p.stdout.strip()
    note = p.stderr.strip()
built_count = run("query", "-a", archive, "--all", "function_definition", "--count", "--as-built").stdout.strip()
run("build", tree, "-q", "--no-ignore", "-o", fresh)
fresh_count = run("query", "-a", fresh, "--all", "function_definition", "--count", "--as-built").stdout.strip()
tb, tl = statistics.median(base_times), statistics.median(live_times)
print(f" unchanged tree: {tb:.3f} s ({base_count});  19 files changed: {tl:.3f} s ({live_count}): {ratio(tl, tb)}x (target <= 2)")
print(f" {note}")
check(live_count == fresh_count, f"the live count equals a fresh build's ({live_count} = {fresh_count})")
check(built_count == base_count, f"--as-built gives the archive's count ({built_count} = {base_count})")
check(live_count == str(int(base_count) + 19), "19 functions were added")

print("\n== 3. ten successive updates of ~1% of the files each: size against a fresh build")
n = len(py_files(tree))
for r in range(10):
    mutate(tree, max(1, n // 100 - 2), 1, 1, 0, f"s{r}")
    time.sleep(0.2)
    run("update", "-a", archive)
run("build", tree, "-q", "--no-ignore", "-o", fresh)
a, f = os.path.getsize(archive), os.path.getsize(fresh)
print(f" after 10 updates: {a} B; fresh build: {f} B; {100 * (a - f) / f:+.2f}% (target within 3%)")
check(abs(a - f) <= 0.03 * f, "within 3% of a fresh build")
equal_to_fresh(archive, fresh, tree)

print("\n== 4. build --reuse of a tree that differs in 1% of its files")
other = os.path.join(WORK, "other")
copy_tree(other)
run("build", other, "-q", "--no-ignore", "-o", fresh)  # OTHER: the first checkout's archive
checkout = os.path.join(WORK, "checkout")
copy_tree(checkout)
mutate(checkout, max(1, n // 100), 0, 0, 0, "w")
reuse, full = [], []
out = os.path.join(WORK, "reused.cstpack")
out_full = os.path.join(WORK, "full.cstpack")
for _ in range(RUNS):
    reuse.append(timed("build", checkout, "-q", "--no-ignore", "--reuse", fresh, "-o", out)[0])
    full.append(timed("build", checkout, "-q", "--no-ignore", "-o", out_full)[0])
tr, tf = statistics.median(reuse), statistics.median(full)
print(f" build --reuse {tr:.3f} s, full build {tf:.3f} s: {ratio(tr, tf)}x (target <= 0.15)")
equal_to_fresh(out, out_full, checkout)

if BIG > 0:
    print(f"\n== 5. {BIG} small files, nothing changed")
    big = os.path.join(WORK, "big")
    for k in range(BIG):
        d = os.path.join(big, f"d{k // 1000:03d}")
        if k % 1000 == 0:
            os.makedirs(d)
        with open(os.path.join(d, f"m{k}.py"), "w") as fh:
            fh.write(f"x{k} = {k}\n")
    old = time.time() - 3600
    for d, _, names in os.walk(big):
        for nm in names:
            os.utime(os.path.join(d, nm), (old, old))
    bigarchive = os.path.join(WORK, "big.cstpack")
    t_build, _ = timed("build", big, "-q", "-o", bigarchive)
    up = sorted(timed("update", "-a", bigarchive)[0] for _ in range(RUNS))
    probe = f"d{(BIG // 2) // 1000:03d}/m{BIG // 2}.py"
    live = sorted(timed("query", "-a", bigarchive, probe, "0")[0] for _ in range(RUNS))
    built = sorted(timed("query", "-a", bigarchive, probe, "0", "--as-built")[0] for _ in range(RUNS))
    print(f" build {t_build:.2f} s; update (nothing changed) {statistics.median(up):.3f} s (target < 1); "
          f"query FILE 0 with the staleness check {statistics.median(live):.3f} s, --as-built {statistics.median(built):.3f} s "
          f"(check: {statistics.median(live) - statistics.median(built):.3f} s, target < 1)")

print()
if failures:
    print(f"bench-update: {len(failures)} check(s) failed: " + "; ".join(failures))
    sys.exit(1)
print("bench-update: every check passed")
