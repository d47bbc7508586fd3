#!/usr/bin/python3
"""docs/batch.md's Slurm recipe on a one-node Slurm started for this test.

    /usr/bin/python3 tests/python/test_slurm.py FIXTURES_DIR CAMKIT_BINARY

Starts munged, slurmctld and slurmd on localhost with their own configuration, state and
sockets under a temporary folder (nothing system-wide is touched), runs the job script and the
submit and resubmit blocks exactly as docs/batch.md writes them (paths and sizes substituted),
cancels one array task while it runs, checks that the merge job then refuses, resubmits the
task, and compares the merged output folder with a single-process run byte for byte. Stops the
daemons it started. Exits 77 (CTest: skipped) with the reason when Slurm or munge is missing or
the daemons cannot start here; 0 when every check passed, 1 otherwise.
"""

import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "batch.md")
SKIP = 77
N_SHARDS = 3
N_INPUTS = 24


def skip(reason):
    print(f"SKIP test_slurm: {reason}")
    sys.exit(SKIP)


def doc_block(marker):
    """The fenced code block that follows `<!-- marker` in docs/batch.md."""
    text = open(DOC).read()
    at = text.index("<!-- " + marker)
    body = re.search(r"```[a-z]*\n(.*?)```", text[at:], re.S)
    return body.group(1)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def fnv1a(text):
    h = 1469598103934665603
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) % 2 ** 64
    return h


class Cluster:
    """munged + slurmctld + slurmd for one node, all under `root`."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))

    def start(self):
        r = self.root
        os.makedirs(os.path.join(r, "munge"), mode=0o700)
        for d in ("state", "spool", "log"):
            os.makedirs(os.path.join(r, d))
        key = os.path.join(r, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        sock = os.path.join(r, "munge", "sock")
        self.spawn(["munged", "--foreground", "--force", f"--socket={sock}", f"--key-file={key}",
                    f"--pid-file={r}/munge/pid", f"--log-file={r}/munge/log",
                    f"--seed-file={r}/munge/seed"], "munged")
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        else:
            return "munged did not create its socket: " + self.log("munge/log")
        user = pwd.getpwuid(os.getuid()).pw_name
        host = socket.gethostname()
        ctld, slurmd = free_ports(2)
        self.node = f"camkit{os.getpid()}"
        with open(self.env["SLURM_CONF"], "w") as f:
            f.write(f"""ClusterName=camkittest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
SlurmUser={user}
SlurmdUser={user}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/ctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/ctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
InactiveLimit=0
MinJobAge=600
KillWait=2
NodeName={self.node} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory=1024 State=UNKNOWN
PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        self.spawn(["slurmctld", "-D", "-i", "-f", self.env["SLURM_CONF"]], "slurmctld")
        time.sleep(1)
        self.spawn(["slurmd", "-D", "-N", self.node, "-f", self.env["SLURM_CONF"]], "slurmd")
        deadline = time.time() + 40
        while time.time() < deadline:
            for p, name in self.procs:
                if p.poll() is not None:
                    return f"{name} exited ({p.returncode}): " + self.log(f"log/{name}.out")
            r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True,
                               text=True)
            if r.returncode == 0 and r.stdout.strip() == "idle":
                return None
            time.sleep(0.5)
        return "the node never became idle: " + self.log("log/ctld.log") + self.log("log/slurmd.log")

    def spawn(self, argv, name):
        out = open(os.path.join(self.root, "log", name + ".out"), "w")
        self.procs.append((subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True), name))

    def log(self, rel):
        try:
            return open(os.path.join(self.root, rel)).read()[-2000:]
        except OSError:
            return "(no " + rel + ")"

    def stop(self):
        for p, _ in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p, _ in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def sh(self, script, cwd):
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=self.env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (script, r.stdout, r.stderr)
        return r.stdout

    def job(self, job_id):
        """{'JobState': ..., 'ExitCode': ...} of a job or array task ("12_1")."""
        r = subprocess.run(["scontrol", "-o", "show", "job", str(job_id)], env=self.env,
                           capture_output=True, text=True)
        fields = {}
        for line in r.stdout.splitlines():
            for kv in line.split():
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    fields.setdefault(k, v)
        return fields

    def wait_done(self, job_id, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run(["squeue", "-h", "-j", str(job_id)], env=self.env,
                               capture_output=True, text=True)
            if r.returncode == 0 and not r.stdout.strip():
                return
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not end: " + self.log("log/ctld.log"))


def make_inputs(folder):
    """Smooth, largish pictures: quick to write, long enough to explain that a task can be
    cancelled while it runs."""
    os.makedirs(folder)
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:900, 0:1100]
    for i in range(N_INPUTS):
        a, b, c = rng.uniform(0.002, 0.02, 3)
        img = np.stack([np.sin(a * xx + i), np.cos(b * yy), np.sin(c * (xx + yy))], -1)
        Image.fromarray(((img + 1) * 127).astype(np.uint8)).save(
            os.path.join(folder, f"im{i:02d}.png"), compress_level=1)


