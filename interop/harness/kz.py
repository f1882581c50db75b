"""kazoo helpers: clients that are always stopped, outcome formatting, and a
barrier that makes watch-event collection deterministic."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
import types
from typing import Any, Callable, Iterator

from kazoo.client import KazooClient
from kazoo.protocol.serialization import Connect
from kazoo.protocol.states import ZnodeStat

START_TIMEOUT_S = 10.0
BARRIER_TIMEOUT_S = 10.0


def _capture_negotiated_timeout(client: KazooClient) -> None:
    """kazoo keeps the *requested* timeout in client._session_timeout and only
    logs the negotiated one; wrap this client's connection `_invoke` to record
    `ConnectResponse.time_out` (ms) as client.negotiated_timeout_ms."""
    conn = client._connection
    original = conn._invoke
    client.negotiated_timeout_ms = None  # type: ignore[attr-defined]

    def _invoke(self, timeout, request, xid=None):
        result = original(timeout, request, xid)
        if isinstance(request, Connect) and isinstance(result, tuple):
            client.negotiated_timeout_ms = result[0].time_out  # type: ignore[attr-defined]
        return result

    conn._invoke = types.MethodType(_invoke, conn)


def new_client(target, timeout: float = 10.0, start: bool = True, **options: Any) -> KazooClient:
    """A kazoo client; `timeout` is the requested session timeout in seconds;
    `options` go to KazooClient (e.g. sasl_options)."""
    client = KazooClient(hosts=target.addr, timeout=timeout, **options)
    _capture_negotiated_timeout(client)
    if start:
        client.start(timeout=START_TIMEOUT_S)
    return client


def stop_client(client: KazooClient) -> None:
    with contextlib.suppress(Exception):
        client.stop()
    with contextlib.suppress(Exception):
        client.close()


@contextlib.contextmanager
def clients(target, n: int = 1, timeout: float = 10.0) -> Iterator[list[KazooClient]]:
    """n started clients, stopped and closed on exit whatever happens."""
    made: list[KazooClient] = []
    try:
        for _ in range(n):
            made.append(new_client(target, timeout=timeout))
        yield made
    finally:
        for c in made:
            stop_client(c)


def outcome(norm, fn: Callable, *args, **kwargs) -> str:
    """Call fn and describe its result or the class name of what it raised."""
    try:
        return "ok " + describe(norm, fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001
        return "raised " + type(e).__name__


def describe(norm, value: Any) -> str:
    if isinstance(value, ZnodeStat):
        return norm.stat(value)
    if isinstance(value, BaseException):
        return "!" + type(value).__name__
    if isinstance(value, bytes):
        if len(value) <= 200:
            return repr(value)
        return f"<{len(value)} bytes sha256 {hashlib.sha256(value).hexdigest()[:16]}>"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(norm, v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(describe(norm, v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def barrier(*watching: KazooClient) -> None:
    """Wait until every watch notification already triggered for these clients
    has been delivered to its callback.

    Call it after the triggering change has completed. A read by the watching
    client is answered after any notification the server queued for that
    session before the read (ZooKeeper's ordering guarantee), and kazoo runs
    watch callbacks (DataWatch/ChildrenWatch included) one at a time on the
    handler's callback queue, so a marker put on that queue after the read
    runs after all of them.
    """
    for client in watching:
        client.exists("/")
        done = threading.Event()
        client.handler.callback_queue.put(done.set)
        if not done.wait(BARRIER_TIMEOUT_S):
            raise TimeoutError("watch callbacks did not drain")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll predicate until it is true or timeout seconds passed (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Events:
    """Thread-safe list of recorded facts (watch events, callbacks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[str] = []

    def add(self, item: str) -> None:
        with self._lock:
            self._items.append(item)

    def take(self) -> list[str]:
        with self._lock:
            items, self._items = self._items, []
        return items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def event_str(event) -> str:
    if event is None:
        return "event=None"
    return f"event={event.type}:{event.path}"


_UUID = re.compile(r"[0-9a-f]{32}")


def strip_uuid(name: str) -> str:
    """kazoo lock/election node names start with a random uuid4 hex."""
    return _UUID.sub("<uuid>", name)
