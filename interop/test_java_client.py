"""Apache ZooKeeper's own Java client (Debian's zookeeper.jar) against both servers.

interop/java/JavaClientCheck.java exercises ACLs and digest auth, multi (success, failure with
per-op results, multiRead), a persistent recursive watch and removeWatches, then watches that
must be re-registered with SetWatches after the server is killed (-9) and restarted on the
same port and data. The transcripts from Apache ZooKeeper and from Corral must be equal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness.servers import _set_pdeathsig, four_letter, free_port, zookeeper_classpath

JAVA_SRC = Path(__file__).parent / "java" / "JavaClientCheck.java"
JAR = "/usr/share/java/zookeeper.jar"
READY_TIMEOUT_S = 30.0
STEP_TIMEOUT_S = 60.0


class RestartableServer:
    """A server on a fixed port and data dir that can be killed and started again."""

    def __init__(self, kind: str, corral_bin: str | None):
        self.kind = kind
        self.corral_bin = corral_bin
        self.workdir = Path(tempfile.mkdtemp(prefix=f"interop-java-{kind}-"))
        self.port = free_port()
        self.cfg = self.workdir / "zoo.cfg"
        self.cfg.write_text(
            f"tickTime=2000\ndataDir={self.workdir / 'data'}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n"
            "4lw.commands.whitelist=*\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.kind == "zookeeper":
            cmd = ["java", "-Xms64m", "-XX:+UseSerialGC", "-cp", zookeeper_classpath(),
                   "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(self.cfg)]
        else:
            cmd = [self.corral_bin, "server", str(self.cfg)]
        with open(self.workdir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=_set_pdeathsig)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited:\n{self.tail()}")
            try:
                if "Mode:" in four_letter("127.0.0.1", self.port, "srvr", timeout=1.0):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.kind} not ready:\n{self.tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self) -> str:
        log = self.workdir / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@pytest.fixture(scope="module")
def compiled_check() -> Path:
    if not Path(JAR).is_file():
        pytest.fail(f"{JAR} is missing (cargo xtask interop installs Debian's zookeeper package)")
    out = Path(tempfile.mkdtemp(prefix="interop-javac-"))
    subprocess.run(["javac", "-d", str(out), "-cp", JAR, str(JAVA_SRC)], check=True, timeout=120)
    return out


def read_until(proc: subprocess.Popen, marker: str, lines: list[str]) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the Java client ended before {marker!r}; output so far: {lines}")
        line = line.rstrip("\n")
        lines.append(line)
        if line == marker:
            return
    raise AssertionError(f"no {marker!r} within {STEP_TIMEOUT_S}s; output so far: {lines}")


def drive_check(kind: str, classes: Path, addr: str, restart, logs) -> list[str]:
    """Runs JavaClientCheck against `addr` up to RESTART, calls `restart()`, lets it finish;
    its transcript. `logs()` is the servers' log text for a failure message."""
    cp = f"{JAR}:/usr/share/java/slf4j-nop.jar:{classes}"
    proc = subprocess.Popen(["java", "-cp", cp, "JavaClientCheck", addr, "/java"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, preexec_fn=_set_pdeathsig)
    lines: list[str] = []
    try:
        read_until(proc, "RESTART", lines)
        restart()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        read_until(proc, "DONE", lines)
        proc.wait(timeout=STEP_TIMEOUT_S)
        return lines
    except AssertionError as e:
        raise AssertionError(f"{kind}: {e}\nserver logs:\n{logs()}") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def run_check(kind: str, classes: Path, corral_bin: str | None) -> list[str]:
    server = RestartableServer(kind, corral_bin)
    server.start()

    def restart() -> None:
        server.kill9()
        server.start()

    try:
        return drive_check(kind, classes, server.addr, restart, server.tail)
    finally:
        server.kill9()


def test_java_client_acl_multi_watches_and_setwatches_after_restart(compiled_check):
    corral_bin = os.environ.get("CORRAL_BIN")
    if not corral_bin:
        pytest.fail("CORRAL_BIN is not set (cargo xtask interop sets it)")
    expected = run_check("zookeeper", compiled_check, None)
    got = run_check("corral", compiled_check, corral_bin)
    assert len(expected) > 20 and expected[-1] == "DONE", expected
    if got != expected:
        import difflib
        diff = "\n".join(difflib.unified_diff(expected, got, "zookeeper", "corral", lineterm=""))
        raise AssertionError(f"the Java client saw different things:\n{diff}")


def run_check_on_ensemble(kind: str, classes: Path, corral_bin: str | None) -> list[str]:
    """The same check against a 3-server ensemble (the client's connect string names all
    three); at RESTART the leader is killed with -9 and started again: the session moves to
    another server if it was on the leader, and its watches are re-registered there."""
    from harness.ensemble import Ensemble, EnsembleError

    with Ensemble(kind, corral_bin) as ens:
        try:
            ens.start()
        except EnsembleError as e:
            raise AssertionError(f"the {kind} ensemble did not start:\n{e}") from None

        def restart() -> None:
            leader = ens.leader()
            ens.kill(leader)
            ens.start_member(leader, timeout=STEP_TIMEOUT_S)

        return drive_check(kind, classes, ens.connect_string(), restart, ens.log_tails)


def test_java_client_against_an_ensemble_with_the_leader_killed(compiled_check):
    corral_bin = os.environ.get("CORRAL_BIN")
    if not corral_bin:
        pytest.fail("CORRAL_BIN is not set (cargo xtask interop sets it)")
    expected = run_check_on_ensemble("zookeeper", compiled_check, None)
    got = run_check_on_ensemble("corral", compiled_check, corral_bin)
    assert len(expected) > 20 and expected[-1] == "DONE", expected
    if got != expected:
        import difflib
        diff = "\n".join(difflib.unified_diff(expected, got, "zookeeper", "corral", lineterm=""))
        raise AssertionError(f"the Java client saw different things on the ensembles:\n{diff}")