def tree(folder):
    out = {}
    for d, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    fixtures, camkit = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel",
                 "sinfo"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            skip(f"{tool} is missing (tools/install_deps.sh installs slurm-wlm and munge)")
    os.environ["PATH"] += ":/usr/sbin"
    model = os.path.join(fixtures, "models", "custom_gap_flatten_linear_traced.pt")
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="ck_slurm_", dir="/tmp")  # short: socket paths are limited
    cluster = Cluster(os.path.join(tmp, "slurm"))
    try:
        os.makedirs(cluster.root)
        why = cluster.start()
        if why:
            skip("the Slurm daemons cannot start here: " + why)
        print(f"ok   cluster up ({time.time() - started:.1f}s)", flush=True)
        data, out, ref = (os.path.join(tmp, d) for d in ("val", "cams", "ref"))
        make_inputs(data)
        r = subprocess.run([camkit, "explain", model, data, "-o", ref, "--threads", "1",
                            "--batch-size", "8"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

        def documented(block):
            text = doc_block(block)
            for old, new in (("/opt/camkit/bin/camkit", camkit), ("model.pt", model),
                             ("/data/val", data), ("/scratch/cams", out),
                             ("--array=0-15", f"--array=0-{N_SHARDS - 1}"),
                             ("N=16", f"N={N_SHARDS}"), ("--array=5", "--array=1"),
                             ("--cpus-per-task=8", "--cpus-per-task=1"),
                             ("--mem=4G", "--mem=256M")):
                text = text.replace(old, new)
            return text

        with open(os.path.join(tmp, "job.sh"), "w") as f:
            f.write(documented("slurm-job"))
        submit = documented("slurm-submit")
        assert "$SLURM_ARRAY_TASK_COUNT" not in doc_block("slurm-job")
        got = cluster.sh(submit + '\necho "ARRAY=$array"\n', tmp)
        array = re.search(r"ARRAY=(\d+)", got).group(1)
        merge1 = re.search(r"Submitted batch job (\d+)", got).group(1)

        # Cancel task 1 once it has written a record of its own.
        mine = [f"im{i:02d}.json" for i in range(N_INPUTS)
                if fnv1a(f"im{i:02d}.png") % N_SHARDS == 1]
        assert mine, "no input falls in shard 1"
        deadline, partial = time.time() + 120, False
        while time.time() < deadline:
            state = cluster.job(f"{array}_1").get("JobState", "")
            done = [f for f in mine if os.path.exists(os.path.join(out, f))]
            if done and len(done) < len(mine):
                partial = True
                break
            if state not in ("PENDING", "RUNNING", "CONFIGURING", ""):
                break
            time.sleep(0.02)
        subprocess.run(["scancel", f"{array}_1"], env=cluster.env, check=True)
        cluster.wait_done(array)
        cluster.wait_done(merge1)
        print(f"ok   array ran, task 1 cancelled {'mid-run' if partial else '(late)'} "
              f"({time.time() - started:.1f}s)", flush=True)
        state = cluster.job(f"{array}_1")["JobState"]
        if partial:
            assert state == "CANCELLED", state
            # afterany started the merge; it refused, naming what is missing, writing nothing.
            m = cluster.job(merge1)
            assert m["JobState"] == "FAILED" and m["ExitCode"].startswith("1:"), m
            log = open(os.path.join(tmp, f"slurm-{merge1}.out")).read()
            assert "inputs in no index" in log or "has no index-1-of-3.jsonl" in log, log
            assert not os.path.exists(os.path.join(out, "index.jsonl"))

        got = cluster.sh(documented("slurm-resubmit") + '\necho "AGAIN=$again"\n', tmp)
        again = re.search(r"AGAIN=(\d+)", got).group(1)
        merge2 = re.search(r"Submitted batch job (\d+)", got).group(1)
        cluster.wait_done(again)
        cluster.wait_done(merge2)
        m = cluster.job(merge2)
        assert m["JobState"] == "COMPLETED", (m, open(os.path.join(tmp, f"slurm-{merge2}.out")).read())
        task_log = open(os.path.join(tmp, f"slurm-{again}_1.out")).read()
        if partial:
            assert re.search(r"[1-9]\d* skipped", task_log), task_log

        # Byte for byte the single-process run, plus the shard indexes; no temporaries left.
        a, b = tree(ref), tree(out)
        extra = sorted(set(b) - set(a))
        assert extra == [f"index-{i}-of-{N_SHARDS}.jsonl" for i in range(N_SHARDS)], extra
        assert set(a) <= set(b), sorted(set(a) - set(b))
        differ = [k for k in a if a[k] != b[k]]
        assert not differ, differ[:5]
        assert len(open(os.path.join(out, "index.jsonl")).readlines()) == N_INPUTS
        print(f"ok   resubmitted task and merge equal the single-process run "
              f"({time.time() - started:.1f}s)")
        print(f"1 passed, 0 failed ({time.time() - started:.1f}s)")
        return 0
    except AssertionError:
        import traceback
        traceback.print_exc()
        for name in sorted(os.listdir(tmp)):
            if name.startswith("slurm-") and name.endswith(".out"):
                print(f"--- {name}\n" + open(os.path.join(tmp, name)).read()[-1500:])
        print("--- slurmctld\n" + cluster.log("log/ctld.log"))
        print(f"0 passed, 1 failed ({time.time() - started:.1f}s)")
        return 1
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main(sys.argv[1:]))
