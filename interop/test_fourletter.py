"""Four-letter words: ruok and srvr (the harness relies on them), the words that list
connections, sessions and watches (cons, crst, dump, wchc, wchp, wchs), mntr's keys against
ZooKeeper's (and the README's "not applicable" table), gtmk and stmk."""

import re
import socket
import struct
import time
from pathlib import Path

from harness.scenario import env_flag, scenario
from harness.servers import four_letter


@scenario
def test_fourletter_ruok_srvr(t):
    out = [f"ruok -> {four_letter(t.host, t.port, 'ruok')!r}"]
    srvr = four_letter(t.host, t.port, "srvr")
    for line in srvr.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            out.append(f"srvr line without ':': {line!r}")
        elif key == "Mode":
            out.append(f"srvr Mode:{value}")
        elif key == "Zxid":
            out.append(f"srvr Zxid is hex: {bool(re.fullmatch(r' 0x[0-9a-f]+', value))}")
        elif key in ("Received", "Sent", "Connections", "Outstanding", "Node count"):
            out.append(f"srvr {key} is a number: {value.strip().isdigit()}")
        else:
            out.append(f"srvr {key}")
    return out


# A pair of servers of its own, so that no other scenario's sessions or connections show.
OWN_SERVERS = {"tickTime": "1500"}


def _normalise_4lw(text: str, sid: int, client_port: int) -> list[str]:
    """Session ids, ports and clock readings vary by run and server; the shape and the
    values that follow from the requests (op names, xids, counts of sets) do not."""
    text = text.replace(f"0x{sid:x}", "0x<sid>")

    # the session's connection, or the connection asking the four-letter word
    text = re.sub(
        r"127\.0\.0\.1:(\d+)",
        lambda m: "127.0.0.1:" + ("<client>" if int(m.group(1)) == client_port else "<asker>"),
        text,
    )
    text = re.sub(r"expire at \w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}:", "expire at <date>:", text)
    # ZooKeeper's expiry queues can list a set emptied a moment ago ("0 expire at")
    text = re.sub(r"Sets \(\d+\)/", "Sets (<n>)/", text)
    text = re.sub(r"\n0 expire at <date>:", "", text)
    text = re.sub(r"(est|lresp)=\d+", r"\1=<ms>", text)
    text = re.sub(r"(llat|minlat|avglat|maxlat)=\d+", r"\1=<ms>", text)
    text = re.sub(r"lzxid=0x[0-9a-f]+", lambda m: "lzxid=0x<zxid>" if m.group(0) != "lzxid=0xffffffffffffffff" else m.group(0), text)
    return text.split("\n")


def _hash_order_free(word: str, lines: list[str]) -> list[str]:
    """ZooKeeper prints its hash sets in hash order: compare sorted. Blocks (a line and the
    tab-indented lines under it) are sorted inside, and for cons, wchc and wchp the blocks
    themselves are sorted too (the text of the other words has a fixed order of sections)."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("\t") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    blocks = [[b[0]] + sorted(b[1:]) for b in blocks]
    if word in ("cons", "wchc", "wchp"):
        blocks.sort(key=lambda b: (b[0] == "", b))
    return [line for b in blocks for line in b]


@scenario(config=OWN_SERVERS)
def test_fourletter_connection_session_and_watch_dumps(t):
    """cons, wchc, wchp, wchs, dump and crst, with one session holding ephemerals and data,
    exist and child watches (ZooKeeper's wch* words list the data-watch table only)."""
    from harness import kz

    r = t.root
    out = []
    # a long session timeout: no ping lands in the middle of the sequence
    with kz.clients(t, 1, timeout=30.0) as (c,):
        c.create(r, b"")
        c.create(f"{r}/a", b"")
        c.create(f"{r}/e", b"", ephemeral=True)
        c.create(f"{r}/a/e2", b"", ephemeral=True)
        c.get(f"{r}/a", watch=lambda e: None)
        c.get_children(r, watch=lambda e: None)
        c.exists(f"{r}/x", watch=lambda e: None)
        sid = c.client_id[0]
        client_port = c._connection._socket.getsockname()[1]
        for word in ["cons", "wchc", "wchp", "wchs", "dump", "crst", "cons"]:
            out.append(f"== {word}")
            text = four_letter(t.host, t.port, word)
            out.extend(_hash_order_free(word, _normalise_4lw(text, sid, client_port)))
    return out


# --- mntr: every ZooKeeper key, or documented as not applicable --------------------------

README = Path(__file__).resolve().parent.parent / "README.md"
NOT_APPLICABLE_START = "<!-- mntr-not-applicable:start -->"
NOT_APPLICABLE_END = "<!-- mntr-not-applicable:end -->"
SUMMARY_KEY = re.compile(r"^zk_(avg|min|max|cnt|sum|p50|p95|p99|p999)_(.+)$")


def not_applicable() -> set[str]:
    """The metric families the README's "not applicable" table lists."""
    text = README.read_text()
    start, end = text.index(NOT_APPLICABLE_START), text.index(NOT_APPLICABLE_END)
    names = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text[start:end], re.M))
    assert len(names) > 50, f"the README's table lists only {sorted(names)}"
    return names


