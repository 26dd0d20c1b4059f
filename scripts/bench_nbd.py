#!/usr/bin/env python3
"""End-to-end NBD benchmark: our server against qemu-nbd and nbdkit (file plugin) in the same run,
on files on the same disk, driven by fio's nbd engine and nbdcopy. Repetitions are interleaved
(every server runs each workload once per round), and the table reports medians, min-max and the
ratio of each server to qemu-nbd.

Usage: scripts/bench_nbd.py [--quick] [--reps N] [--runtime S]
Needs: fio, nbdcopy (libnbd-bin), qemu-nbd (qemu-utils), nbdkit; the project built (make build).
"""
import argparse, datetime, json, os, platform, shutil, signal, socket, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up")


class Server:
    def __init__(self, name, cmd, port, env=None):
        self.name, self.port = name, port
        self.log = open(os.path.join(WORK, f"{name}.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_port(port, self.proc)
        self.uri = f"nbd://127.0.0.1:{port}/bench"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def fio(uri, name, rw, bs, depth, runtime, size, extra=()):
    out = os.path.join(WORK, "fio.json")
    cmd = ["fio", f"--name={name}", "--ioengine=nbd", f"--uri={uri}", f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}",
           f"--size={size}", "--time_based", f"--runtime={runtime}", "--ramp_time=1", "--randrepeat=0", "--norandommap",
           "--output-format=json", f"--output={out}", *extra]
    run(cmd, stdout=subprocess.DEVNULL, timeout=runtime * 4 + 120)
    with open(out) as f:
        job = json.load(f)["jobs"][0]
    side = job["write"] if job["write"]["io_bytes"] > 0 else job["read"]
    lat = side.get("clat_ns", {}).get("percentile", {})
    return {"iops": side["iops"], "mbps": side["bw_bytes"] / 1e6,
            "p50_us": lat.get("50.000000", 0) / 1000, "p99_us": lat.get("99.000000", 0) / 1000}


def nbdcopy(src, dst, size):
    t = time.monotonic()
    run(["nbdcopy", src, dst], timeout=900)
    return {"mbps": size / (time.monotonic() - t) / 1e6}


def main():
    global WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--runtime", type=int, default=None)
    a = ap.parse_args()
    reps = a.reps or (1 if a.quick else 3)
    runtime = a.runtime or (3 if a.quick else 10)
    size = (256 << 20) if a.quick else (1 << 30)
    for tool in ("fio", "nbdcopy", "qemu-nbd", "nbdkit"):
        if not shutil.which(tool):
            raise SystemExit(f"bench_nbd: {tool} is not installed (apt-get install fio libnbd-bin qemu-utils nbdkit)")
    WORK = os.path.join(ROOT, "bench", "work")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    src = os.path.join(WORK, "random.bin")
    with open(src, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n

    raw_q = os.path.join(WORK, "qemu.raw")
    raw_k = os.path.join(WORK, "nbdkit.raw")
    for p in (raw_q, raw_k):
        with open(p, "wb") as f:
            f.truncate(size)
    env = dict(os.environ, VB_DATA=os.path.join(WORK, "vb-node"), VB_STORE="file:" + os.path.join(WORK, "vb-store"))
    run([os.path.join(ROOT, "bin", "vblock"), "create", "bench", "--size", str(size)], env=env, stdout=subprocess.DEVNULL)
    servers = []
    try:
        p = free_port()
        servers.append(Server("viperblock", [os.path.join(ROOT, "bin", "vblock"), "serve", "bench", "--listen", f"127.0.0.1:{p}"], p, env))
        p = free_port()
        servers.append(Server("qemu-nbd", ["qemu-nbd", "-f", "raw", "--cache=writeback", "--aio=threads", "-e", "8", "-t",
                                           "-b", "127.0.0.1", "-p", str(p), "-x", "bench", raw_q], p))
        p = free_port()
        servers.append(Server("nbdkit-file", ["nbdkit", "-f", "-i", "127.0.0.1", "-p", str(p), "file", f"file={raw_k}"], p))
        for s in servers:  # warm-up and prefill, so that reads read data
            nbdcopy(src, s.uri, size)
        rows = [
            ("4k randwrite QD32", lambda u: fio(u, "rw4k", "randwrite", "4k", 32, runtime, size)),
            ("4k randread QD32", lambda u: fio(u, "rr4k", "randread", "4k", 32, runtime, size)),
            ("4k randwrite QD1", lambda u: fio(u, "rw4k1", "randwrite", "4k", 1, runtime, size)),
            ("4k randwrite QD1 fsync=1", lambda u: fio(u, "rw4kf", "randwrite", "4k", 1, runtime, size, ["--fsync=1"])),
            ("1M write QD8", lambda u: fio(u, "w1m", "write", "1m", 8, runtime, size)),
            ("1M read QD8", lambda u: fio(u, "r1m", "read", "1m", 8, runtime, size)),
            ("nbdcopy in", lambda u: nbdcopy(src, u, size)),
            ("nbdcopy out", lambda u: nbdcopy(u, "null:", size)),
        ]
        results = {}
        for rep in range(reps):
            for label, fn in rows:
                order = servers if rep % 2 == 0 else list(reversed(servers))
                for s in order:
                    r = fn(s.uri)
                    results.setdefault(label, {}).setdefault(s.name, []).append(r)
                    print(f"  round {rep + 1}/{reps} {label:26s} {s.name:12s} "
                          + " ".join(f"{k}={v:.1f}" for k, v in r.items()), file=sys.stderr, flush=True)
    finally:
        for s in servers:
            s.stop()

    machine = {"cores": os.cpu_count(), "kernel": platform.release(),
               "jdk": subprocess.run([os.path.join(os.environ.get("JAVA_HOME", "/usr"), "bin", "java"), "-version"],
                                     capture_output=True, text=True).stderr.splitlines()[0],
               "disk": subprocess.run(["df", "-h", WORK], capture_output=True, text=True).stdout.splitlines()[-1],
               "reps": reps, "runtime_s": runtime, "size_bytes": size}
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", f"{stamp}-nbd.json")
    with open(out, "w") as f:
        json.dump({"machine": machine, "results": results}, f, indent=1)

    def metric(label):
        return "mbps" if label.startswith(("1M", "nbdcopy")) else "iops"

    print(f"\n## NBD servers side by side ({stamp})\n")
    print(f"{machine['cores']} cores, {machine['jdk']}, kernel {machine['kernel']}, disk `{machine['disk']}`; "
          f"{reps} interleaved rounds of {runtime} s per fio row, {size >> 20} MiB working set. Median (min-max).\n")
    names = [s.name for s in servers]
    print("| workload | unit | " + " | ".join(names) + " | viperblock / qemu-nbd | viperblock / nbdkit |")
    print("|---|---|" + "---|" * len(names) + "---|---|")
    for label, per in results.items():
        m = metric(label)
        med = {n: statistics.median(r[m] for r in per[n]) for n in names}
        cells = [f"{med[n]:.0f} ({min(r[m] for r in per[n]):.0f}-{max(r[m] for r in per[n]):.0f})" for n in names]
        print(f"| {label} | {'MB/s' if m == 'mbps' else 'IOPS'} | " + " | ".join(cells)
              + f" | {med['viperblock'] / med['qemu-nbd']:.2f}x | {med['viperblock'] / med['nbdkit-file']:.2f}x |")
    lat = results.get("4k randwrite QD1 fsync=1")
    if lat:
        print("\nQD1 write+fsync latency p50/p99 (us): " + ", ".join(
            f"{n} {statistics.median(r['p50_us'] for r in lat[n]):.0f}/{statistics.median(r['p99_us'] for r in lat[n]):.0f}" for n in names))
    print(f"\nraw results: {os.path.relpath(out, ROOT)}")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
