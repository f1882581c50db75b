"""Sessions: close removes ephemerals, expiry after the negotiated timeout,
and timeout negotiation (min = 2*tickTime, max = 20*tickTime by default)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness import kz, raw
from harness.scenario import scenario
from harness.servers import four_letter

# Short ticks so that short session timeouts are allowed and expire promptly.
FAST = {"tickTime": "500"}
BOUNDED = {"tickTime": "500", "minSessionTimeout": "1500", "maxSessionTimeout": "8000"}
CHILD = Path(__file__).resolve().parent / "harness" / "session_child.py"
EXPIRY_TIMEOUT_S = 4.0
READY_TIMEOUT_S = 30.0


def _negotiated(t, requested_s):
    c = kz.new_client(t, timeout=requested_s)
    try:
        return c.negotiated_timeout_ms
    finally:
        kz.stop_client(c)


def _negotiation(t, requests):
    return [f"requested {int(s * 1000)} ms -> negotiated {_negotiated(t, s)} ms" for s in requests]


@scenario
def test_session_timeout_negotiation_default_bounds(t):
    """tickTime=2000: bounds 4000..40000 ms."""
    return _negotiation(t, [1.0, 4.0, 10.0, 40.0, 100.0])


@scenario(config=FAST)
def test_session_timeout_negotiation_fast_ticks(t):
    """tickTime=500: bounds 1000..10000 ms."""
    return _negotiation(t, [0.8, 1.0, 2.5, 10.0, 30.0])


@scenario(config=BOUNDED)
def test_session_timeout_negotiation_configured_bounds(t):
    """minSessionTimeout/maxSessionTimeout set explicitly."""
    return _negotiation(t, [1.0, 1.5, 3.0, 8.0, 30.0])


@scenario
def test_session_close_removes_ephemerals(t):
    r = t.root
    out = []
    ev = kz.Events()

    def cb(label):
        return lambda event: ev.add(f"{label}: {event.type} {event.path}")

    with kz.clients(t, 1) as (observer,):
        owner = kz.new_client(t)
        try:
            owner.create(r, b"")
            owner.create(f"{r}/persistent", b"p")
            owner.create(f"{r}/e1", b"one", ephemeral=True)
            seq = owner.create(f"{r}/es-", b"two", ephemeral=True, sequence=True)
            out.append(f"created {seq}")
            st = observer.exists(f"{r}/e1", watch=cb("exists-e1"))
            out.append(f"e1 owned by owner: {st.ephemeralOwner == owner.client_id[0]}")
            observer.get(seq, watch=cb("get-es"))
            out.append(f"children before: {sorted(observer.get_children(r, watch=cb('children-root')))}")
        finally:
            kz.stop_client(owner)  # closeSession: the server deletes the ephemerals first
        out.append(f"e1 after close: {observer.exists(f'{r}/e1')}")
        out.append(f"es after close: {observer.exists(seq)}")
        out.append(f"children after: {sorted(observer.get_children(r))}")
        kz.barrier(observer)
        # the order in which one session's ephemerals are deleted is unspecified
        out.append(f"events: {sorted(ev.take())}")
        out.append(f"root: {t.norm.stat(observer.exists(r))}")
    return out


def _read_line(proc, timeout):
    result = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else None


@scenario(config=FAST)
def test_session_expiry_after_kill(t):
    """A client is SIGKILLed (socket closed, no closeSession): its ephemeral
    stays until the negotiated timeout expires the session."""
    r = t.root
    path = f"{r}/eph"
    out = []
    ev = kz.Events()
    with kz.clients(t, 1) as (observer,):
        observer.create(r, b"")
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), t.addr, path, str(EXPIRY_TIMEOUT_S)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = _read_line(proc, READY_TIMEOUT_S)
            if not line or not line.startswith("ready "):
                proc.kill()
                _, err = proc.communicate(timeout=10)
                raise RuntimeError(f"session child did not get ready: {line!r}\n{err}")
            _, negotiated, sid = line.split()
            out.append(f"child requested {int(EXPIRY_TIMEOUT_S * 1000)} ms, negotiated {negotiated} ms")
            st = observer.exists(path, watch=lambda e: ev.add(f"exists: {e.type} {e.path}"))
            out.append(f"ephemeral owned by child session: {st is not None and st.ephemeralOwner == int(sid)}")
            observer.get_children(r, watch=lambda e: ev.add(f"children: {e.type} {e.path}"))
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                stream.close()
        killed_at = time.monotonic()
        out.append("present-after-kill" if observer.exists(path) else "absent-right-after-kill")
        timeout_s = int(negotiated) / 1000.0
        # well before any possible expiry (last heartbeat <= timeout/3 before the kill)
        time.sleep(max(0.0, killed_at + timeout_s / 4 - time.monotonic()))
        out.append("present-at-quarter-timeout" if observer.exists(path) else "absent-at-quarter-timeout")
        gone = kz.wait_until(lambda: observer.exists(path) is None, 3 * timeout_s, interval=0.1)
        out.append("gone-within-3x-timeout" if gone else "still-present-after-3x-timeout")
        kz.barrier(observer)
        out.append(f"events: {sorted(ev.take())}")
        out.append(f"children: {observer.get_children(r)}")
        out.append(f"observer negotiated {observer.negotiated_timeout_ms} ms")
    return out


def _raw_connect(addr: str, session_id: int, passwd: bytes) -> tuple[int, int]:
    """One ConnectRequest on a fresh socket (no client library: kazoo would start a new
    session after a refusal); returns the (timeout, session id) of the ConnectResponse."""
    with raw.open_socket(addr) as sock:
        return raw.connect(sock, session_id, passwd)


@scenario
def test_session_wrong_password_reconnect(t):
    """A ConnectRequest naming a live session with the wrong password is refused (timeout 0,
    session 0), and, as ZooKeeper's processConnectRequest closes the session's current
    connection before it checks the password, the owner is disconnected too; the owner
    reconnects with the right password and keeps its session and ephemerals."""
    r = t.root
    out = []
    states: list[str] = []
    with kz.clients(t, 1) as (owner,):
        owner.add_listener(lambda state: states.append(str(state)))
        owner.create(r, b"")
        owner.create(f"{r}/eph", b"", ephemeral=True)
        sid, passwd = owner.client_id
        wrong = bytes(b ^ 0xFF for b in passwd)
        timeout, got = _raw_connect(t.addr, sid, wrong)
        out.append(f"wrong password answered: timeout {timeout}, same session {got == sid}, session 0 {got == 0}")
        back = kz.wait_until(lambda: states[-2:] == ["SUSPENDED", "CONNECTED"], 10.0)
        out.append(f"owner reconnected after being dropped: {back}, states {states}")
        out.append(f"owner session kept: {owner.client_id[0] == sid}")
        st = owner.exists(f"{r}/eph")
        out.append(f"ephemeral kept: {st is not None and st.ephemeralOwner == sid}")
    return out


SESSIONLESS_BOUND_S = 25.0


def _closed_by_server(sock, deadline: float) -> bool:
    """Whether the server closes `sock` (EOF or reset) before `deadline`."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
        try:
            if sock.recv(64) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


