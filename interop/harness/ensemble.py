"""Start, kill and restart a replicated ensemble: N Apache ZooKeeper or Corral servers on
127.0.0.1, as ZooKeeper's own pseudo-cluster (one machine, one data dir per server).

    with Ensemble("zookeeper").start() as ens:          # 3 voters; observers=1 adds one
        kz = KazooClient(hosts=ens.connect_string)
        leader = ens.leader()                           # the member whose srvr says leader
        ens.kill(leader)                                # kill -9 by pid
        ens.wait_leader(timeout=30)                     # a new one among the others
        ens.start_member(leader)                        # same ports, same data dir

Each member gets three ephemeral ports (client, quorum, election), a data dir with its
`myid`, and its own `zooN.cfg` with `server.N=127.0.0.1:quorumPort:electionPort[:observer]
;127.0.0.1:clientPort` lines for every member, as ZooKeeper's documentation writes them.
ZooKeeper runs as `java ... QuorumPeerMain zooN.cfg`, Corral as `corral server zooN.cfg`
(`binary`; CORRAL_ORACLE_ONLY's stand-in takes the same command line). Every process is in
its own process group, dies with the test process (PR_SET_PDEATHSIG), and is killed by pid
at `close()` (also a finalizer: `atexit`, and the context manager), whatever happened.

Ports: all 3N are bound at once (so they are distinct), released, then used. Another
process can take one in between: a start whose members exit before serving is retried on
new ports (START_ATTEMPTS); two parallel runs get different ports from the kernel.
Every wait here is bounded in time.

With a `consistency.netns.Network` (`net`), each member runs in its own network namespace at
its own address, on ZooKeeper's default ports, and can be cut off from its peers or from
everyone (`isolate_peers`, `isolate`, `heal`): the consistency runs' partitions.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .servers import (
    FREE_PORT,
    four_letter,
    spawn_server,
    stop_process_group,
    zookeeper_classpath,
)

READY_TIMEOUT_S = 60.0
POLL_S = 0.1
START_ATTEMPTS = 3
STOP_GRACE_S = 10.0
SERVING_MODES = ("leader", "follower", "observer")

# Short ticks, as ZooKeeper's pseudo-cluster tests use: elections and syncs take ticks.
DEFAULT_CONFIG: dict[str, str] = {
    "tickTime": "500",
    "initLimit": "10",
    "syncLimit": "5",
    "maxClientCnxns": "0",
    "admin.enableServer": "false",
    "4lw.commands.whitelist": "*",
}

_live: list["Ensemble"] = []


def _close_all_at_exit() -> None:
    for ens in list(_live):
        ens.close()


atexit.register(_close_all_at_exit)


class EnsembleError(RuntimeError):
    pass


def _distinct_free_ports(n: int) -> list[int]:
    """n distinct ports the kernel handed out as free on 127.0.0.1 (all held, then released)."""
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


def parse_srvr(text: str) -> dict[str, str]:
    """`Key: value` lines of srvr/stat (the `Clients:` block of stat is skipped)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith(" ") or line.startswith("\t"):
            continue
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_mntr(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            out[key] = value
    return out


@dataclass
class Member:
    """One server of the ensemble (sid is its myid)."""

    sid: int
    observer: bool
    client_port: int
    quorum_port: int
    election_port: int
    workdir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    exits: list[str] = field(default_factory=list)
    # config keys whose value was FREE_PORT: the port this member got for each
    ports: dict[str, int] = field(default_factory=dict)
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

    def server_line(self) -> str:
        role = ":observer" if self.observer else ""
        return (
            f"server.{self.sid}={self.peer_host or self.host}:{self.quorum_port}:"
            f"{self.election_port}{role}"
            f";{self.host}:{self.client_port}"
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def word(self, word: str, timeout: float = 2.0) -> str:
        """A four-letter word's reply; '' if the server does not answer."""
        try:
            return four_letter(self.host, self.client_port, word, timeout=timeout)
        except OSError:
            return ""

    def mode(self) -> str | None:
        """srvr's Mode (leader, follower, observer, standalone) or None if not serving."""
        if not self.alive():
            return None
        return parse_srvr(self.word("srvr", timeout=1.0)).get("Mode")

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "    (no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"    | {line}" for line in text[-lines:])

    def describe(self) -> str:
        role = "observer" if self.observer else "voter"
        return f"server.{self.sid} ({role}) at {self.addr}, pid {self.pid or '-'}, dir {self.workdir}"


class Ensemble:
    """`voters` participants and `observers` observers of one kind ('zookeeper' or 'corral')."""

    def __init__(self, kind: str, binary: str | None = None, voters: int = 3,
                 observers: int = 0, config: dict[str, str] | None = None,
                 ready_timeout: float = READY_TIMEOUT_S, env: dict[str, str] | None = None,
                 net=None):
        if kind not in ("zookeeper", "corral"):
            raise ValueError(f"kind must be zookeeper or corral, not {kind!r}")
        if kind == "corral" and not binary:
            raise ValueError("a corral ensemble needs the corral binary")
        self.kind = kind
        self.binary = binary
        self.voters = voters
        self.observers = observers
        self.config = dict(DEFAULT_CONFIG)
        self.config.update(config or {})
        self.ready_timeout = ready_timeout
        # added to the servers' environment (the broken-server self-test's CORRAL_TEST_FAULT)
        self.env = {**os.environ, **env} if env else None
        # a consistency.netns.Network: each member in its own namespace (see the module docs)
        self.net = net
        self.root: Path | None = None
        self.members: list[Member] = []

    # --- layout -----------------------------------------------------------------------

    def _layout(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"interop-ensemble-{self.kind}-"))
        n = self.voters + self.observers
        extra_keys = [k for k, v in self.config.items() if v == FREE_PORT]
        ports = _distinct_free_ports((3 + len(extra_keys)) * n)
        extra_ports = iter(ports[3 * n:])
        self.members = []
        for i in range(n):
            sid = i + 1
            member = Member(
                sid=sid,
                observer=i >= self.voters,
                client_port=ports[3 * i],
                quorum_port=ports[3 * i + 1],
                election_port=ports[3 * i + 2],
                workdir=self.root / f"server{sid}",
            )
            if self.net is not None:
                # its own address: nothing else listens there, ZooKeeper's default ports
                member.client_port, member.quorum_port, member.election_port = 2181, 2888, 3888
                member.host = self.net.address(sid)
                member.peer_host = self.net.peer_address(sid)
            member.data_dir.mkdir(parents=True)
            (member.data_dir / "myid").write_text(f"{sid}\n")
            self.members.append(member)
        servers = [m.server_line() for m in self.members]
        for m in self.members:
            lines = {
                "dataDir": str(m.data_dir),
                "clientPort": str(m.client_port),
                "clientPortAddress": m.host,
                **self.config,
            }
            for key in extra_keys:
                m.ports[key] = next(extra_ports)
                lines[key] = str(m.ports[key])
            if m.observer:
                lines["peerType"] = "observer"
            text = "".join(f"{k}={v}\n" for k, v in lines.items()) + "\n".join(servers) + "\n"
            m.cfg.write_text(text)

    def _command(self, m: Member) -> list[str]:
        prefix = self.net.exec_prefix(m.sid) if self.net is not None else []
        return prefix + self._server_command(m)

    def _server_command(self, m: Member) -> list[str]:
        if self.kind == "zookeeper":
            return [
                "java", "-Xms64m", "-XX:+UseSerialGC", "-cp", zookeeper_classpath(),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(m.cfg),
            ]
        return [str(self.binary), "server", str(m.cfg)]

    # --- processes --------------------------------------------------------------------

    def _spawn(self, m: Member) -> None:
        if m.alive():
            raise EnsembleError(f"server.{m.sid} is already running (pid {m.pid})")
        with open(m.log_path, "ab") as log:
            log.write(f"---- start {m.starts + 1}: {' '.join(self._command(m))}\n".encode())
            log.flush()
            m.proc = spawn_server(self._command(m), m.workdir, log, env=self.env)
        m.starts += 1

    def start(self) -> "Ensemble":
        """Start every member and wait (bounded) until each serves in a quorum."""
        if self not in _live:
            _live.append(self)
        problems = []
        for attempt in range(START_ATTEMPTS):
            self._layout()
            for m in reversed(self.members):
                self._spawn(m)
            try:
                self.wait_serving(timeout=self.ready_timeout)
                return self
            except EnsembleError as e:
                exited = [m for m in self.members if not m.alive()]
                problems.append(f"attempt {attempt + 1}: {e}")
                self._stop_members()
                if not exited:
                    break  # all running but no quorum: new ports would not help
                self._remove_root()
        self.close()
        raise EnsembleError(
            f"the {self.kind} ensemble did not start:\n" + "\n".join(problems)
        )

    def wait_serving(self, members: list[Member] | None = None,
                     timeout: float = READY_TIMEOUT_S) -> dict[int, str]:
        """Wait until each member's srvr says leader/follower/observer; returns sid -> mode."""
        members = self.members if members is None else members
        deadline = time.monotonic() + timeout
        modes: dict[int, str | None] = {}
        while True:
            for m in members:
                if not m.alive():
                    code = m.proc.returncode if m.proc is not None else "never started"
                    raise EnsembleError(
                        f"server.{m.sid} is not running (exit status {code}):\n{m.log_tail()}"
                    )
                modes[m.sid] = m.mode()
            if all(modes[m.sid] in SERVING_MODES for m in members):
                return {sid: str(mode) for sid, mode in modes.items()}
            standalone = [m for m in members if modes[m.sid] == "standalone"]
            if standalone:
                # Not an ensemble member at all: no point waiting for a quorum.
                raise EnsembleError(
                    f"server.{standalone[0].sid} serves as Mode: standalone (modes {modes}); "
                    f"it ignored the server.N lines of {standalone[0].cfg}"
                )
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        lines = [f"not all serving after {timeout:.0f}s: modes {modes}"]
        for m in members:
            lines.append(f"{m.describe()}:\n{m.log_tail(15)}")
        raise EnsembleError("\n".join(lines))

    def modes(self) -> dict[int, str | None]:
        return {m.sid: m.mode() for m in self.members}

    def leader(self) -> Member:
        """The one running member whose srvr says Mode: leader (now; see wait_leader)."""
        leader = self.leader_or_none()
        if leader is None:
            raise EnsembleError(f"expected one leader, modes are {self.modes()}")
        return leader

    def wait_leader(self, timeout: float = READY_TIMEOUT_S) -> Member:
        """Bounded: until exactly one running member says leader and every running member
        serves (a quorum is established)."""
        deadline = time.monotonic() + timeout
        while True:
            running = [m for m in self.members if m.alive()]
            modes = {m.sid: m.mode() for m in running}
            leaders = [m for m in running if modes[m.sid] == "leader"]
            if len(leaders) == 1 and all(v in SERVING_MODES for v in modes.values()):
                return leaders[0]
            if time.monotonic() >= deadline:
                raise EnsembleError(f"no leader after {timeout:.0f}s: modes {modes}")
            time.sleep(POLL_S)

    def leader_or_none(self) -> Member | None:
        """The member that says Mode: leader now, or None (none, or more than one)."""
        leaders = [m for m in self.members if m.mode() == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def followers(self) -> list[Member]:
        return [m for m in self.members if m.mode() == "follower"]

    def member(self, sid: int) -> Member:
        for m in self.members:
            if m.sid == sid:
                return m
        raise KeyError(sid)

    def connect_string(self, members: list[Member] | None = None) -> str:
        return ",".join(m.addr for m in (self.members if members is None else members))

    def kill(self, m: Member) -> None:
        """kill -9 this member's process (by pid) and reap it."""
        if m.proc is None:
            return
        try:
            os.kill(m.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        m.proc.wait(timeout=STOP_GRACE_S)
        self._reap(m, "killed with SIGKILL")

    def stop(self, m: Member) -> None:
        """A clean stop: SIGTERM, then SIGKILL after STOP_GRACE_S."""
        if m.proc is None:
            return
        stop_process_group(m.proc, STOP_GRACE_S)
        self._reap(m, "stopped")

    def _reap(self, m: Member, how: str) -> None:
        assert m.proc is not None
        # the rest of its process group, if any, goes too
        try:
            os.killpg(m.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        m.exits.append(f"pid {m.proc.pid} {how}, status {m.proc.returncode}")
        m.proc = None

    def start_member(self, m: Member, timeout: float = READY_TIMEOUT_S) -> str:
        """Start a stopped member again (same cfg, ports and data) and wait until it serves."""
        self._spawn(m)
        return self.wait_serving([m], timeout=timeout)[m.sid]

    def restart(self, m: Member, timeout: float = READY_TIMEOUT_S) -> str:
        self.stop(m)
        return self.start_member(m, timeout=timeout)

    def describe(self) -> str:
        return "\n".join(m.describe() for m in self.members)

    # --- partitions (with a Network) --------------------------------------------------

    def isolate(self, m: Member) -> None:
        """Cut every link of `m` (peers and clients)."""
        assert self.net is not None, "isolate needs an ensemble in network namespaces"
        self.net.cut(m.sid)

    def isolate_peers(self, m: Member) -> None:
        """Cut `m` off its peers only; its clients still reach it."""
        assert self.net is not None, "isolate_peers needs an ensemble in network namespaces"
        self.net.cut_peers(m.sid)

    def heal(self) -> None:
        if self.net is not None:
            self.net.heal_all()

    def log_tails(self, lines: int = 20) -> str:
        return "\n".join(f"{m.describe()}:\n{m.log_tail(lines)}" for m in self.members)

    # --- clean-up ---------------------------------------------------------------------

    def _stop_members(self) -> None:
        for m in self.members:
            if m.proc is not None:
                try:
                    os.killpg(m.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    m.proc.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass
                m.proc = None

    def _remove_root(self) -> None:
        if self.root is not None and os.environ.get("CORRAL_INTEROP_KEEP") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    def close(self, keep: bool = False) -> None:
        """Kill every member by pid and remove the data (unless `keep`, or
        CORRAL_INTEROP_KEEP=1); heal any partition."""
        self._stop_members()
        self.heal()
        if not keep:
            self._remove_root()
        if self in _live:
            _live.remove(self)

    def __enter__(self) -> "Ensemble":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# The message of every skip for a corral binary without ensembles (test_ensemble.py,
# kazoo_suite/run.py --cluster).
ENSEMBLE_UNAVAILABLE = "corral ensemble mode not available in this build"
PROBE_TIMEOUT_S = 30.0
_probed: dict[str, str | None] = {}


def corral_ensemble_problem(binary: str) -> str | None:
    """Whether this corral binary runs ensembles: starts a 3-server Corral ensemble once per
    binary (bounded by PROBE_TIMEOUT_S) and checks that srvr says leader/follower on all
    three. None if so, else what was seen (a member that serves standalone, exits, or never
    joins a quorum)."""
    key = str(Path(binary).resolve())
    if key not in _probed:
        ens = Ensemble("corral", binary, ready_timeout=PROBE_TIMEOUT_S)
        try:
            ens.start()
            modes = ens.modes()
            if sorted(modes.values()) != ["follower", "follower", "leader"]:
                _probed[key] = f"modes after start: {modes}"
            else:
                _probed[key] = None
        except EnsembleError as e:
            # without start()'s header and attempt number: what the members did
            detail = str(e).split("\n", 1)[-1]
            _probed[key] = re.sub(r"^attempt \d+: ", "", detail)
        finally:
            ens.close()
    return _probed[key]
