"""Run kazoo's own test suite (kazoo.tests, shipped in the kazoo wheel) against
Apache ZooKeeper 3.8 and against Corral, and compare the outcomes.

    python interop/kazoo_suite/run.py [--servers zookeeper,corral] [--tests A,B]
                                      [--cluster] [--junit-dir DIR] [--keep]
                                      [-- pytest args]

Both servers run from the same harness (kazoo/testing/common.py), one server
each (ZOOKEEPER_CLUSTER_SIZE=1; with --cluster three, an ensemble of each kind:
the harness writes the server.N lines and myid files), through the `java`
launcher in bin/, which execs either Debian's Apache ZooKeeper or $CORRAL_BIN on
a loopback-only copy of the harness's zoo.cfg. The two pytest runs are
concurrent (disjoint ports, their own temp dirs, each in its own session;
leftover servers killed by pid). With --cluster, a corral binary that cannot run
a 3-server ensemble (probed once) is not run: "corral ensemble mode not
available in this build", and only ZooKeeper's counts are printed.

Exit status 0 only if Corral passed every test ZooKeeper passed, skipped what
it skipped and failed the rest with the same exception class, apart from the
tests listed in expected_failures.txt (a reason each; with --cluster also
expected_failures_cluster.txt) and the ones excluded as flaky on ZooKeeper
itself (flaky.txt). A stale entry is reported, not fatal.

Environment: CORRAL_BIN (the corral binary; copied before the run),
CORRAL_ORACLE_ONLY=1 (Apache ZooKeeper on the corral side too: checks this
runner and finds tests that are flaky on ZooKeeper), KAZOO_SUITE_TIMEOUT
(seconds for one whole pytest run, default 900; every test has 90 s).
"""

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # interop/: the harness package
from harness.ensemble import corral_ensemble_problem  # noqa: E402
LAUNCHER_DIR = HERE / "bin"
ZK_VERSION = "3.8.0"
JAVA_DIR = Path("/usr/share/java")
# zookeeper.jar's manifest names most of what it needs; Debian leaves out
# these (Netty fails without them and every test times out), and a logging
# binding so the harness's log4j.properties writes zookeeper.log.
ZK_JARS = [
    "zookeeper.jar",
    "netty-codec.jar",
    "netty-resolver.jar",
    "netty-transport-native-unix-common.jar",
    "slf4j-log4j12.jar",
    "log4j-1.2.jar",
]
# kazoo's harness uses base..base+4 for server 1 (client, election, leader,
# admin, secure client), base+10.. for server 2, and so on.
PORTS_PER_SERVER = 5
PORT_STRIDE = 10
CLUSTER_SIZE = 3
# The java that bin/java (first on the runs' PATH) hands ZooKeeper to.
REAL_JAVA = os.environ.get("KAZOO_SUITE_REAL_JAVA") or shutil.which(
    "java", path=os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and Path(p).resolve() != LAUNCHER_DIR
    )
) or "/usr/bin/java"
PER_TEST_TIMEOUT = 90