@scenario
def test_connection_without_a_session_is_closed(t):
    """A client that connects and sends nothing, or only part of its ConnectRequest, does
    not hold the connection (and its maxClientCnxns slot) forever: ZooKeeper closes a
    connection without a session after sessionlessCnxnTimeout (10 s). Bounded wait; the time
    is not asserted."""
    expired_before = _sessionless_expired(t)
    silent = raw.open_socket(t.addr)
    partial = raw.open_socket(t.addr)
    try:
        # The length prefix and half of a ConnectRequest.
        partial.sendall(b"\0\0\0\x2d" + b"\0" * 8)
        deadline = time.monotonic() + SESSIONLESS_BOUND_S
        out = [
            f"silent connection closed by the server: {_closed_by_server(silent, deadline)}",
            f"half a ConnectRequest, closed by the server: {_closed_by_server(partial, deadline)}",
        ]
    finally:
        silent.close()
        partial.close()
    # Both counted in mntr's zk_sessionless_connections_expired.
    out.append(f"sessionless_connections_expired: +{_sessionless_expired(t) - expired_before}")
    return out


def _sessionless_expired(t) -> int:
    """mntr's zk_sessionless_connections_expired."""
    text = four_letter(t.host, t.port, "mntr")
    values = dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)
    return int(values["zk_sessionless_connections_expired"])
