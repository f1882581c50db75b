#!/usr/bin/env python3
"""The server's RSS with clients that do not read (issue 14, D5/D6), for the report.

usage: backpressure_rss.py CORRAL_BIN [--slow-requests N] [--turns N]

Two scenarios against one `corral server` started here (127.0.0.1, a temp dataDir):
  slow-reader: a client sends N getData of a 64 KiB node and never reads; another client
               is served meanwhile. Prints the RSS before and after.
  pinning:     a watcher that stopped reading (its socket already full) holds data watches
               on 1,000 nodes; a fast client sets each node (the watcher is owed one small
               event each) among getData of a 4 KiB node. Prints the RSS before and after,
               and what the watcher is owed.
Not a test (it asserts nothing): figures. Every loop is bounded; the server is stopped by pid.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness.raw import connect, open_socket, read_frame, send_frame  # noqa: E402
from harness.servers import free_port  # noqa: E402

GET_DATA, SET_DATA, CREATE = 4, 5, 1
OPEN_ACL = struct.pack(">iii", 1, 31, 5) + b"world" + struct.pack(">i", 6) + b"anyone"


def s(text: str) -> bytes:
    b = text.encode()
    return struct.pack(">i", len(b)) + b


def buf(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def req(xid: int, op: int, body: bytes) -> bytes:
    return struct.pack(">i", len(body) + 8) + struct.pack(">ii", xid, op) + body


def create(xid: int, path: str, data: bytes) -> bytes:
    return req(xid, CREATE, s(path) + buf(data) + OPEN_ACL + struct.pack(">i", 0))


def get_data(xid: int, path: str, watch: bool = False) -> bytes:
    return req(xid, GET_DATA, s(path) + bytes([1 if watch else 0]))


def set_data(xid: int, path: str, data: bytes) -> bytes:
    return req(xid, SET_DATA, s(path) + buf(data) + struct.pack(">i", -1))


def call(sock: socket.socket, frame: bytes) -> int:
    sock.sendall(frame)
    reply = read_frame(sock)
    return struct.unpack(">iqi", reply[:16])[2]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def session(addr: str) -> socket.socket:
    sock = open_socket(addr)
    connect(sock)
    return sock


def slow_reader(addr: str, pid: int, n: int) -> None:
    other = session(addr)
    assert call(other, create(1, "/big", b"x" * (64 << 10))) == 0
    before = rss_kib(pid)
    slow = session(addr)
    slow.sendall(b"".join(get_data(x, "/big") for x in range(1, n + 1)))
    for x in range(2, 52):
        assert call(other, get_data(x, "/big")) == 0
    time.sleep(3)
    after = rss_kib(pid)
    print(f"slow-reader: {n} getData of 64 KiB unread: RSS {before} KiB -> {after} KiB "
          f"(+{(after - before) / 1024:.1f} MiB)")
    slow.close()
    other.close()


def pinning(addr: str, pid: int, turns: int) -> None:
    fast = session(addr)
    xid = 1
    assert call(fast, create(xid, "/w", b"")) == 0
    for i in range(1000):
        xid += 1
        assert call(fast, create(xid, f"/w/{i}", b"")) == 0
    xid += 1
    assert call(fast, create(xid, "/four", b"y" * 4096)) == 0
    watcher = session(addr)
    watcher.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for i in range(1000):
        assert call(watcher, get_data(i + 1, f"/w/{i}", watch=True)) == 0
    # Fill the watcher's sockets and its outbox with replies it never reads.
    watcher.sendall(b"".join(get_data(2000 + x, "/four") for x in range(2000)))
    time.sleep(2)
    before = rss_kib(pid)
    for t in range(turns):
        batch = [set_data(xid + 1, f"/w/{t % 1000}", b"z")]
        batch += [get_data(xid + 2 + k, "/four") for k in range(10)]
        xid += 11
        fast.sendall(b"".join(batch))
        for _ in batch:
            read_frame(fast)
    time.sleep(2)
    after = rss_kib(pid)
    events = min(turns, 1000)
    print(f"pinning: {turns} turns of setData + 10 getData(4 KiB), watcher owed {events} "
          f"events (~{events * 40 / 1024:.0f} KiB): RSS {before} KiB -> {after} KiB "
          f"(+{(after - before) / 1024:.1f} MiB)")
    watcher.close()
    fast.close()


def main() -> None:
    binary = sys.argv[1]
    n = int(sys.argv[sys.argv.index("--slow-requests") + 1]) if "--slow-requests" in sys.argv else 2000
    turns = int(sys.argv[sys.argv.index("--turns") + 1]) if "--turns" in sys.argv else 1000
    for name in ("slow-reader", "pinning"):
        with tempfile.TemporaryDirectory() as d:
            port = free_port()
            cfg = os.path.join(d, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write(f"dataDir={d}/data\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                        "admin.enableServer=false\nmaxClientCnxns=0\n")
            proc = subprocess.Popen([binary, "server", cfg], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                addr = f"127.0.0.1:{port}"
                for _ in range(100):
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.1)
                if name == "slow-reader":
                    slow_reader(addr, proc.pid, n)
                else:
                    pinning(addr, proc.pid, turns)
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


if __name__ == "__main__":
    main()
