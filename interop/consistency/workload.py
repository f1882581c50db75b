"""The workload: client threads doing writes, compare-and-sets and synced reads on a few
registers (znodes), each recording its operations in a shared history (history.Op).

Clients: `pinned` ones connect to one server only (each server has some), `roaming` ones to
all. `probe` pairs write through one server and, as soon as the write is acknowledged, do a
synced read through another: with a pair for every ordered pair of servers, some always
write through the leader and read on a follower right after, which is where a `sync` that
does not reach the leader returns stale data.

Every call is bounded (OP_TIMEOUT_S); a write whose answer does not come back (connection
loss, session expiry, timeout) is recorded `unknown`; a read that fails is recorded `unknown`
too (the checker ignores it). No retries: a retried write would be a second operation.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError

from .history import CAS, FAIL, OK, READ, UNKNOWN, WRITE, Op

OP_TIMEOUT_S = 5.0
SESSION_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 30.0
ROOT = "/consistency"
# reconnect quickly to a restarted server (kazoo's default backs off up to a minute)
CONNECTION_RETRY = {"max_tries": -1, "delay": 0.05, "backoff": 1.5, "max_delay": 0.5}


def register_paths(n: int) -> list[str]:
    return [f"{ROOT}/r{i}" for i in range(n)]


def new_client(hosts: str) -> KazooClient:
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S,
                         connection_retry=dict(CONNECTION_RETRY))
    client.start(timeout=CONNECT_TIMEOUT_S)
    return client


def stop_client(client: KazooClient) -> None:
    try:
        client.stop()
        client.close()
    except Exception:  # noqa: BLE001 - a client of a dead server may fail to stop cleanly
        pass


class Recorder:
    """The shared history; each op is appended when invoked and filled in on completion."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._lock = threading.Lock()
        self._serial = 0

    def unique(self, process: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{process}-{self._serial}"

    def invoke(self, op: Op) -> Op:
        with self._lock:
            self.ops.append(op)
        return op


def _finish(op: Op, outcome: str) -> Op:
    op.complete_ns = time.monotonic_ns()
    op.outcome = outcome
    return op


def do_write(rec: Recorder, client: KazooClient, process: str, server: str, path: str) -> Op:
    value = rec.unique(process)
    op = rec.invoke(Op(process, path, WRITE, time.monotonic_ns(), value=value, server=server))
    try:
        stat = client.set_async(path, value.encode()).get(timeout=OP_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - any failure may or may not have taken effect
        op.outcome = UNKNOWN
        return op
    op.result_version, op.result_mzxid = stat.version, stat.mzxid
    return _finish(op, OK)


def do_cas(rec: Recorder, client: KazooClient, process: str, server: str, path: str) -> Op | None:
    """getData (local, not recorded) for the version, then setData with that version."""
    try:
        _, stat = client.get_async(path).get(timeout=OP_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - nothing was invoked yet
        return None
    value = rec.unique(process)
    op = rec.invoke(Op(process, path, CAS, time.monotonic_ns(), value=value,
                       expect_version=stat.version, server=server))
    try:
        new = client.set_async(path, value.encode(), version=stat.version).get(timeout=OP_TIMEOUT_S)
    except BadVersionError:
        return _finish(op, FAIL)
    except Exception:  # noqa: BLE001
        op.outcome = UNKNOWN
        return op
    op.result_version, op.result_mzxid = new.version, new.mzxid
    return _finish(op, OK)


def do_read(rec: Recorder, client: KazooClient, process: str, server: str, path: str,
            final: bool = False) -> Op:
    """sync then getData; the op spans both."""
    op = rec.invoke(Op(process, path, READ, time.monotonic_ns(), server=server, final=final))
    try:
        client.sync_async(path).get(timeout=OP_TIMEOUT_S)
        data, stat = client.get_async(path).get(timeout=OP_TIMEOUT_S)
    except Exception:  # noqa: BLE001
        op.outcome = UNKNOWN
        return op
    op.result_value = data.decode()
    op.result_version, op.result_mzxid = stat.version, stat.mzxid
    return _finish(op, OK)


@dataclass
class Workload:
    """Clients over `servers` (client addresses) on `registers` znodes until `stop` is set."""

    servers: list[str]
    registers: list[str]
    pinned_per_server: int = 2
    roaming: int = 2
    seed: int = 0
    rec: Recorder = field(default_factory=Recorder)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _clients: list[KazooClient] = field(default_factory=list)

    def setup(self) -> None:
        client = new_client(",".join(self.servers))
        try:
            client.ensure_path(ROOT)
            for path in self.registers:
                client.create(path, b"0")
        finally:
            stop_client(client)

    def _client(self, hosts: str) -> KazooClient:
        client = new_client(hosts)
        self._clients.append(client)
        return client

    def start(self) -> None:
        rng = random.Random(self.seed)
        everyone = ",".join(self.servers)
        plans: list[tuple[str, object]] = []
        for s, addr in enumerate(self.servers):
            for k in range(self.pinned_per_server):
                plans.append((f"p{s + 1}.{k}", (self._client(addr), addr)))
        for k in range(self.roaming):
            plans.append((f"all.{k}", (self._client(everyone), "all")))
        for i, wa in enumerate(self.servers):
            for j, ra in enumerate(self.servers):
                if i != j:
                    plans.append((f"probe{i + 1}{j + 1}",
                                  ((self._client(wa), wa), (self._client(ra), ra))))
        for name, plan in plans:
            target = self._probe if name.startswith("probe") else self._mixed
            t = threading.Thread(target=self._guard, name=name,
                                 args=(target, name, plan, rng.randrange(1 << 30)), daemon=True)
            self._threads.append(t)
        for t in self._threads:
            t.start()

    def _guard(self, target, name, plan, seed) -> None:
        try:
            target(name, plan, random.Random(seed))
        except Exception as e:  # noqa: BLE001 - reported by the test, never swallowed
            self.errors.append(f"{name}: {e!r}")

    def _mixed(self, name: str, plan, rng: random.Random) -> None:
        client, server = plan
        while not self.stop.is_set():
            path = rng.choice(self.registers)
            roll = rng.random()
            if roll < 0.35:
                do_write(self.rec, client, name, server, path)
            elif roll < 0.6:
                do_cas(self.rec, client, name, server, path)
            else:
                do_read(self.rec, client, name, server, path)

    def _probe(self, name: str, plan, rng: random.Random) -> None:
        (writer, wserver), (reader, rserver) = plan
        while not self.stop.is_set():
            path = rng.choice(self.registers)
            if do_write(self.rec, writer, name + "w", wserver, path).outcome == OK:
                do_read(self.rec, reader, name + "r", rserver, path)

    def finish(self, join_timeout: float = OP_TIMEOUT_S * 3) -> None:
        """Stop the clients' threads (each returns within its current op's bound)."""
        self.stop.set()
        for t in self._threads:
            t.join(timeout=join_timeout)
            if t.is_alive():
                self.errors.append(f"{t.name}: still running {join_timeout:.0f}s after stop")
        for c in self._clients:
            stop_client(c)

    def final_reads(self) -> None:
        """A synced read of every register through every server, after everything else."""
        for s, addr in enumerate(self.servers):
            client = new_client(addr)
            try:
                for path in self.registers:
                    op = do_read(self.rec, client, f"final{s + 1}", addr, path, final=True)
                    if op.outcome != OK:
                        self.errors.append(f"final read of {path} on {addr} failed")
            finally:
                stop_client(client)
