"""The tree digest and the `hash` four-letter word (ZooKeeper 3.6+'s DigestCalculator, version
2, on by default in 3.8): after every txn whose zxid is a multiple of 128 the server records
(zxid, tree digest), and `hash` prints them as `{zxid:x}: {digest}` lines.

A node's digest is the CRC-32 of its path ("" for the root), data and stored Stat (czxid,
mzxid, pzxid, ctime, mtime, version, stored cversion, aversion, ephemeralOwner); the tree's
is their wrapping 64-bit sum, nodes under /zookeeper/ left out. So the digest depends on
ctime / mtime, the servers' clocks: two servers given the same writes agree on it only where
no txn carried a time into the tree.

Phase 1 makes exactly such a history: sessions, setACL on "/" (only aversion moves) and
failed writes (error txns take a zxid, change nothing). Both servers must print the same
`hash` lines, digest values included. Phase 2 adds creates, setData, deletes, a multi, an
ACL change and a session closed with its ephemerals: the digests now differ by the clocks,
so each server's newest recorded digest is compared with the digest computed here, from the
tree as a client reads it back (the stored cversion is (cversion + numChildren) / 2); the
zxids recorded must still be the same.

This scenario changes "/" (its ACL version) and counts zxids from the server's start, so it
runs on a pair of servers of its own.
"""

from __future__ import annotations

import re
import struct
import zlib

from kazoo.exceptions import NoNodeError
from kazoo.security import OPEN_ACL_UNSAFE, make_acl

from harness import kz
from harness.scenario import scenario
from harness.servers import four_letter

OWN_SERVERS = {"tickTime": "1700"}
INTERVAL = 128  # DataTree.DIGEST_LOG_INTERVAL


def node_digest(path: str, data: bytes | None, st) -> int:
    """DigestCalculator.calculateDigest from what a client reads."""
    if path.startswith("/zookeeper/"):
        return 0
    stored_cversion = (st.cversion + st.numChildren) // 2
    fields = struct.pack(
        ">qqqqqiiiq",
        st.czxid,
        st.mzxid,
        st.pzxid,
        st.ctime,
        st.mtime,
        st.version,
        stored_cversion,
        st.aversion,
        st.ephemeralOwner,
    )
    key = "" if path == "/" else path
    return zlib.crc32(key.encode() + (data or b"") + fields)


def tree_digest(c) -> int:
    """The wrapping 64-bit sum over the tree read through client `c`, as a Java long."""
    total = 0
    stack = ["/"]
    while stack:
        path = stack.pop()
        if path.startswith("/zookeeper/"):
            continue
        data, st = c.get(path)
        total += node_digest(path, data, st)
        for child in c.get_children(path):
            stack.append(("" if path == "/" else path) + "/" + child)
    total &= (1 << 64) - 1
    return total - (1 << 64) if total >= 1 << 63 else total


def last_zxid(t) -> int:
    m = re.search(r"^Zxid: 0x([0-9a-f]+)$", four_letter(t.host, t.port, "srvr"), re.M)
    assert m, "srvr has a Zxid line"
    return int(m.group(1), 16)


def pad_to_interval(t, c) -> int:
    """Failed deletes (one error txn each, no change to the tree) until the last zxid is a
    multiple of 128; the zxid reached."""
    missing = f"{t.root}/missing"
    need = -last_zxid(t) % INTERVAL
    pending = [c.delete_async(missing) for _ in range(need)]
    for p in pending:
        try:
            p.get(timeout=10)
        except NoNodeError:
            pass
    zxid = last_zxid(t)
    assert zxid % INTERVAL == 0, hex(zxid)
    return zxid


def hash_lines(t) -> list[tuple[int, int]]:
    out = []
    for line in four_letter(t.host, t.port, "hash").splitlines():
        zxid, _, digest = line.partition(": ")
        out.append((int(zxid, 16), int(digest)))
    return out


@scenario(config=OWN_SERVERS)
def test_hash_lists_the_same_digests_as_zookeeper(t):
    out = [f"hash before any txn: {four_letter(t.host, t.port, 'hash')!r}"]
    with kz.clients(t, 1, timeout=30.0) as (c,):
        # Phase 1: no time enters the tree.
        for _ in range(3):
            c.set_acls("/", OPEN_ACL_UNSAFE)
        pad_to_interval(t, c)
        for _ in range(2):
            c.set_acls("/", OPEN_ACL_UNSAFE)
        for _ in range(3):
            with kz.clients(t, 1):
                pass  # a createSession and a closeSession
        pad_to_interval(t, c)
        out.append("== hash, phase 1 (compared verbatim)")
        out.extend(four_letter(t.host, t.port, "hash").splitlines())
        newest = hash_lines(t)[-1][1]
        out.append(f"newest digest is the tree's as read back: {newest == tree_digest(c)}")

        # Phase 2: creates, data, deletes, a multi, an ACL, a session with ephemerals.
        r = t.root
        c.create(r, b"top")
        c.create(f"{r}/a", b"x" * 300)
        c.create(f"{r}/a/b", b"")
        c.create(f"{r}/seq-", b"s", sequence=True)
        c.create(f"{r}/eph", b"e", ephemeral=True)
        c.set(f"{r}/a", b"changed")
        c.set("/", b"root data")
        c.set_acls(f"{r}/a/b", [make_acl("world", "anyone", read=True, write=True)])
        tx = c.transaction()
        tx.create(f"{r}/m", b"m")
        tx.create(f"{r}/m/n", b"n")
        tx.set_data(f"{r}/m", b"mm")
        tx.delete(f"{r}/m/n")
        out.append("multi: " + " ".join(type(x).__name__ for x in tx.commit()))
        with kz.clients(t, 1) as (other,):
            other.create(f"{r}/gone", b"", ephemeral=True)
        c.delete(f"{r}/a/b")
        reached = pad_to_interval(t, c)
        out.append(f"== hash, phase 2 (reached 0x{reached:x})")
        lines = hash_lines(t)
        out.append("zxids: " + " ".join(f"{z:x}" for z, _ in lines))
        out.append(f"newest digest is the tree's as read back: {lines[-1][1] == tree_digest(c)}")
        out.append(f"it moved since phase 1: {lines[-1][1] != newest}")
    return out