def read_list(name):
    """`test id  # reason` lines; returns {test id: reason}."""
    entries = {}
    for lineno, line in enumerate((HERE / name).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, sep, reason = line.partition("#")
        test_id, reason = test_id.strip(), reason.strip()
        if not sep or not reason:
            sys.exit(f"{name}:{lineno}: every entry needs a reason after '#'")
        entries[test_id] = reason
    return entries


def ports_free(base, servers):
    for first in range(base, base + servers * PORT_STRIDE, PORT_STRIDE):
        for port in range(first, first + PORTS_PER_SERVER):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def pick_port_base(taken, servers):
    """A base below the ephemeral range with PORTS_PER_SERVER free ports for each of
    `servers` servers (PORT_STRIDE apart), clear of the ranges in `taken`."""
    rng = random.Random()
    span = servers * PORT_STRIDE
    for _ in range(200):
        base = rng.randrange(20000, 32000 - span, PORT_STRIDE)
        if all(abs(base - t) >= span for t in taken) and ports_free(base, servers):
            return base
    sys.exit("no free port range found in 20000-32000")


class Run:
    """One pytest run of kazoo.tests against one server."""

    def __init__(self, server, launch, workdir, port_base, tests, extra_args, cluster_size):
        self.server = server
        self.cluster_size = cluster_size
        self.launch = launch  # what bin/java starts: corral or zookeeper
        self.workdir = workdir
        self.port_base = port_base
        self.junit = workdir / "junit.xml"
        self.log = workdir / "pytest.log"
        self.piddir = workdir / "pids"
        self.piddir.mkdir()
        self.tests = tests
        self.extra_args = extra_args
        self.returncode = None
        self.took = 0.0
        self.timed_out = False
        self.proc = None

    def env(self):
        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{LAUNCHER_DIR}{os.pathsep}{env.get('PATH', '')}",
                "KAZOO_SUITE_SERVER": self.launch,
                "KAZOO_SUITE_REAL_JAVA": REAL_JAVA,
                "KAZOO_SUITE_PIDDIR": str(self.piddir),
                "ZOOKEEPER_VERSION": ZK_VERSION,
                "ZOOKEEPER_CLASSPATH": os.pathsep.join(
                    str(JAVA_DIR / j) for j in ZK_JARS
                ),
                "ZOOKEEPER_CLUSTER_SIZE": str(self.cluster_size),
                "ZOOKEEPER_PORT_OFFSET": str(self.port_base),
                "TMPDIR": str(self.workdir / "tmp"),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        (self.workdir / "tmp").mkdir(exist_ok=True)
        for k in ("ZOOKEEPER_PATH", "ZOOKEEPER_JAAS_AUTH", "ZOOKEEPER_OBSERVER_START_ID"):
            env.pop(k, None)
        return env

    def command(self):
        return [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(HERE / "pytest.ini"),
            "--rootdir",
            str(Path(mod_path()).parent.parent),
            "-p",
            "no:cacheprovider",
            f"--junitxml={self.junit}",
            "-o",
            f"timeout={PER_TEST_TIMEOUT}",
            "-q",
            *self.tests,
            *self.extra_args,
        ]

    def run(self, deadline_s):
        start = time.monotonic()
        with open(self.log, "wb") as out:
            proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.proc = proc
            try:
                self.returncode = proc.wait(timeout=deadline_s)
            except subprocess.TimeoutExpired:
                self.timed_out = True
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    self.returncode = proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    self.returncode = proc.wait(timeout=20)
        self.took = time.monotonic() - start
        self.kill_leftover_servers()

    def kill_leftover_servers(self):
        """The launcher writes its pid (the server's, after exec) here; the
        harness terminates its servers at exit, this catches the rest."""
        for pidfile in self.piddir.glob("*.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (ValueError, OSError):
                continue
            if str(self.workdir).encode() not in cmdline:
                continue  # gone, or the pid now belongs to someone else
            print(f"[{self.server}] killing leftover server pid {pid}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def outcomes(self):
        """{test id: Outcome}; test id is file.py::Class::test."""
        if not self.junit.exists():
            return {}
        results = {}
        for case in ET.parse(self.junit).getroot().iter("testcase"):
            classname = case.get("classname", "")
            module, _, cls = classname.rpartition(".")
            module = module.removeprefix("kazoo.tests.")
            test_id = f"{module}.py::{cls}::{case.get('name', '')}"
            outcome = Outcome("passed")
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = Outcome("failed", failure_kind(child))
                    break
                if child.tag == "skipped":
                    outcome = Outcome("skipped")
            # A test whose teardown failed too appears twice; the first failure wins.
            if test_id not in results or results[test_id].status != "failed":
                results[test_id] = outcome
        return results


@dataclass(frozen=True)
class Outcome:
    status: str  # passed | failed | skipped | missing
    kind: str = ""  # for failed: the exception class (or pytest-timeout's "Timeout")

    def __str__(self):
        return f"{self.status} ({self.kind})" if self.kind else self.status


MISSING = Outcome("missing")
EXCEPTION_RE = re.compile(r"\b([A-Za-z_]\w*(?:Error|Exception|Loss|Expired|Timeout|Exit)\w*)\b")


def failure_kind(element):
    """The exception class of a junit <failure>/<error>: its last dotted component (kazoo's
    exceptions compare by class, their messages carry paths and timings)."""
    text = element.get("message") or (element.text or "")
    if "Timeout >" in text:
        return "Timeout"  # pytest-timeout
    m = EXCEPTION_RE.search(text)
    kind = m.group(1) if m else text.strip().splitlines()[0][:60] if text.strip() else "?"
    if element.tag == "error":
        kind = f"{kind} (setup/teardown)"
    return kind


def counts(outcomes):
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for o in outcomes.values():
        c[o.status] += 1
    return c


def fmt_counts(c):
    return f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="zookeeper,corral")
    parser.add_argument(
        "--tests",
        default="",
        help="comma-separated files or node ids under kazoo/tests "
        "(test_lock.py,test_client.py::TestClient); default: the whole suite",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help=f"{CLUSTER_SIZE} servers per run (ZOOKEEPER_CLUSTER_SIZE={CLUSTER_SIZE}): "
        "a ZooKeeper ensemble and a Corral ensemble",
    )
    parser.add_argument("--junit-dir", help="copy each run's junit.xml and pytest.log here")
    parser.add_argument("--keep", action="store_true", help="keep the work dirs")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()

    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in ("zookeeper", "corral"):
            sys.exit(f"unknown server {s!r} (zookeeper or corral)")
    oracle_only = os.environ.get("CORRAL_ORACLE_ONLY", "") not in ("", "0")
    if oracle_only:
        print("CORRAL_ORACLE_ONLY is set: the corral side is Apache ZooKeeper too")
    if "corral" in servers and not oracle_only:
        corral = os.environ.get("CORRAL_BIN")
        if not corral or not os.access(corral, os.X_OK):
            sys.exit("CORRAL_BIN must name the corral binary (cargo build -p corral)")
        os.environ["CORRAL_BIN"] = str(Path(corral).resolve())
    for jar in ZK_JARS:
        if not (JAVA_DIR / jar).exists():
            sys.exit(f"{JAVA_DIR / jar} is missing (apt-get install zookeeper)")

    cluster_size = CLUSTER_SIZE if args.cluster else 1
    if args.cluster and "corral" in servers and not oracle_only:
        problem = corral_ensemble_problem(os.environ["CORRAL_BIN"])
        if problem is not None:
            # A Corral that cannot run a 3-server ensemble fails the run.
            print("corral: the ensemble did not start:\n    "
                  + "\n    ".join(problem.strip().splitlines()[:3]))
            return 1
    expected = read_list("expected_failures.txt")
    if args.cluster:
        expected.update(read_list("expected_failures_cluster.txt"))
    flaky = read_list("flaky.txt")
    selected = [t.strip() for t in args.tests.split(",") if t.strip()]
    tests = [f"{mod_path()}/{t}" for t in selected] or [mod_path()]
    deadline = float(os.environ.get("KAZOO_SUITE_TIMEOUT", "900"))

    root = Path(tempfile.mkdtemp(prefix="kazoo-suite-"))
    if "corral" in servers and not oracle_only:
        # A private copy: a rebuild of target/debug/corral during the run must not
        # change the server under test half-way.
        shutil.copy2(os.environ["CORRAL_BIN"], root / "corral-under-test")
        os.environ["CORRAL_BIN"] = str(root / "corral-under-test")
    runs, taken = [], []
    for server in servers:
        base = pick_port_base(taken, cluster_size)
        taken.append(base)
        workdir = root / server
        workdir.mkdir()
        launch = "zookeeper" if oracle_only else server
        runs.append(Run(server, launch, workdir, base, tests, args.pytest_args, cluster_size))

    print(
        f"kazoo {kazoo_version()} suite ({', '.join(selected) or 'all tests'}) against "
        + (f"{cluster_size}-server ensembles of " if cluster_size > 1 else "")
        + ", ".join(f"{r.server} (ports {r.port_base}+)" for r in runs)
        + f"; logs under {root}",
        flush=True,
    )
    interrupted = []

    def stop_runs(signum, _frame):
        # pytest dies without its atexit clean-up; kill_leftover_servers follows.
        interrupted.append(signum)
        for r in runs:
            if r.proc is not None and r.proc.poll() is None:
                os.kill(r.proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_runs)
    signal.signal(signal.SIGINT, stop_runs)
    threads = [threading.Thread(target=r.run, args=(deadline,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    results = {}
    for r in runs:
        results[r.server] = r.outcomes()
        status = "TIMED OUT" if r.timed_out else f"pytest exit {r.returncode}"
        print(f"{r.server:>9}: {fmt_counts(counts(results[r.server]))} in {r.took:.0f}s ({status})")
        if args.junit_dir:
            dest = Path(args.junit_dir)
            dest.mkdir(parents=True, exist_ok=True)
            for f in (r.junit, r.log):
                if f.exists():
                    shutil.copy(f, dest / f"{r.server}-{f.name}")

    ok = not interrupted
    if interrupted:
        print(f"interrupted by signal {interrupted[0]}")
    for r in runs:
        if r.timed_out or not results[r.server]:
            ok = False
            print(f"ERROR: the {r.server} run timed out or produced no results; "
                  f"see {r.log}")
            print_tail(r.log)
    if ok and set(servers) == {"zookeeper", "corral"}:
        ok = compare(results["zookeeper"], results["corral"], expected, flaky)
    elif ok and servers == ["corral"]:
        ok = check_alone(results["corral"], expected, flaky)

    if not ok:
        for r in runs:
            print_failures(r.log, r.server)
    if args.keep or not ok:
        print(f"work dirs kept: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


def check_alone(corral, expected, flaky):
    """Corral without ZooKeeper beside it (CI's time budget): every test passes or is skipped,
    but for the listed expected failures (and flaky ones). ZooKeeper 3.8 passes every test
    that is not skipped on this suite (`cargo xtask kazoo --cluster` runs both and compares)."""
    failed = sorted(t for t, r in corral.items() if r.status not in ("passed", "skipped"))
    unexpected = [t for t in failed if t not in expected and t not in flaky]
    stale = sorted(t for t in expected if corral.get(t, MISSING).status == "passed")
    print()
    for t in failed:
        note = expected.get(t) or flaky.get(t)
        if note:
            print(f"  expected: {t}: {corral[t]}  # {note}")
    if stale:
        print("listed as an expected failure but passed (remove them?): " + ", ".join(stale))
    if unexpected:
        print(f"FAILED: {len(unexpected)} unexpected failure(s) on Corral:")
        for t in unexpected:
            print(f"  {t}: {corral[t]}")
        return False
    print("OK: Corral passed every test but the listed expected failures")
    return True


def compare(zk, corral, expected, flaky):
    """Corral must do what ZooKeeper does: pass what it passes, skip what it skips, and fail
    the tests ZooKeeper fails (one server instead of three) with the same exception class.
    Passing a test ZooKeeper fails is reported, not fatal."""
    differences, expected_seen, stale, corral_better, flaky_seen = [], [], [], [], []
    for test_id in sorted(set(zk) | set(corral)):
        z, c = zk.get(test_id, MISSING), corral.get(test_id, MISSING)
        if test_id in flaky:
            if z != c:
                flaky_seen.append((test_id, z, c))
            continue
        if z == c:
            if test_id in expected:
                stale.append((test_id, z))
            continue
        if test_id in expected:
            expected_seen.append((test_id, z, c))
        elif c.status == "passed" and z.status == "failed":
            corral_better.append((test_id, z))
        else:
            differences.append((test_id, z, c))
    print()
    if expected_seen:
        print(f"expected differences ({len(expected_seen)}, expected_failures.txt):")
        for t, z, c in expected_seen:
            print(f"  {t}: zookeeper {z}, corral {c}  # {expected[t]}")
    if flaky_seen:
        print("differences ignored (flaky on ZooKeeper itself, flaky.txt):")
        for t, z, c in flaky_seen:
            print(f"  {t}: zookeeper {z}, corral {c}  # {flaky[t]}")
    if corral_better:
        print("passed on Corral, failed on ZooKeeper:")
        for t, z in corral_better:
            print(f"  {t}: zookeeper {z}")
    if stale:
        print("listed as an expected difference but the same on both (remove them?):")
        for t, z in stale:
            print(f"  {t}: {z}")
    if differences:
        print(f"FAILED: {len(differences)} test(s) differ between ZooKeeper and Corral:")
        for t, z, c in differences:
            print(f"  {t}: zookeeper {z}, corral {c}")
        return False
    print("OK: Corral passed every test ZooKeeper passed and failed the others the same way "
          "(apart from the listed expected failures)")
    return True


def print_tail(path, n=40):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return
    for line in lines[-n:]:
        print(f"    {line}")


def print_failures(path, server):
    """pytest -q's short summary lines (FAILED ... / ERROR ...)."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return
    summary = [
        re.sub(r"\S*/kazoo/tests/", "", l)
        for l in lines
        if l.startswith(("FAILED ", "ERROR "))
    ]
    if summary:
        print(f"{server} failures (pytest summary):")
        for l in summary:
            print(f"  {l}")


def mod_path():
    import kazoo.tests

    return str(Path(kazoo.tests.__file__).parent)


def kazoo_version():
    import importlib.metadata

    return importlib.metadata.version("kazoo")


if __name__ == "__main__":
    sys.exit(main())
