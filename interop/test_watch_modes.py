"""Watch modes on one path: where Apache ZooKeeper 3.8.0 and 3.9 differ, Corral follows 3.9.

ZooKeeper 3.8 keeps one mode per (watcher, path) in each of its two watch tables, so a second
watch of another kind on the same path silently replaces the first: a child watch turns into
the persistent recursive watch added after it (and stops firing), a persistent watch turns
into a one-shot data watch, and removeWatches(Data or Children) removes whatever is there.
ZooKeeper 3.9.0 fixed this (ZOOKEEPER-4466, "Support different watch modes on same path";
ZOOKEEPER-4472, "Remove persistent watches individually"): modes coexist, each fires on its
own terms, and removeWatches removes only the kind it names (Any removes all). The 3.9
behaviour is what a user expects, and what Corral does.

This is not a differential scenario: the oracle here is Debian's ZooKeeper 3.8.0, so the test
runs the same raw wire sequence against both servers and checks each against its own expected
transcript. The lines that differ are the ones 3.9 changed; every other line must match. If
Debian's server moves to 3.9, the ZooKeeper side fails and this test becomes a plain
differential one.
"""

from __future__ import annotations

import struct

from harness import raw
from harness.servers import Server

OP_CREATE, OP_GET_DATA, OP_SET_DATA, OP_GET_CHILDREN = 1, 4, 5, 8
OP_REMOVE_WATCHES, OP_ADD_WATCH, OP_DELETE = 18, 106, 2
OP_EXISTS = 3
ANY_ACL = struct.pack(">i", 1) + struct.pack(">i", 31)
EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged",
               5: "DataWatchRemoved", 6: "ChildWatchRemoved", 7: "PersistentWatchRemoved"}
TYPES = {"Children": 1, "Data": 2, "Any": 3, "Persistent": 4, "PersistentRecursive": 5}
MODES = {"PERSISTENT": 0, "PERSISTENT_RECURSIVE": 1}


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">i", len(b)) + b


class RawSession:
    """A session spoken over a bare socket, so that no client library filters or checks
    anything: every request and every event is what the server sent."""

    def __init__(self, addr: str):
        self.sock = raw.open_socket(addr)
        self.xid = 0
        self.events: list[str] = []
        raw.connect(self.sock)

    def _send(self, body: bytes) -> None:
        raw.send_frame(self.sock, body)

    def _recv(self) -> bytes:
        return raw.read_frame(self.sock)

    def call(self, op: int, body: bytes) -> int:
        """Sends one request; returns its error code, recording the events read before it."""
        self.xid += 1
        self._send(struct.pack(">ii", self.xid, op) + body)
        for _ in range(1000):
            reply = self._recv()
            xid, _zxid, err = struct.unpack(">iqi", reply[:16])
            if xid == -1:
                kind, _state = struct.unpack(">ii", reply[16:24])
                (n,) = struct.unpack(">i", reply[24:28])
                self.events.append(f"{EVENT_NAMES.get(kind, kind)} {reply[28:28 + n].decode()}")
                continue
            return err
        raise RuntimeError("no reply after 1000 frames")

    def take_events(self) -> list[str]:
        # a round trip after the change: its events come before this reply
        self.call(OP_EXISTS, _string("/") + b"\0")
        out, self.events = self.events, []
        return out

    def close(self) -> None:
        self.sock.close()


def transcript(addr: str, root: str) -> list[str]:
    s = RawSession(addr)
    out: list[str] = []

    def create(path: str) -> None:
        s.call(OP_CREATE, _string(path) + struct.pack(">i", -1) + ANY_ACL + _string("world")
               + _string("anyone") + struct.pack(">i", 0))

    def step(label: str, op: int, body: bytes) -> None:
        err = s.call(op, body)
        out.append(f"{label}: {err}; events {sorted(s.take_events())}")

    try:
        create(root)
        p = f"{root}/p"
        create(p)
        step("getChildren watch", OP_GET_CHILDREN, _string(p) + b"\1")
        step("addWatch recursive", OP_ADD_WATCH, _string(p) + struct.pack(">i", MODES["PERSISTENT_RECURSIVE"]))
        step("create child", OP_CREATE, _string(f"{p}/k") + struct.pack(">i", -1) + ANY_ACL
             + _string("world") + _string("anyone") + struct.pack(">i", 0))
        step("removeWatches Data", OP_REMOVE_WATCHES, _string(p) + struct.pack(">i", TYPES["Data"]))
        step("removeWatches Any", OP_REMOVE_WATCHES, _string(p) + struct.pack(">i", TYPES["Any"]))

        q = f"{root}/q"
        create(q)
        step("addWatch persistent", OP_ADD_WATCH, _string(q) + struct.pack(">i", MODES["PERSISTENT"]))
        step("getData watch", OP_GET_DATA, _string(q) + b"\1")
        step("setData 1", OP_SET_DATA, _string(q) + _string("1") + struct.pack(">i", -1))
        step("setData 2", OP_SET_DATA, _string(q) + _string("2") + struct.pack(">i", -1))
        step("removeWatches Persistent", OP_REMOVE_WATCHES, _string(q) + struct.pack(">i", TYPES["Persistent"]))
        step("removeWatches Any", OP_REMOVE_WATCHES, _string(q) + struct.pack(">i", TYPES["Any"]))
    finally:
        s.close()
    return out


def _expected(root: str, version: str) -> list[str]:
    p, q = f"{root}/p", f"{root}/q"
    v38 = version == "3.8.0"
    return [
        "getChildren watch: 0; events []",
        "addWatch recursive: 0; events []",
        # 3.8.0: the child watch's mode was replaced by the recursive one, which ignores
        # NodeChildrenChanged; 3.9: both fire
        f"create child: 0; events {[f'NodeCreated {p}/k'] if v38 else [f'NodeChildrenChanged {p}', f'NodeCreated {p}/k']}",
        # 3.8.0 removes the recursive watch from the data table; 3.9 finds no standard data watch
        # (the *WatchRemoved events are made by the client library, never sent by the server)
        f"removeWatches Data: {0 if v38 else -121}; events []",
        # 3.8.0: the child table still holds it, as a recursive watch; 3.9: the recursive watch
        "removeWatches Any: 0; events []",
        "addWatch persistent: 0; events []",
        "getData watch: 0; events []",
        f"setData 1: 0; events ['NodeDataChanged {q}']",
        # 3.8.0: the getData watch turned the persistent watch into a one-shot one
        f"setData 2: 0; events {[] if v38 else [f'NodeDataChanged {q}']}",
        # 3.8.0 has no Persistent watcher type (MarshallingError, -5)
        f"removeWatches Persistent: {-5 if v38 else 0}; events []",
        # 3.8.0: the persistent watch is still in the child table; 3.9: nothing is left
        f"removeWatches Any: {0 if v38 else -121}; events []",
    ]


def _check(server: Server, version: str) -> None:
    root = "/watch_modes"
    got = transcript(server.addr, root)
    want = _expected(root, version)
    assert got == want, (
        f"{server.describe()} does not behave as ZooKeeper {version}:\n"
        + "\n".join(f"  {'ok ' if g == w else 'BAD'} got {g!r}\n      want {w!r}" for g, w in zip(got, want))
    )


def test_watch_modes_zookeeper_380(interop_servers):
    _check(interop_servers.oracle({}), "3.8.0")


def test_watch_modes_corral_follows_39(interop_servers):
    _check(interop_servers.corral({}), "3.9")
