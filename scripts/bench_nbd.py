#!/usr/bin/env python3
"""End-to-end NBD benchmark: our server against qemu-nbd and nbdkit (file plugin), and fio straight
on a file (the physical limit), in the same run, on files of the same disk as our WAL, driven by fio
(nbd engine) and nbdcopy. A warm-up first, then interleaved rounds (every target runs each workload
once per round, in a rotated order, each run starting on a machine at rest: see settle());
medians, min-max and ratios to qemu-nbd and nbdkit, with the goals of the performance issue checked. Method and table format: docs/PERFORMANCE.md.

Usage: scripts/bench_nbd.py --report bench/results/<stamp>-nbd.json   (the tables of an earlier run)
       scripts/bench_nbd.py [--quick] [--reps N] [--runtime S] [--rows KEY,...] [--targets NAME,...]
                            [--no-s3] [--jfr DIR] [--work DIR]
Needs: fio, nbdcopy (libnbd-bin), qemu-nbd (qemu-utils), nbdkit; the project built (make build).
Results: bench/results/<stamp>-nbd.json (everything) and <stamp>-nbd.md (the tables, also printed).
"""
import argparse, datetime, json, os, platform, re, shutil, signal, socket, statistics, subprocess, sys, time
import threading, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOLUME_SIZE = 16 << 30  # every target's disk: the mixed row runs over all of it (the memory goal's 16 GiB)
OURS, QEMU, NBDKIT, FILE, OURS_S3 = "viperblock", "qemu-nbd", "nbdkit-file", "file", "viperblock-s3"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, logfile, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"bench_nbd: a server exited early with {proc.returncode}; see {logfile}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench_nbd: nothing listens on port {port} after {timeout} s; see {logfile}")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def stop(proc, timeout=600):
    """SIGTERM (our server drains its WAL to the store on it), SIGKILL only if that hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Before every measured run the machine is brought to rest, the same way for every target: a run
# leaves work behind that would otherwise land on whichever target runs next (the peers' dirty
# pages, written back by the kernel; our WAL, consolidated into the store). So our servers are
# waited for until at most one WAL segment is left unconsolidated, then everything is synced.
SETTLE_PENDING_BYTES, SETTLE_TIMEOUT = 64 << 20, 120


def settle(targets):
    """Waits for our servers' leftover consolidation and the work they do once idle (rewriting scattered
    ranges, filling spare WAL files: it starts after 1 s without requests), so that none of it runs
    during the next measurement, on any target; then syncs every file system; the seconds it took."""
    t = time.monotonic()
    for s in targets:
        if isinstance(s, Server) and s.metrics_port:
            while time.monotonic() - t < SETTLE_TIMEOUT:
                pending, idle_work = s.sample("viperblock_wal_pending_bytes", "viperblock_idle_work_pending")  # one scrape
                if pending <= SETTLE_PENDING_BYTES and idle_work == 0:
                    break
                time.sleep(0.2)
    os.sync()
    return time.monotonic() - t


def drop_caches():
    """Empties the OS page cache (root only); False where that is not allowed."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- targets

class Target:
    """Something fio and nbdcopy can drive: an NBD server (uri) or a plain file (path)."""
    name = ""
    restart_for_cold = False

    def fio_args(self, depth):
        return ["--ioengine=nbd", f"--uri={self.uri}"]

    def copy_endpoint(self):
        return self.uri

    def pids(self):
        return []

    def cold(self):
        pass

    def discard_from(self, start):
        """Discards the disk from start to its end, so that nbdcopy out copies only what is below
        start (the mixed row writes over the whole disk); the bytes of data left, from the disk's map."""
        # nbdsh is a script for the system's python3, which has the libnbd module
        env = dict(os.environ, PATH="/usr/bin:/bin:" + os.environ.get("PATH", ""))
        run(["nbdsh", "-u", self.uri, "-c", f"for o in range({start}, h.get_size(), {1 << 30}):\n"
             f"    h.trim(min({1 << 30}, h.get_size() - o), o)"], env=env)
        out = subprocess.run(["nbdinfo", "--map", "--json", self.uri], check=True, capture_output=True, text=True, env=env).stdout
        return sum(e["length"] for e in json.loads(out) if not e["type"] & 1)  # bit 0: a hole

    def close(self):
        pass


