"""Ensemble config errors (issue 15): a bad `server.N` line, myid, initLimit... stops the server.

Each case writes the same zoo.cfg for Apache ZooKeeper 3.8 (the oracle) and for Corral, with
its own free ports and dataDir each: a 3-server pseudo-cluster on 127.0.0.1 with one thing
wrong. Both must refuse to start: exit non-zero (bounded wait) without ever answering on the
client port. Corral's message must name the key and the zoo.cfg line (line 0 and the myid
file's path for myid errors). The good config the cases derive from is checked too: ZooKeeper
starts on it and Corral does not call it a config error.

Three cases are where Corral is stricter than ZooKeeper 3.8.0 (documented in
crates/server/src/config/ensemble.rs): a duplicate server id, two servers on one address:port,
and this server's host not resolving. ZooKeeper starts on them and answers on its client port
(it keeps the last line; the clash and the bad host show only at run time); the test checks
both sides of that difference.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from harness.scenario import env_flag
from harness.servers import _set_pdeathsig, four_letter, free_port, zookeeper_command

EXIT_TIMEOUT_S = 30.0
POLL_S = 0.1


@dataclass
class Ports:
    client: int = field(default_factory=free_port)
    quorum: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    election: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])

    def server(self, n: int, suffix: str = "") -> str:
        return f"server.{n}=127.0.0.1:{self.quorum[n - 1]}:{self.election[n - 1]}{suffix}"


def good_lines(p: Ports) -> list[str]:
    return ["initLimit=10", "syncLimit=5", p.server(1), p.server(2), p.server(3)]


def replace(lines: list[str], key: str, new: str | None) -> list[str]:
    """`lines` with the line of `key` replaced by `new` (removed if None)."""
    out = []
    for line in lines:
        if line.split("=", 1)[0] == key:
            if new is not None:
                out.append(new)
        else:
            out.append(line)
    return out


@dataclass
class Case:
    name: str
    lines: Callable[[Ports], list[str]]
    key: str  # the key Corral's error names
    message: str  # a fragment of Corral's message
    myid: str | None = "1\n"  # None: no myid file


CASES = [
    Case(
        "missing election port",
        lambda p: replace(good_lines(p), "server.2", f"server.2=127.0.0.1:{p.quorum[1]}"),
        "server.2",
        "expected host:quorumPort:electionPort",
    ),
    Case(
        "bad port",
        lambda p: replace(good_lines(p), "server.2", f"server.2=127.0.0.1:{p.quorum[1]}:x"),
        "server.2",
        'bad election port "x"',
    ),
    Case(
        "bad server type",
        lambda p: replace(good_lines(p), "server.3", p.server(3, ":leader")),
        "server.3",
        'unknown server type "leader"',
    ),
    Case(
        "quorum port equals election port",
        lambda p: replace(
            good_lines(p), "server.1", f"server.1=127.0.0.1:{p.quorum[0]}:{p.quorum[0]}"
        ),
        "server.1",
        "must differ",
    ),
    Case(
        "IPv6 host without closing bracket",
        lambda p: replace(
            good_lines(p), "server.2", f"server.2=[::1:{p.quorum[1]}:{p.election[1]}"
        ),
        "server.2",
        "no matching ']'",
    ),
    Case("myid missing", good_lines, "myid", "is missing", myid=None),
    Case("myid not a number", good_lines, "myid", '"one" is not a number', myid="one\n"),
    Case("myid not in the server list", good_lines, "myid", "not in the server list", myid="4\n"),
    Case(
        "initLimit missing",
        lambda p: replace(good_lines(p), "initLimit", None),
        "initLimit",
        "initLimit is not set",
    ),
    Case(
        "observers without participants",
        lambda p: [
            "initLimit=10",
            "syncLimit=5",
            *(p.server(n, ":observer") for n in (1, 2, 3)),
        ],
        "server.1",
        "observers need a quorum",
    ),
    Case(
        "client part differs from clientPort",
        lambda p: replace(good_lines(p), "server.1", p.server(1, f";127.0.0.1:{free_port()}")),
        "server.1",
        "differs from clientPortAddress/clientPort",
    ),
    Case(
        "peerType is neither observer nor participant",
        lambda p: good_lines(p) + ["peerType=leader"],
        "peerType",
        "expected observer or participant",
    ),
]

# Refused by Corral, started by ZooKeeper 3.8.0 (it serves srvr; with its own host
# unresolvable it exits later, when its election listener cannot bind).
STRICTER = [
    Case(
        "my host does not resolve",
        lambda p: replace(
            good_lines(p),
            "server.1",
            f"server.1=no-such-host.invalid:{p.quorum[0]}:{p.election[0]}",
        ),
        "server.1",
        'cannot resolve host "no-such-host.invalid"',
    ),
    Case(
        "duplicate server id",
        lambda p: good_lines(p)
        + [f"server.2=127.0.0.1:{free_port()}:{free_port()}"],
        "server.2",
        "already defined at line",
    ),
    Case(
        "two servers on one quorum address",
        lambda p: replace(
            good_lines(p), "server.3", f"server.3=127.0.0.1:{p.quorum[1]}:{p.election[2]}"
        ),
        "server.3",
        "is also server 2's quorum address",
    ),
]


class Run:
    """One server process on one config, until it exits or answers on its client port."""

    def __init__(self, kind: str, command_for: Callable[[Path], list[str]], case: Case):
        self.kind = kind
        self.dir = Path(tempfile.mkdtemp(prefix=f"interop-cfg-{kind}-"))
        data = self.dir / "data"
        data.mkdir()
        if case.myid is not None:
            (data / "myid").write_text(case.myid)
        self.ports = Ports()
        body = case.lines(self.ports)
        self.lines = [
            "tickTime=500",
            f"dataDir={data}",
            f"clientPort={self.ports.client}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            *body,
        ]
        cfg = self.dir / "zoo.cfg"
        cfg.write_text("".join(f"{line}\n" for line in self.lines))
        self.myid_path = data / "myid"
        self.log_path = self.dir / "server.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                command_for(cfg),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_set_pdeathsig,
            )
        self.answered = False

    def line_of(self, key: str) -> int:
        """The 1-based zoo.cfg line of the last `key=` line (0 if none: a file-wide error)."""
        found = [i + 1 for i, line in enumerate(self.lines) if line.split("=", 1)[0] == key]
        return found[-1] if found else 0

    def poll(self) -> bool:
        """One step: whether the process has exited or answered on its client port."""
        if self.proc.poll() is not None:
            return True
        try:
            four_letter("127.0.0.1", self.ports.client, "srvr", timeout=0.5)
            self.answered = True
            return True
        except OSError:
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        cfg = "".join(f"    {i + 1}: {line}\n" for i, line in enumerate(self.lines))
        tail = "\n".join(f"    | {line}" for line in self.output().splitlines()[-15:])
        return f"{self.kind} (status {self.proc.returncode}), zoo.cfg:\n{cfg}output:\n{tail}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        if os.environ.get("CORRAL_INTEROP_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def run_both(interop_servers, case: Case) -> tuple[Run, Run]:
    """Starts ZooKeeper and Corral on `case` and waits (bounded) until each has exited or
    answered on its client port. Both are stopped by the caller."""
    corral_bin = interop_servers.corral_bin
    if corral_bin is None:
        pytest.fail(interop_servers.corral_problem, pytrace=False)
    runs = (
        Run("zookeeper", zookeeper_command, case),
        Run("corral", lambda cfg: [corral_bin, "server", str(cfg)], case),
    )
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    pending = list(runs)
    while pending and time.monotonic() < deadline:
        pending = [r for r in pending if not r.poll()]
        if pending:
            time.sleep(POLL_S)
    return runs


def assert_refused(run: Run) -> None:
    assert run.proc.returncode is not None, f"still running after {EXIT_TIMEOUT_S:.0f}s: {run.describe()}"
    assert run.proc.returncode != 0, f"exited 0: {run.describe()}"
    assert not run.answered, f"answered on its client port: {run.describe()}"


def assert_names_key_and_line(run: Run, case: Case) -> None:
    if env_flag("CORRAL_ORACLE_ONLY"):
        return  # the stand-in is ZooKeeper: its messages are its own
    out = run.output()
    line = run.line_of(case.key)
    assert f"config error at line {line}, key {case.key}:" in out, run.describe()
    assert case.message in out, run.describe()
    if case.key == "myid":
        assert str(run.myid_path) in out, run.describe()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_both_refuse_to_start(interop_servers, case: Case):
    zookeeper, corral = run_both(interop_servers, case)
    try:
        assert_refused(zookeeper)
        assert_refused(corral)
        assert_names_key_and_line(corral, case)
    finally:
        zookeeper.stop()
        corral.stop()


@pytest.mark.parametrize("case", STRICTER, ids=[c.name for c in STRICTER])
def test_corral_is_stricter(interop_servers, case: Case):
    if env_flag("CORRAL_ORACLE_ONLY"):
        pytest.skip("a difference from ZooKeeper: needs the corral binary")
    zookeeper, corral = run_both(interop_servers, case)
    try:
        assert zookeeper.answered, f"ZooKeeper 3.8.0 was expected to start: {zookeeper.describe()}"
        assert_refused(corral)
        assert_names_key_and_line(corral, case)
    finally:
        zookeeper.stop()
        corral.stop()


def test_the_good_config_is_accepted(interop_servers):
    """The config every case breaks: both servers start on it and answer srvr (not serving
    until a quorum forms: this member is alone)."""
    case = Case("good", good_lines, "", "")
    zookeeper, corral = run_both(interop_servers, case)
    try:
        assert zookeeper.answered, zookeeper.describe()
        assert corral.answered, corral.describe()
        assert "config error" not in corral.output(), corral.describe()
    finally:
        zookeeper.stop()
        corral.stop()
