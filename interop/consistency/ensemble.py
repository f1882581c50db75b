"""A small launcher for the consistency tests: N Apache ZooKeeper or Corral servers on
127.0.0.1, one directory each (zooN.cfg, data/myid, server.log), ephemeral ports.

It follows the method names of the shared `harness.ensemble.Ensemble` (branch wip/harness:
`start()`, `members`, `leader()`, `wait_leader()`, `kill(m)`, `start_member(m)`,
`connect_string()`, `close()`), so switching to it later is an import change plus the
`env` argument (the broken-server self-test starts Corral with CORRAL_TEST_FAULT set).

    with Ensemble("zookeeper").start() as ens:
        leader = ens.wait_leader()
        ens.kill(leader)            # kill -9 by pid
        ens.start_member(leader)    # same ports, same data dir

Every process is in its own process group, dies with the test process (PR_SET_PDEATHSIG),
and is killed by pid at `close()` (also from atexit). Every wait is bounded.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import netns  # noqa: F401 (type of `net`)
from harness.servers import _set_pdeathsig, four_letter, zookeeper_classpath

READY_TIMEOUT_S = 60.0
POLL_S = 0.1
STOP_GRACE_S = 5.0
SERVING_MODES = ("leader", "follower", "observer")

DEFAULT_CONFIG: dict[str, str] = {
    "tickTime": "500",
    "initLimit": "10",
    "syncLimit": "5",
    "maxClientCnxns": "0",
    "admin.enableServer": "false",
    "4lw.commands.whitelist": "*",
}

_live: list["Ensemble"] = []
atexit.register(lambda: [e.close() for e in list(_live)])


class EnsembleError(RuntimeError):
    pass


def _distinct_free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Member:
    sid: int
    client_port: int
    quorum_port: int
    election_port: int
    workdir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    host: str = "127.0.0.1"
    peer_host: str = ""  # the quorum and election ports' address, if not `host`

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def cfg(self) -> Path:
        return self.workdir / f"zoo{self.sid}.cfg"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mode(self) -> str | None:
        """srvr's Mode, or None when the server does not answer or does not serve."""
        if not self.alive():
            return None
        try:
            reply = four_letter(self.host, self.client_port, "srvr", timeout=1.0)
        except OSError:
            return None
        for line in reply.splitlines():
            if line.startswith("Mode:"):
                return line.partition(":")[2].strip()
        return None

    def describe(self) -> str:
        return f"server.{self.sid} at {self.addr}, pid {self.pid or '-'}, dir {self.workdir}"