class Server(Target):
    def __init__(self, name, cmd, port, env=None, metrics_port=None):
        self.name, self.cmd, self.port, self.env, self.metrics_port = name, cmd, port, env, metrics_port
        self.uri = f"nbd://127.0.0.1:{port}/bench"
        self.starts = 0
        self.start()

    def start(self):
        self.starts += 1
        self.logfile = os.path.join(WORK, f"{self.name}.log")
        self.log = open(self.logfile, "a")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        wait_port(self.port, self.proc, self.logfile)

    def pids(self):
        return [self.proc.pid]

    def cold(self):
        # Our servers: SIGTERM drains every write into the store, and the restarted server has an
        # empty block cache; the page cache is dropped for every target after this.
        if self.restart_for_cold:
            t = time.monotonic()
            self.close()
            self.drain_s = time.monotonic() - t
            self.start()

    def close(self):
        stop(self.proc)
        self.log.close()

    def jfr(self, action, name, path=None):
        """Starts or stops a JFR recording (settings=profile) in our running server, through jcmd."""
        jcmd = os.path.join(JAVA_HOME, "bin", "jcmd")
        args = [f"name={name}", "settings=profile", f"filename={path}"] if action == "start" else [f"name={name}"]
        run([jcmd, str(self.proc.pid), f"JFR.{action}", *args], stdout=subprocess.DEVNULL, timeout=120)

    def metrics(self):
        """Every sample of /metrics, by its name with labels ('jvm_memory_used_bytes{area="heap"}')."""
        if not self.metrics_port:
            return {}
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {m.group(1): float(m.group(2)) for m in re.finditer(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.M)}

    def sample(self, *names):
        """The sum of the samples whose name (with labels) starts with each of names."""
        got = self.metrics()
        return [sum(v for k, v in got.items() if k.startswith(n)) for n in names]


class PlainFile(Target):
    """fio straight on a file of the same disk: io_uring at the row's depth, psync at depth 1."""
    name = FILE

    def __init__(self, path):
        self.path = path

    def fio_args(self, depth):
        return ["--ioengine=" + ("psync" if depth == 1 else "io_uring"), f"--filename={self.path}"]

    def copy_endpoint(self):
        return self.path

    def discard_from(self, start):
        run(["fallocate", "--punch-hole", "--offset", str(start), "--length", str(VOLUME_SIZE - start), self.path])
        return os.stat(self.path).st_blocks * 512


