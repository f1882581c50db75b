"""Crash test: an acknowledged write survives `kill -9` (issue 4).

Kazoo writers hammer the `corral` binary; at a random moment the server is killed with
SIGKILL, restarted on the same dataDir, and every write any client saw acknowledged must be
there with its data and version. A small snapCount makes snapshots, segment rolls and log
replay happen within the run. Corral only: Apache ZooKeeper is not the subject here.

CORRAL_CRASH_CYCLES (default 20) sets the number of kill/restart cycles,
CORRAL_CRASH_SEED replays a run (the seed is printed on failure).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

from harness.servers import _set_pdeathsig, four_letter, free_port

WRITERS = 3
READY_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 4.0
# kazoo can leave a request unanswered forever once its connection thread gives up (retries
# off), so every wait is bounded; a write whose reply never came is simply not acknowledged.
REPLY_TIMEOUT_S = 10.0


class CorralProcess:
    """The corral binary on one dataDir, restartable, killed by pid."""

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.cfg = workdir / "zoo.cfg"
        self.cfg.write_text(
            f"tickTime=500\ndataDir={workdir / 'data'}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n"
            "snapCount=50\npreAllocSize=64\nadmin.enableServer=false\n"
        )
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "server.log"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "server", str(self.cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_set_pdeathsig,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"corral exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if "Mode:" in four_letter("127.0.0.1", self.port, "srvr", timeout=1.0):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"corral not ready after {READY_TIMEOUT_S}s:\n{self.tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self, n: int = 30) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


class Writer(threading.Thread):
    """One session doing one write at a time: creates of new nodes and sets of its counter
    node. Records what was acknowledged, and the one write that may be in flight at the kill."""

    def __init__(self, addr: str, name: str, cycle: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.addr, self.name, self.cycle, self.stop_flag = addr, name, cycle, stop
        self.acked_creates: dict[str, bytes] = {}
        self.maybe_create: str | None = None
        self.counter = f"/crash/{name}-counter"
        self.counter_version: int | None = None  # version acknowledged last
        self.counter_maybe_next = False
        self.error: str | None = None

    def run(self) -> None:
        client = KazooClient(
            hosts=self.addr,
            timeout=CLIENT_TIMEOUT_S,
            connection_retry=KazooRetry(max_tries=0),
            command_retry=KazooRetry(max_tries=0),
        )
        try:
            client.start(timeout=10)
            if client.exists(self.counter) is None:
                client.create(self.counter, b"0", makepath=True)
                self.counter_version = 0
            else:
                self.counter_version = client.get(self.counter)[1].version
            i = 0
            while not self.stop_flag.is_set():
                path = f"/crash/{self.name}-c{self.cycle}-{i}"
                data = f"{path}:{i}".encode()
                self.maybe_create = path
                client.create_async(path, data).get(timeout=REPLY_TIMEOUT_S)
                self.acked_creates[path] = data
                self.maybe_create = None
                self.counter_maybe_next = True
                value = str(self.counter_version + 1).encode()
                stat = client.set_async(self.counter, value).get(timeout=REPLY_TIMEOUT_S)
                self.counter_version = stat.version
                self.counter_maybe_next = False
                i += 1
        except (KazooException, KazooTimeoutError):
            pass  # the server died under us: what was acknowledged is recorded
        except Exception as e:  # noqa: BLE001 - report anything unexpected
            self.error = f"{type(e).__name__}: {e}"
        finally:
            try:
                client.stop()
                client.close()
            except Exception:  # noqa: BLE001
                pass


def verify(addr: str, writers: list[Writer], seed: int) -> int:
    client = KazooClient(hosts=addr, timeout=10)
    client.start(timeout=10)
    checked = 0
    try:
        for w in writers:
            for path, data in w.acked_creates.items():
                try:
                    value, stat = client.get(path)
                except NoNodeError:
                    raise AssertionError(f"seed {seed}: acknowledged create {path} is lost") from None
                assert value == data and stat.version == 0, f"seed {seed}: {path} is {value!r} v{stat.version}"
                checked += 1
            if w.counter_version is not None:
                value, stat = client.get(w.counter)
                allowed = {w.counter_version} | ({w.counter_version + 1} if w.counter_maybe_next else set())
                assert stat.version in allowed, (
                    f"seed {seed}: {w.counter} at version {stat.version}, acknowledged {w.counter_version}"
                )
                assert value == str(stat.version).encode(), f"seed {seed}: {w.counter} data {value!r} v{stat.version}"
                checked += 1
    finally:
        client.stop()
        client.close()
    return checked


def test_acknowledged_writes_survive_kill_9():
    binary = os.environ.get("CORRAL_BIN")
    if not binary:
        pytest.fail("CORRAL_BIN is not set (cargo xtask interop sets it)")
    cycles = int(os.environ.get("CORRAL_CRASH_CYCLES", "20"))
    seed = int(os.environ.get("CORRAL_CRASH_SEED", str(random.randrange(1 << 31))))
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="interop-crash-"))
    server = CorralProcess(binary, workdir)
    all_writers: list[Writer] = []
    total_checked = 0
    try:
        server.start()
        for cycle in range(cycles):
            stop = threading.Event()
            writers = [Writer(server.addr, f"w{n}", cycle, stop) for n in range(WRITERS)]
            for w in writers:
                w.start()
            time.sleep(rng.uniform(0.2, 1.2))
            server.kill9()
            stop.set()
            for w in writers:
                w.join(timeout=30)
                if w.is_alive():
                    stack = "".join(traceback.format_stack(sys._current_frames()[w.ident]))
                    raise AssertionError(f"seed {seed}: writer {w.name} hung after the kill:\n{stack}")
                assert w.error is None, f"seed {seed}: writer {w.name}: {w.error}"
            # Every cycle's creates stay checked; a counter is checked against the newest
            # writer of that name (later cycles continue it).
            for w in all_writers:
                w.counter_version = None
            all_writers += writers
            server.start()
            verify(server.addr, writers, seed)
        # Everything ever acknowledged, once more after the last restart (older segments,
        # snapshots and purges included).
        total_checked = verify(server.addr, all_writers, seed)
        acked = sum(len(w.acked_creates) for w in all_writers)
        assert acked > cycles, f"seed {seed}: only {acked} writes acknowledged in {cycles} cycles"
        print(f"crash test: seed {seed}, {cycles} cycles, {acked} acknowledged creates, {total_checked} checks")
    except AssertionError as e:
        raise AssertionError(
            f"{e}\nreplay with CORRAL_CRASH_SEED={seed} CORRAL_CRASH_CYCLES={cycles}\n"
            f"server log tail:\n{server.tail()}\n(data kept in {workdir})"
        ) from None
    finally:
        server.kill9()
