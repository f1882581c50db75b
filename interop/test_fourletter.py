"""Four-letter words: ruok and srvr (the harness relies on them), and the words that list
connections, sessions and watches (cons, crst, dump, wchc, wchp, wchs)."""

import re

from harness.scenario import scenario
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