class S3Proxy:
    """s3proxy in a JVM of its own (viperblock-bench's S3ProxyMain), for our server on S3."""

    def __init__(self):
        self.envfile = os.path.join(WORK, "s3proxy.env")
        jar = os.path.join(ROOT, "viperblock-bench", "target", "benchmarks.jar")
        java = os.path.join(JAVA_HOME, "bin", "java")
        self.log = open(os.path.join(WORK, "s3proxy.log"), "w")
        self.proc = subprocess.Popen([java, "-Xmx6g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", jar,
                                      "io.viperblock.bench.S3ProxyMain", self.envfile],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            raise SystemExit(f"bench_nbd: s3proxy did not start; see {self.log.name}")
        self.bucket = line[1]
        self.env = dict(l.split("=", 1) for l in open(self.envfile).read().splitlines() if l)

    def close(self):
        self.proc.stdin.close()  # S3ProxyMain stops when its input ends
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_ours(name, store, extra_env=None):
    vblock = os.path.join(ROOT, "bin", "vblock")
    env = dict(os.environ, VB_DATA=os.path.join(WORK, name + "-node"), VB_STORE=store, **(extra_env or {}))
    run([vblock, "create", "bench", "--size", str(VOLUME_SIZE)], env=env, stdout=subprocess.DEVNULL)
    p, m = free_port(), free_port()
    s = Server(name, [vblock, "serve", "bench", "--listen", f"127.0.0.1:{p}", "--metrics", f"127.0.0.1:{m}"], p, env, m)
    s.restart_for_cold = True
    return s


def sparse(path):
    with open(path, "wb") as f:
        f.truncate(VOLUME_SIZE)
    return path


def start_targets(names):
    out = []
    if OURS in names:
        out.append(start_ours(OURS, "file:" + os.path.join(WORK, "vb-store")))
    if QEMU in names:
        p = free_port()
        out.append(Server(QEMU, ["qemu-nbd", "-f", "raw", "--cache=writeback", "--aio=threads", "--discard=unmap", "-e", "8", "-t",
                                 "-b", "127.0.0.1", "-p", str(p), "-x", "bench", sparse(os.path.join(WORK, "qemu.raw"))], p))
    if NBDKIT in names:
        p = free_port()
        out.append(Server(NBDKIT, ["nbdkit", "-f", "-i", "127.0.0.1", "-p", str(p), "-e", "bench", "file",
                                   f"file={sparse(os.path.join(WORK, 'nbdkit.raw'))}"], p))
    if FILE in names:
        out.append(PlainFile(sparse(os.path.join(WORK, "plain.raw"))))
    return out


# ---------------------------------------------------------------- workloads

def fio(target, name, rw, bs, depth, runtime, size, seed, jobs=1, extra=()):
    out = os.path.join(WORK, "fio.json")
    cmd = ["fio", f"--name={name}", *target.fio_args(depth), f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}",
           f"--size={size}", "--time_based", f"--runtime={runtime}", f"--ramp_time={RAMP}", f"--randseed={seed}",
           "--norandommap", f"--numjobs={jobs}", "--group_reporting", "--output-format=json", f"--output={out}", *extra]
    run(cmd, stdout=subprocess.DEVNULL, timeout=runtime * 4 + 300)
    with open(out) as f:
        job = json.load(f)["jobs"][0]
    r = {"iops": 0.0, "mbps": 0.0}
    for side in ("read", "write"):
        d = job[side]
        if d["io_bytes"] > 0:
            r["iops"] += d["iops"]
            r["mbps"] += d["bw_bytes"] / 1e6
            pct = d.get("clat_ns", {}).get("percentile", {})
            r[f"{side}_p50_us"] = pct.get("50.000000", 0) / 1000
            r[f"{side}_p99_us"] = pct.get("99.000000", 0) / 1000
    sync = job.get("sync", {}).get("lat_ns", {}).get("percentile")
    if sync:  # fio's own timing of each flush (NBD_CMD_FLUSH, or fdatasync on the plain file)
        r["flush_p50_us"] = sync["50.000000"] / 1000
        r["flush_p99_us"] = sync["99.000000"] / 1000
    if job.get("error"):
        raise SystemExit(f"bench_nbd: fio {name} on {target.name} failed with error {job['error']}")
    return r


# A region of its own, far from the working set, that the cold row reads right after our server's
# restart (on every target alike, not recorded): the restarted JVM compiles its read path there, so
# the cold row measures an empty block cache and page cache, not a JVM that has not compiled yet.
JIT_REGION_OFFSET, JIT_REGION_SIZE, JIT_SECONDS = "8g", "64m", 3


def jit_region(target, rw, seed):
    fio(target, "jit-" + rw, rw, "4k" if rw == "randread" else "1m", 32 if rw == "randread" else 8, JIT_SECONDS,
        JIT_REGION_SIZE, seed, extra=[f"--offset={JIT_REGION_OFFSET}"])


def warm(target, warmup, seed, seconds):
    """Warm-up, not recorded: the write path on the JIT region, then the 4k rows and the 64k mixed
    load on the JIT region (not on S3: cold row only)."""
    jit_region(target, "write", 999 + seed)
    if target.name != OURS_S3:
        for wk in ("rw4k", "rr4k"):
            next(r for r in warmup if r[0] == wk)[3](target, seed)
        # 64k requests from 4 connections take paths the 4k rows do not (writes served one by one,
        # 64 KiB reads); a JVM that had not compiled them ran the mixed row at 13-14k IOPS and
        # reached 20-25k only after 20 s of it
        fio(target, "jit-mix", "randrw", "64k", 16, seconds, JIT_REGION_SIZE, seed, jobs=4,
            extra=["--rwmixread=70", f"--offset={JIT_REGION_OFFSET}"])


def nbdcopy(src, dst, size):
    t = time.monotonic()
    run(["nbdcopy", src, dst], timeout=1800)
    return {"mbps": size / (time.monotonic() - t) / 1e6}


