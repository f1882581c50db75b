"""Back-pressure (issue 14, D5): thousands of outstanding requests with a small
globalOutstandingLimit, and a client that never reads its socket while another is served.
Both servers must answer everything, in order, and lose nothing."""

import struct

from harness import kz
from harness.raw import connect, open_socket, read_frame
from harness.scenario import scenario

LIMIT = {"globalOutstandingLimit": "20"}


@scenario(config=LIMIT, timeout=240)
def test_thousands_outstanding_past_the_global_limit(t):
    r = t.root
    out = []
    with kz.clients(t, 2) as (c, d):
        c.create(r, b"")
        n = 3000
        calls = []
        for i in range(n):
            # Writes (they wait for the log, so requests pile up past the limit) and reads
            # of what was just written, on one session: replies must come in request order
            # (kazoo checks each reply's xid against its oldest request and drops the
            # connection on a mismatch) and each read must see its create.
            if i % 3 == 2:
                a = c.get_async(f"{r}/n{i - 1}")
            else:
                a = c.create_async(f"{r}/n{i}", str(i).encode())
            calls.append(a)
        # A second session keeps being served meanwhile.
        others = [d.exists_async(r) for _ in range(200)]
        results = [a.get(timeout=120) for a in calls]
        other_ok = sum(1 for a in others if a.get(timeout=120) is not None)
        out.append(f"answered: {len(results)} of {n}")
        reads = [res for i, res in enumerate(results) if i % 3 == 2]
        out.append("reads see their create: "
                   + str(all(data == str(i * 3 + 1).encode() for i, (data, _) in enumerate(reads))))
        out.append(f"other session answered: {other_ok} of 200")
        out.append(f"children: {len(c.get_children(r))}")
        c.delete(r, recursive=True)
    return out


def _get_data(xid: int, path: str) -> bytes:
    body = struct.pack(">ii", xid, 4) + struct.pack(">i", len(path)) + path.encode() + b"\0"
    return struct.pack(">i", len(body)) + body


@scenario(timeout=240)
def test_a_client_that_never_reads_does_not_stop_the_others(t):
    r = t.root
    out = []
    with kz.clients(t) as (c,):
        c.create(r, b"x" * (64 << 10))
        slow = open_socket(t.addr, timeout=60)
        connect(slow)
        n = 500
        slow.sendall(b"".join(_get_data(x, r) for x in range(1, n + 1)))
        served = sum(1 for _ in range(100) if len(c.get(r)[0]) == 64 << 10)
        out.append(f"other client served: {served} of 100")
        in_order = True
        for xid in range(1, n + 1):
            reply = read_frame(slow)
            got, _, err = struct.unpack(">iqi", reply[:16])
            in_order &= (got, err, len(reply)) == (xid, 0, 16 + 4 + (64 << 10) + 68)
        out.append(f"slow client, once it reads: {n} replies in order, whole: {in_order}")
        slow.close()
        c.delete(r)
    return out