class Ensemble:
    """`size` voters of one kind ('zookeeper' or 'corral'); `env` is added to the servers'."""

    def __init__(self, kind: str, binary: str | None = None, size: int = 3,
                 config: dict[str, str] | None = None, env: dict[str, str] | None = None,
                 net: "netns.Network | None" = None):
        if kind not in ("zookeeper", "corral"):
            raise ValueError(f"kind must be zookeeper or corral, not {kind!r}")
        if kind == "corral" and not binary:
            raise ValueError("a corral ensemble needs the corral binary")
        self.kind = kind
        self.binary = binary
        self.size = size
        self.config = {**DEFAULT_CONFIG, **(config or {})}
        self.env = {**os.environ, **(env or {})}
        self.root: Path | None = None
        self.members: list[Member] = []
        # with a Network, each member runs in its own network namespace at its own address
        # (ports fixed: nothing else listens there) and can be cut off (`isolate`)
        self.net = net

    def _layout(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"consistency-{self.kind}-"))
        if self.net is not None:
            self.members = [
                Member(i + 1, 2181, 2888, 3888, self.root / f"server{i + 1}",
                       host=self.net.address(i + 1), peer_host=self.net.peer_address(i + 1))
                for i in range(self.size)
            ]
        else:
            ports = _distinct_free_ports(3 * self.size)
            self.members = [
                Member(i + 1, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2],
                       self.root / f"server{i + 1}")
                for i in range(self.size)
            ]
        servers = "".join(
            f"server.{m.sid}={m.peer_host or m.host}:{m.quorum_port}:{m.election_port}"
            f";{m.host}:{m.client_port}\n"
            for m in self.members
        )
        for m in self.members:
            m.data_dir.mkdir(parents=True)
            (m.data_dir / "myid").write_text(f"{m.sid}\n")
            lines = {"dataDir": str(m.data_dir), "clientPort": str(m.client_port),
                     "clientPortAddress": m.host, **self.config}
            m.cfg.write_text("".join(f"{k}={v}\n" for k, v in lines.items()) + servers)

    def _command(self, m: Member) -> list[str]:
        prefix = self.net.exec_prefix(m.sid) if self.net is not None else []
        return prefix + self._server_command(m)

    def _server_command(self, m: Member) -> list[str]:
        if self.kind == "zookeeper":
            return ["java", "-Xms64m", "-XX:+UseSerialGC", "-cp", zookeeper_classpath(),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(m.cfg)]
        return [str(self.binary), "server", str(m.cfg)]

    def _spawn(self, m: Member) -> None:
        if m.alive():
            raise EnsembleError(f"server.{m.sid} is already running (pid {m.pid})")
        cmd = self._command(m)
        with open(m.log_path, "ab") as log:
            log.write(f"---- start {m.starts + 1}: {' '.join(cmd)}\n".encode())
            log.flush()
            m.proc = subprocess.Popen(cmd, cwd=m.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, env=self.env,
                                      start_new_session=True, preexec_fn=_set_pdeathsig)
        m.starts += 1

    def start(self) -> "Ensemble":
        self._layout()
        _live.append(self)
        for m in self.members:
            self._spawn(m)
        self.wait_serving()
        return self

    def wait_serving(self, members: list[Member] | None = None,
                     timeout: float = READY_TIMEOUT_S) -> None:
        """Until each of `members` (default: all) says leader/follower in srvr."""
        members = self.members if members is None else members
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [m for m in members if not m.alive()]
            if dead:
                raise EnsembleError(f"exited: {[m.describe() for m in dead]}\n{self.log_tails()}")
            if all(m.mode() in SERVING_MODES for m in members):
                return
            time.sleep(POLL_S)
        raise EnsembleError(f"not serving after {timeout:.0f}s: "
                            f"{ {m.sid: m.mode() for m in members} }\n{self.log_tails()}")

    def leader(self) -> Member | None:
        for m in self.members:
            if m.mode() == "leader":
                return m
        return None

    def wait_leader(self, timeout: float = READY_TIMEOUT_S) -> Member:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.leader()
            if m is not None:
                return m
            time.sleep(POLL_S)
        raise EnsembleError(f"no leader after {timeout:.0f}s\n{self.log_tails()}")

    def connect_string(self, members: list[Member] | None = None) -> str:
        return ",".join(m.addr for m in (self.members if members is None else members))

    def kill(self, m: Member) -> None:
        """kill -9 the member's process group, and reap it."""
        if m.proc is None:
            return
        try:
            os.killpg(m.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            m.proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        m.proc = None

    def start_member(self, m: Member, timeout: float = READY_TIMEOUT_S) -> None:
        self._spawn(m)
        self.wait_serving([m], timeout)

    def isolate(self, m: Member) -> None:
        """Cut every link of `m` (peers and clients); needs a Network."""
        assert self.net is not None, "isolate needs an ensemble in network namespaces"
        self.net.cut(m.sid)

    def isolate_peers(self, m: Member) -> None:
        """Cut `m` off its peers only; its clients still reach it. Needs a Network."""
        assert self.net is not None, "isolate_peers needs an ensemble in network namespaces"
        self.net.cut_peers(m.sid)

    def heal(self) -> None:
        if self.net is not None:
            self.net.heal_all()

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for m in self.members:
            text = (m.log_path.read_text(errors="replace").splitlines()
                    if m.log_path.exists() else [])
            out.append(f"  server.{m.sid} ({m.log_path}):")
            out.extend(f"    | {line}" for line in text[-lines:])
        return "\n".join(out)

    def close(self, keep: bool = False) -> None:
        """Kill every member by pid; remove the dirs unless `keep` or CORRAL_INTEROP_KEEP=1."""
        for m in self.members:
            self.kill(m)
        if self.net is not None:
            self.net.heal_all()
        if self in _live:
            _live.remove(self)
        if self.root is not None and not keep and os.environ.get("CORRAL_INTEROP_KEEP") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Ensemble":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