class MemorySampler:
    """Samples RSS (/proc/PID/status VmRSS) of every server, and our heap from /metrics, twice a second."""

    def __init__(self, targets):
        self.targets, self.samples, self.done = targets, {}, threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.done.wait(0.5):
            for t in self.targets:
                s = {}
                for pid in t.pids():
                    try:
                        with open(f"/proc/{pid}/status") as f:
                            s["rss"] = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
                    except (OSError, StopIteration):
                        pass
                if isinstance(t, Server) and t.metrics_port:
                    try:
                        s["heap"], s["heap_max"] = t.sample('jvm_memory_used_bytes{area="heap"', 'jvm_memory_max_bytes{area="heap"')
                    except OSError:
                        pass
                if s:
                    self.samples.setdefault(t.name, []).append(s)

    def stop(self):
        self.done.set()
        self.thread.join()
        out = {}
        for name, ss in self.samples.items():
            late = ss[len(ss) // 2:]  # steady state: the second half of the run
            out[name] = {k: {"max": max(x[k] for x in ss if k in x), "steady": statistics.median(x[k] for x in late if k in x)}
                         for k in ("rss", "heap", "heap_max") if any(k in x for x in late)}
        return out


def rows(size, runtime):
    """key, label, unit and function of each workload; the order is the order within a round."""
    def f(name, rw, bs, depth, region=None, jobs=1, extra=()):
        return lambda t, seed: fio(t, name, rw, bs, depth, runtime, region or size, seed, jobs, extra)
    return [
        ("rw4k", "4k randwrite QD32", "IOPS", f("rw4k", "randwrite", "4k", 32)),
        ("rr4k", "4k randread QD32 hot", "IOPS", f("rr4k", "randread", "4k", 32)),
        ("fl4k", "4k randwrite QD1 + flush each", "IOPS", f("fl4k", "randwrite", "4k", 1, extra=["--fsync=1"])),
        ("w1m", "1M write QD8", "MB/s", f("w1m", "write", "1m", 8)),
        ("r1m", "1M read QD8", "MB/s", f("r1m", "read", "1m", 8)),
        ("mix64k", "64k randrw 70/30 QD16 x4 conn", "IOPS",
         f("mix64k", "randrw", "64k", 16, region=VOLUME_SIZE, jobs=4, extra=["--rwmixread=70"])),
        ("copyin", f"nbdcopy in {size >> 20} MiB", "MB/s", lambda t, seed: nbdcopy(SRC, t.copy_endpoint(), size)),
        ("copyout", f"nbdcopy out {size >> 20} MiB", "MB/s", lambda t, seed: nbdcopy(t.copy_endpoint(), "null:", size)),
        ("rr4kcold", "4k randread QD32 cold", "IOPS", f("rr4kcold", "randread", "4k", 32)),
    ]


# ---------------------------------------------------------------- the run

def machine_description():
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) >> 20 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    source = sh("findmnt", "-no", "SOURCE,FSTYPE", "-T", WORK)
    dev = os.path.basename(source.split()[0]) if source else ""
    rot = sh("cat", f"/sys/block/{re.sub(r'p?[0-9]+$', '', dev) if not os.path.exists(f'/sys/block/{dev}') else dev}/queue/rotational")
    java = os.path.join(JAVA_HOME, "bin", "java")
    return {"cores": os.cpu_count(), "cpu": cpu, "ram_gib": mem, "kernel": platform.release(),
            "jdk": subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()[1],
            "disk": f"{source} ({'rotational' if rot == '1' else 'non-rotational' if rot == '0' else '?'} per the kernel)",
            "java_home": JAVA_HOME, "work_dir": WORK, "load_start": open("/proc/loadavg").read().split()[:3],
            "fio": sh("fio", "--version"), "qemu_nbd": sh("qemu-nbd", "--version").splitlines()[0],
            "nbdkit": sh("nbdkit", "--version"), "nbdcopy": sh("nbdcopy", "--version").splitlines()[0]}


# Free space a full run (all rows, 3 rounds) needs in its work directory; see main().
FULL_RUN_BYTES = 55 * 10**9