def documented_family(key: str, na: set[str]) -> str | None:
    """The not-applicable family a mntr key belongs to, if any: zk_cnt_election_time and
    zk_local_sessions are in the table; zk_max_latency (a gauge) and zk_cnt_fsynctime not."""
    name = key.removeprefix("zk_")
    if name in na:
        return name
    m = SUMMARY_KEY.match(key)
    return m.group(2) if m and m.group(2) in na else None


def parse_mntr(text: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


# A server pair of its own: its keys and counts follow from this file's requests only.
MNTR_SERVERS = {"tickTime": "1600"}


@scenario(config=MNTR_SERVERS)
def test_mntr_keys_are_zookeepers(t):
    """Every key ZooKeeper's mntr prints is printed by Corral or listed in the README's
    "not applicable" table, and Corral prints no other; then the values that follow from
    the requests: sizes written and read per namespace, watchers fired, znode count, bytes
    of replies and watch events, client response sizes."""
    from harness import kz

    r = t.root
    ns = r.lstrip("/")
    with kz.clients(t, 1, timeout=30.0) as (c,):
        c.create(r, b"0123456789")
        c.create(f"{r}/a", b"hello")
        c.get(f"{r}/a", watch=lambda e: None)
        c.get_children(r, watch=lambda e: None)
        c.exists(f"{r}/b", watch=lambda e: None)
        c.exists(f"{r}/a")
        c.set(f"{r}/a", b"12345678")  # NodeDataChanged: 1 watcher
        c.create(f"{r}/b", b"xy")  # NodeCreated: 1; NodeChildrenChanged: 1
        c.delete(f"{r}/b")  # no watcher left
        c.get(f"{r}/a")
        mntr = parse_mntr(four_letter(t.host, t.port, "mntr"))
    # The "Corral" side of CORRAL_ORACLE_ONLY=1 is a ZooKeeper too.
    zookeeper_side = t.server.kind == "zookeeper" or env_flag("CORRAL_ORACLE_ONLY")
    na = not_applicable()
    out = []
    for key in sorted(mntr):
        if documented_family(key, na):
            if not zookeeper_side:
                out.append(f"{key}: printed, but the README says it is not applicable")
            continue
        out.append(key)
    for fam in ("write_per_namespace", "read_per_namespace"):
        for stat in ("cnt", "sum", "min", "max"):
            key = f"zk_{stat}_{ns}_{fam}"
            out.append(f"{key} = {mntr.get(key)}")
    for fam in ("created", "deleted", "changed", "children"):
        for stat in ("cnt", "sum"):
            key = f"zk_{stat}_node_{fam}_watch_count"
            out.append(f"{key} = {mntr.get(key)}")
    # (Not bytes or packets received: they count the harness's readiness probes, `srvr`
    # words, as many as the server took to start.)
    for key in ("zk_znode_count", "zk_watch_bytes", "zk_response_bytes", "zk_last_client_response_size",
                "zk_min_client_response_size", "zk_max_client_response_size"):
        out.append(f"{key} = {mntr.get(key)}")
    # Timed for every write (ZooKeeper: every request) handed on from prep; the times and
    # counts differ, that it moved does not.
    out.append(f"zk_cnt_proposal_process_time > 0: {int(mntr.get('zk_cnt_proposal_process_time', 0)) > 0}")
    return out


def _stmk(host: str, port: int, mask: bytes, timeout: float = 2.0) -> str:
    """`stmk` followed by `mask` (8 bytes make a trace mask), then the write side closed;
    the reply until the server closes."""
    chunks = []
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"stmk" + mask)
        s.shutdown(socket.SHUT_WR)
        while time.monotonic() < deadline:
            try:
                data = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("ascii", "replace")


@scenario(config=MNTR_SERVERS)
def test_fourletter_gtmk_stmk(t):
    """The trace mask: gtmk reads it, stmk sets it from the 8 bytes after the word and
    answers the new mask; fewer than 8 bytes get no answer. The default is restored."""
    out = [f"gtmk -> {four_letter(t.host, t.port, 'gtmk')!r}"]
    try:
        for mask in (0x1FF, -1, 0, 1 << 40):
            answer = _stmk(t.host, t.port, struct.pack(">q", mask))
            out.append(f"stmk {mask} -> {answer!r}; gtmk -> {four_letter(t.host, t.port, 'gtmk')!r}")
        out.append(f"stmk with 3 bytes -> {_stmk(t.host, t.port, b'abc')!r}")
        out.append(f"gtmk -> {four_letter(t.host, t.port, 'gtmk')!r}")
    finally:
        _stmk(t.host, t.port, struct.pack(">q", 306))
    return out