def main():
    global WORK, SRC, RAMP, ARGS, JAVA_HOME
    ap = argparse.ArgumentParser(description="our NBD server against qemu-nbd, nbdkit and a plain file (docs/PERFORMANCE.md)")
    ap.add_argument("--quick", action="store_true", help="256 MiB working set, 2 s per fio row (default: 1 GiB, 10 s)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--runtime", type=int, default=None, help="seconds per fio row, after a 1 s ramp")
    ap.add_argument("--rows", default=None, help="comma-separated row keys (rw4k,rr4k,fl4k,w1m,r1m,mix64k,copyin,copyout,rr4kcold)")
    ap.add_argument("--targets", default=f"{OURS},{QEMU},{NBDKIT},{FILE}", help="comma-separated, from the default")
    ap.add_argument("--no-s3", action="store_true", help=f"skip {OURS_S3} (our server on s3proxy), measured in the cold row only")
    ap.add_argument("--jfr", default=None, metavar="DIR",
                    help="record our server with JFR (settings=profile) during each row, into DIR/<row>-<round>.jfr")
    ap.add_argument("--work", default=None, help="scratch directory on the disk to measure (default bench/work)")
    ap.add_argument("--report", default=None, metavar="JSON", help="print the tables of an earlier run again, from its JSON")
    ARGS = a = ap.parse_args()
    if a.report:
        return report_again(a.report)
    if a.reps < 1:
        raise SystemExit("bench_nbd: --reps must be at least 1")
    runtime = a.runtime or (2 if a.quick else 10)
    RAMP = 1
    size = (256 << 20) if a.quick else (1 << 30)
    for tool in ("fio", "nbdcopy", "qemu-nbd", "nbdkit"):
        if not shutil.which(tool):
            raise SystemExit(f"bench_nbd: {tool} is not installed (apt-get install fio libnbd-bin qemu-utils nbdkit)")
    JAVA_HOME = os.environ.get("JAVA_HOME") or subprocess.run([os.path.join(ROOT, "scripts", "find-jdk")],
                                                              capture_output=True, text=True).stdout.strip()
    if not os.path.exists(os.path.join(ROOT, "viperblock-bench", "target", "benchmarks.jar")):
        raise SystemExit("bench_nbd: the project is not built; run 'make build' (or 'make bench', which builds first)")
    names = [n for n in a.targets.split(",") if n]
    unknown = set(names) - {OURS, QEMU, NBDKIT, FILE}
    if unknown:
        raise SystemExit(f"bench_nbd: unknown target {', '.join(sorted(unknown))}; use {OURS},{QEMU},{NBDKIT},{FILE}")
    all_rows = rows(size, runtime)
    keys = a.rows.split(",") if a.rows else [r[0] for r in all_rows]
    bad = set(keys) - {r[0] for r in all_rows}
    if bad:
        raise SystemExit(f"bench_nbd: unknown row {', '.join(sorted(bad))}; use {','.join(r[0] for r in all_rows)}")
    selected = [r for r in all_rows if r[0] in keys]

    if a.jfr:
        a.jfr = os.path.abspath(a.jfr)
        os.makedirs(a.jfr, exist_ok=True)
    WORK = os.path.abspath(a.work or os.path.join(ROOT, "bench", "work"))
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    # A full run peaked at 48.5 GB in WORK (docs/PERFORMANCE.md): the peers' raw files fill up
    # under the 64k mixed row, our store holds its live chunks and those not yet collected.
    need = FULL_RUN_BYTES if not a.quick and len(selected) == len(all_rows) and a.reps >= 3 else 0
    free = shutil.disk_usage(WORK).free
    if free < need:
        raise SystemExit(f"bench_nbd: {WORK} has {free / 1e9:.0f} GB free, a full run needs about {need / 1e9:.0f} GB; "
                         "free space there, or point --work at a larger disk (the one to measure)")
    machine = machine_description()
    can_drop = drop_caches()
    if not can_drop:
        log("bench_nbd: WARNING: cannot drop the page cache (not root): the cold row reads from memory for the peers")
    SRC = os.path.join(WORK, "random.bin")
    with open(SRC, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n

    started = time.monotonic()
    targets, proxy, memory = [], None, {}
    results = {}
    try:
        targets = start_targets(names)
        if s3_wanted(a, keys):
            proxy = S3Proxy()
            targets.append(start_ours(OURS_S3, f"s3://{proxy.bucket}/vb", proxy.env))
        log(f"bench_nbd: {', '.join(t.name for t in targets)} up; prefill {size >> 20} MiB and warm-up")
        warm_s = 3 if a.quick else 5
        warmup = rows(size, warm_s)
        for t in targets:  # prefill, so that reads read data, then warm-up (JIT, caches), not recorded
            nbdcopy(SRC, t.copy_endpoint(), size)
            warm(t, warmup, 1, warm_s)
        for rep in range(a.reps):
            for key, label, unit, fn in selected:
                shift = rep % len(targets)
                order = targets[shift:] + targets[:shift]
                if key != "rr4kcold":  # our server on S3 is measured in the cold row only
                    order = [t for t in order if t.name != OURS_S3]
                for t in order:
                    if key == "rr4kcold":
                        t.cold()
                        jit_region(t, "randread", 1000 + rep)
                        if can_drop:
                            drop_caches()
                    left = t.discard_from(size) if key == "copyout" else None
                    if left is not None and left > size + (64 << 20):
                        raise SystemExit(f"bench_nbd: {t.name} still holds {left >> 20} MiB of data after the discard "
                                         f"beyond {size >> 20} MiB; nbdcopy out would copy more than it reports")
                    settled = settle(targets)
                    sampler = MemorySampler([t]) if key == "mix64k" and isinstance(t, Server) else None
                    recording = a.jfr and t.name == OURS
                    if recording:
                        t.jfr("start", key, os.path.join(a.jfr, f"{key}-{rep + 1}.jfr"))
                    try:
                        r = fn(t, 1000 + rep)
                    finally:
                        if sampler:
                            memory.setdefault(t.name, []).append(sampler.stop().get(t.name, {}))
                        if recording:
                            t.jfr("stop", key)
                    if key == "rr4kcold" and t.restart_for_cold:
                        # what the restarted server fetched for the row: store GETs, their bytes, cache misses
                        r["restart_drain_s"] = t.drain_s
                        r["store_gets"], r["store_get_mb"], r["cache_misses"], r["cache_hits"] = t.sample(
                            'viperblock_store_requests_total{op="get"', 'viperblock_store_bytes_total{op="get"',
                            "viperblock_cache_misses_total", "viperblock_cache_hits_total")
                        r["store_get_mb"] /= 1e6
                        # the restarted JVM has compiled only its read path: warm it up as at the start,
                        # or the next round's first rows measure the JIT compiler (it took 16% of the
                        # CPU in the first 10 s of 4k randwrite after a restart, which ran 20-40% slower)
                        if t.name != OURS_S3 and rep + 1 < a.reps:
                            warm(t, warmup, 2 + rep, warm_s)
                    r["settle_s"] = settled
                    if left is not None:
                        r["data_mb"] = left / 1e6  # what nbdcopy out copied; the rest of the disk was holes
                    results.setdefault(key, {}).setdefault(t.name, []).append(r)
                    log(f"  round {rep + 1}/{a.reps} {label:32s} {t.name:14s} "
                        + " ".join(f"{k}={v:.1f}" for k, v in r.items()))
    finally:
        for t in targets:
            t.close()
        if proxy:
            proxy.close()

    machine["load_end"] = open("/proc/loadavg").read().split()[:3]
    settings = {"quick": a.quick, "reps": a.reps, "runtime_s": runtime, "ramp_s": RAMP, "working_set_bytes": size,
                "volume_bytes": VOLUME_SIZE, "page_cache_dropped_for_cold": can_drop,
                "total_s": round(time.monotonic() - started), "targets": [t.name for t in targets]}
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    report = summarize(stamp, machine, settings, selected, results, memory)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    base = os.path.join(ROOT, "bench", "results", f"{stamp}-nbd")
    with open(base + ".json", "w") as f:
        json.dump({"machine": machine, "settings": settings, "results": results, "memory": memory,
                   "summary": report["summary"], "goals": report["goals"]}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(report["markdown"])
    print(report["markdown"])
    print(f"raw results: {os.path.relpath(base, ROOT)}.json, table: {os.path.relpath(base, ROOT)}.md")
    shutil.rmtree(WORK, ignore_errors=True)


def report_again(path):
    global JAVA_HOME
    with open(path) as f:
        d = json.load(f)
    st = d["settings"]
    JAVA_HOME = d["machine"].get("java_home", "?")
    selected = [r for r in rows(st["working_set_bytes"], st["runtime_s"]) if r[0] in d["results"]]
    stamp = os.path.basename(path).removesuffix("-nbd.json")
    print(summarize(stamp, d["machine"], st, selected, d["results"], d["memory"])["markdown"])


def s3_wanted(a, keys):
    return not a.no_s3 and OURS in a.targets.split(",") and "rr4kcold" in keys


# ---------------------------------------------------------------- the report

def summarize(stamp, machine, settings, selected, results, memory):
    """Medians, min-max, ratios and goals; returns the Markdown and the numbers behind it."""
    names = [n for n in (OURS, QEMU, NBDKIT, FILE, OURS_S3) if any(n in per for per in results.values())]
    lines, summary, goals = [], {}, []
    lines.append(f"## NBD servers side by side ({stamp}{', quick' if settings['quick'] else ''})\n")
    lines.append(f"- machine: {machine['cores']} cores ({machine['cpu']}), {machine['ram_gib']} GiB RAM, Linux {machine['kernel']}; "
                 f"load average {' '.join(machine['load_start'])} at the start, {' '.join(machine['load_end'])} at the end")
    lines.append(f"- JDK: {machine['jdk']} ({machine.get('java_home', JAVA_HOME)})")
    lines.append(f"- disk: {machine['disk']}, every file and our WAL in {machine['work_dir']}")
    lines.append(f"- tools: {machine['fio']}, {machine['qemu_nbd']}, {machine['nbdkit']}, {machine['nbdcopy']}")
    lines.append(f"- method: {settings['reps']} interleaved round{'s' if settings['reps'] != 1 else ''}, {settings['runtime_s']} s per fio row after a {settings['ramp_s']} s ramp, "
                 f"{settings['working_set_bytes'] >> 20} MiB working set (prefilled) in a {settings['volume_bytes'] >> 30} GiB volume; "
                 f"before each run our leftover WAL consolidated and every file system synced; "
                 f"page cache dropped for the cold row: {'yes' if settings['page_cache_dropped_for_cold'] else 'NO (not root)'}; "
                 f"{settings['total_s']} s in all")
    lines.append("- cells: median (min-max) over the rounds; ratios: ours / peer medians, for latency peer / ours (above 1.0 = ours better)\n")
    cols = [n for n in names]
    lines.append("| workload | unit | " + " | ".join(cols) + f" | vs {QEMU} | vs {NBDKIT} |")
    lines.append("|---|---|" + "---:|" * len(cols) + "---:|---:|")

    def med(key, name, m):
        v = [r[m] for r in results.get(key, {}).get(name, []) if m in r]
        return (statistics.median(v), min(v), max(v)) if v else None

    def ratio(a, b, lower_better):
        if not a or not b or not a[0] or not b[0]:
            return None
        return b[0] / a[0] if lower_better else a[0] / b[0]

    for key, label, unit, _ in selected:
        metrics = [("iops" if unit == "IOPS" else "mbps", unit, False)]
        if key == "fl4k":
            metrics += [("flush_p50_us", "flush p50 us", True), ("flush_p99_us", "flush p99 us", True)]
        if key == "mix64k":
            metrics += [("mbps", "MB/s", False)]
        for m, u, lower in metrics:
            cells = {n: med(key, n, m) for n in cols}
            rq, rk = ratio(cells.get(OURS), cells.get(QEMU), lower), ratio(cells.get(OURS), cells.get(NBDKIT), lower)
            summary[f"{key}:{m}"] = {"label": label, "unit": u, "median": {n: c[0] for n, c in cells.items() if c},
                                     "vs_qemu": rq, "vs_nbdkit": rk}
            fmt = lambda x: f"{x:.0f}" if x >= 100 else f"{x:.1f}"
            lines.append(f"| {label} | {u} | " + " | ".join(f"{fmt(c[0])} ({fmt(c[1])}-{fmt(c[2])})" if c else "-" for c in cells.values())
                         + f" | {'-' if rq is None else f'{rq:.2f}x'} | {'-' if rk is None else f'{rk:.2f}x'} |")

    def goal(text, value, target, ok):
        goals.append({"goal": text, "value": value, "target": target, "met": ok})

    for key, label, unit, _ in selected:
        m = "iops" if unit == "IOPS" else "mbps"
        s = summary[f"{key}:{m}"]
        if key == "rr4kcold":
            if s["vs_qemu"] is not None:
                goal(f"{label}, file store, vs {QEMU}", s["vs_qemu"], 0.7, s["vs_qemu"] >= 0.7)
            q, o = s["median"].get(QEMU), s["median"].get(OURS_S3)
            if o is not None:
                goal(f"{label}, s3proxy store, vs {QEMU} (reported)", o / q if q else None, None, None)
            continue
        if s["vs_qemu"] is not None:
            goal(f"{label} vs {QEMU}", s["vs_qemu"], 1.0, s["vs_qemu"] >= 1.0)
        if key in ("rw4k", "fl4k", "w1m", "copyin") and s["vs_nbdkit"] is not None:
            goal(f"{label} vs {NBDKIT}", s["vs_nbdkit"], 1.0, s["vs_nbdkit"] >= 1.0)
    fl = summary.get("fl4k:flush_p99_us")
    if fl and fl["median"].get(OURS) and fl["median"].get(FILE):
        x = fl["median"][OURS] / fl["median"][FILE]
        goal(f"flush p99 / bare fdatasync p99 of 4 KiB (fio psync --fdatasync=1 on a file of the same disk)", x, 1.5, x <= 1.5)
    lines.append("\n### Goals\n")
    if not goals:
        lines.append(f"(none checked: they need {OURS} with {QEMU}, {NBDKIT} or {FILE} in the run)")
    else:
        lines.append("| goal | value | target | met |")
        lines.append("|---|---:|---:|---|")
    for g in goals:
        v = "-" if g["value"] is None else f"{g['value']:.2f}x" if g["value"] >= 0.1 else f"{g['value']:.3f}x"
        t = "reported" if g["target"] is None else (f"<= {g['target']}x" if "fdatasync" in g["goal"] else f">= {g['target']}x")
        lines.append(f"| {g['goal']} | {v} | {t} | {'-' if g['met'] is None else 'yes' if g['met'] else 'NO'} |")
    if memory:
        lines.append(f"\n### Memory under the 64k mixed load ({settings['volume_bytes'] >> 30} GiB volume)\n")
        lines.append("| server | RSS steady MiB | RSS max MiB | heap steady MiB | heap max MiB | heap limit MiB |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for name, runs in memory.items():
            if not any(runs):
                continue
            def mm(k, which):
                v = [r[k][which] for r in runs if k in r]
                return f"{statistics.median(v) / 2**20:.0f}" if v else "-"
            lines.append(f"| {name} | {mm('rss', 'steady')} | {mm('rss', 'max')} | {mm('heap', 'steady')} | {mm('heap', 'max')} | {mm('heap_max', 'max')} |")
    cold = results.get("rr4kcold", {})
    drains = {n: statistics.median(r["restart_drain_s"] for r in rs) for n, rs in cold.items() if rs and "restart_drain_s" in rs[0]}
    if drains:
        lines.append("\nBefore each cold row our servers were stopped (SIGTERM: the WAL drained into the store) and restarted: "
                     + ", ".join(f"{n} {s:.1f} s (median)" for n, s in drains.items()) + ".")
        fetched = {n: {k: statistics.median(r[k] for r in rs) for k in ("iops", "store_gets", "store_get_mb", "cache_misses")}
                   for n, rs in cold.items() if rs and "store_gets" in rs[0]}
        lines.append("What they fetched in the cold row (medians; reads = IOPS x runtime, about): " + "; ".join(
            f"{n} {f['iops'] * settings['runtime_s']:.0f} reads, {f['store_gets']:.0f} store GETs, {f['store_get_mb']:.0f} MB, "
            f"{f['cache_misses']:.0f} cache misses" for n, f in fetched.items()) + ".")
    return {"markdown": "\n".join(lines) + "\n", "summary": summary, "goals": goals}


if __name__ == "__main__":
    main()
