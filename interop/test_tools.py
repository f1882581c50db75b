"""Operator tools (issue 16): `corral snapshot summary`, `corral snapshot compare`, `corral log
dump / recover / truncate`, run on a real Apache ZooKeeper 3.8 dataDir written through kazoo
and on Corral dataDirs.

- summary: its figures for every znode with children equal the ones counted through kazoo on
  the live tree the snapshot holds (ZooKeeper 3.8's jar has no SnapshotRecursiveSummary to
  compare with; it came in 3.9); the same text for the ZooKeeper snapshot and for the Corral
  snapshot `corral import` made of it.
- compare: output line for line equal to ZooKeeper's own SnapshotComparer (in the 3.8 jar)
  on the same two snapshots (timing lines aside), and equal again when the left one is
  Corral's snapshot of the same data.
- log: `corral log dump` lists the txns ZooKeeper's TxnLogToolkit lists; `corral log recover`
  writes the same `.fixed` file as `TxnLogToolkit --recover --yes` for a damaged checksum, and
  `corral log truncate --zxid` the same `.chopped<zxid>` file as `TxnLogToolkit --chop`.
- truncate: a Corral log cut at a zxid, and (the durability note's gap) a log with damage
  followed by a valid record that Corral refuses to start on, cut at the damage's offset:
  Corral then starts with exactly the znodes before the cut.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from harness.servers import JAVA_DIR, Server, zookeeper_classpath

TOOL_TIMEOUT_S = 120
ZK_CONFIG = {"preAllocSize": "64", "tickTime": "2000", "snapCount": "100000"}
# Lines that carry a time measured by the tool itself.
TIMING = re.compile(r"^(Deserialized snapshot in .* seconds|Processed data tree in .* seconds)$")


def corral_binary(interop_servers) -> str:
    if os.environ.get("CORRAL_ORACLE_ONLY") == "1" or not interop_servers.corral_bin:
        pytest.skip("needs the corral binary (CORRAL_BIN): the tools are Corral's")
    return interop_servers.corral_bin


def corral(binary: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    if ok:
        assert done.returncode == 0, f"corral {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def zk_tool(main_class: str, *args: str) -> subprocess.CompletedProcess:
    """One of ZooKeeper's own tools from its jar (commons-cli parses their options)."""
    cp = zookeeper_classpath() + ":" + str(JAVA_DIR / "commons-cli.jar")
    cmd = ["java", "-XX:+UseSerialGC", "-cp", cp, main_class, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)


def kill9(server: Server) -> None:
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.proc = None
    server.stop()  # nothing left to kill: its temp dir and its place in the registry go


def client(server: Server) -> KazooClient:
    kz = KazooClient(hosts=server.addr, timeout=30)
    kz.start(timeout=15)
    return kz


def tree_of(server: Server) -> dict[str, tuple[int, list[str]]]:
    """Every znode: its data length and children, through kazoo."""
    kz = client(server)
    nodes = {}
    try:
        stack = ["/"]
        while stack:
            path = stack.pop()
            data, _ = kz.get(path)
            children = sorted(kz.get_children(path))
            nodes[path] = (len(data or b""), children)
            stack.extend(path.rstrip("/") + "/" + c for c in children)
    finally:
        kz.stop()
        kz.close()
    return nodes


def expected_summary(nodes: dict[str, tuple[int, list[str]]], start: str) -> dict[str, tuple[int, int]]:
    """SnapshotRecursiveSummary's figures: per znode with children, the znodes below it and
    the data bytes of it and all below it."""
    figures = {}

    def walk(path: str) -> tuple[int, int]:
        size, children = nodes[path]
        count, total = 1, size
        for c in children:
            n, b = walk(path.rstrip("/") + "/" + c)
            count, total = count + n, total + b
        if children:
            figures[path] = (count - 1, total)
        return count, total

    walk(start)
    return figures


def parse_summary(text: str) -> dict[str, tuple[int, int, int]]:
    """Path -> (level, children, data) from the summary's three lines per node."""
    lines = text.splitlines()
    out = {}
    for i in range(0, len(lines) - 2, 3):
        head = re.fullmatch(r"((?:--)*) (/.*)", lines[i])
        kids = re.fullmatch(r"(?:--)*   children: (\d+)", lines[i + 1])
        data = re.fullmatch(r"(?:--)*   data: (\d+)", lines[i + 2])
        assert head and kids and data, lines[i : i + 3]
        out[head.group(2)] = (len(head.group(1)) // 2, int(kids.group(1)), int(data.group(1)))
    assert lines[len(out) * 3 :] in ([], [""]), text
    return out


def newest_snapshot(data_dir: Path) -> Path:
    snaps = sorted((data_dir / "version-2").glob("snapshot.*"), key=lambda p: int(p.name.split(".")[1], 16))
    assert snaps, f"no snapshot in {data_dir}"
    return snaps[-1]


def restart_zk(data_dir: Path) -> Server:
    """ZooKeeper on `data_dir`: at start it writes a snapshot of what it loaded (no client
    yet, so it is exact, not fuzzy)."""
    return Server("zookeeper", {**ZK_CONFIG, "dataDir": str(data_dir)}).start()


def write_phase_one(server: Server) -> None:
    kz = client(server)
    try:
        kz.create("/app", b"r" * 10)
        kz.create("/app/cfg", b"c" * 300)
        kz.create("/app/empty", None)
        for i in range(12):
            kz.create(f"/app/items/i{i:02d}", b"v" * (i * 7), makepath=True)
        kz.create("/app/deep/a/b/c/d", b"leaf", makepath=True)
        kz.create("/gone/x", b"xx", makepath=True)
        for i in range(30):
            kz.create(f"/bulk/n{i:03d}", f"value {i}".encode(), makepath=True)
    finally:
        kz.stop()
        kz.close()


def write_phase_two(server: Server) -> None:
    kz = client(server)
    try:
        kz.delete("/gone", recursive=True)
        kz.set("/app/cfg", b"c" * 900)
        for i in range(12, 20):
            kz.create(f"/app/items/i{i:02d}", b"w" * 50)
        kz.create("/new/sub/leaf", b"n" * 123, makepath=True)
        for i in range(0, 30, 3):
            kz.delete(f"/bulk/n{i:03d}")
    finally:
        kz.stop()
        kz.close()


def without_timing(text: str) -> list[str]:
    return [line for line in text.splitlines() if not TIMING.match(line)]


def test_snapshot_summary_and_compare(interop_servers, tmp_path: Path):
    binary = corral_binary(interop_servers)
    data = tmp_path / "zk-data"
    data.mkdir()
    zk = restart_zk(data)
    try:
        write_phase_one(zk)
        kill9(zk)
        zk = restart_zk(data)
        first = newest_snapshot(data)
        live_one = tree_of(zk)
        write_phase_two(zk)
        kill9(zk)
        zk = restart_zk(data)
        second = newest_snapshot(data)
        assert second != first
    finally:
        zk.stop()

    # Summary: the figures kazoo counts on the tree the snapshot holds.
    for start, depth in (("/", 0), ("/app", 0), ("/app", 1), ("/", 2)):
        got = parse_summary(corral(binary, "snapshot", "summary", str(first), start, str(depth)).stdout)
        want = expected_summary(live_one, start)
        base = 0 if start == "/" else start.count("/")
        want = {
            p: f
            for p, f in want.items()
            if depth == 0 or (0 if p == start else p.count("/") - base) <= depth
        }
        assert {p: (c, d) for p, (_, c, d) in got.items()} == want, (start, depth)
        for p, (level, _, _) in got.items():
            assert level == (0 if p == start else p.count("/") - base), p
    # The same on the Corral snapshot `corral import` makes of the same data (its own dataDir:
    # only the first snapshot and the log up to it).
    zk_copy = tmp_path / "zk-first"
    (zk_copy / "version-2").mkdir(parents=True)
    shutil.copy(first, zk_copy / "version-2")
    imported = tmp_path / "corral-first"
    corral(binary, "import", "--from", str(zk_copy), "--to", str(imported))
    corral_first = newest_snapshot(imported)
    assert corral_first.read_bytes()[:4] == b"CRSN"
    for start in ("/", "/app"):
        ours_zk = corral(binary, "snapshot", "summary", str(first), start, "0").stdout
        ours_corral = corral(binary, "snapshot", "summary", str(corral_first), start, "0").stdout
        assert ours_corral == ours_zk

    # Compare: ZooKeeper's own SnapshotComparer on the same two snapshots.
    for bytes_, nodes in (("0", "0"), ("100", "2")):
        args = ["-l", str(first), "-r", str(second), "-b", bytes_, "-n", nodes]
        theirs = zk_tool("org.apache.zookeeper.server.SnapshotComparer", *args)
        assert theirs.returncode == 0, theirs.stderr
        ours = corral(binary, "snapshot", "compare", *args).stdout
        assert without_timing(ours) == without_timing(theirs.stdout)
        assert "found only in left tree" in theirs.stdout or bytes_ != "0"
        # Corral's snapshot of the first state on the left: the same comparison.
        mixed = corral(binary, "snapshot", "compare", *args[:1], str(corral_first), *args[2:]).stdout
        assert without_timing(mixed) == without_timing(theirs.stdout)


def log_records(binary: str, log: Path) -> list[dict]:
    lines = corral(binary, "log", "dump", "--json", str(log)).stdout.splitlines()
    return [json.loads(line) for line in lines if '"zxid"' in line]


def test_zookeeper_log_dump_and_recover(interop_servers, tmp_path: Path):
    binary = corral_binary(interop_servers)
    data = tmp_path / "zk-data"
    data.mkdir()
    zk = restart_zk(data)
    try:
        write_phase_one(zk)
        write_phase_two(zk)
    finally:
        zk.stop()
    logs = sorted((data / "version-2").glob("log.*"))
    assert logs
    log = max(logs, key=lambda p: p.stat().st_size)
    theirs = zk_tool("org.apache.zookeeper.server.persistence.TxnLogToolkit", "--dump", str(log))
    assert theirs.returncode == 0, theirs.stderr
    their_zxids = re.findall(r" zxid 0x([0-9a-f]+) ", theirs.stdout)
    their_count = re.search(r"EOF reached after (\d+) txns\.", theirs.stdout)
    records = log_records(binary, log)
    assert their_count and int(their_count.group(1)) == len(records) == len(their_zxids) > 50
    assert [int(z, 16) for z in their_zxids] == [r["zxid"] for r in records]
    text = corral(binary, "log", "dump", str(log)).stdout
    assert f"EOF reached after {len(records)} txns." in text
    assert "CRC ERROR" not in text

    # A damaged checksum: both tools write <log>.fixed; the two files hold the same records.
    victim = records[len(records) // 2]
    damaged = bytearray(log.read_bytes())
    damaged[victim["offset"] + 5] ^= 0x5A
    for side in ("zk", "corral"):
        (tmp_path / side).mkdir()
        (tmp_path / side / log.name).write_bytes(damaged)
    dump = corral(binary, "log", "dump", str(tmp_path / "corral" / log.name)).stdout
    assert len([line for line in dump.splitlines() if line.startswith("CRC ERROR - ")]) == 1, dump
    assert f"zxid 0x{victim['zxid']:x} " in next(line for line in dump.splitlines() if "CRC ERROR" in line)
    theirs = zk_tool("org.apache.zookeeper.server.persistence.TxnLogToolkit", "--recover", "--yes", str(tmp_path / "zk" / log.name))
    assert "with 1 fixed CRC error(s)" in theirs.stdout, theirs.stdout + theirs.stderr
    ours = corral(binary, "log", "recover", str(tmp_path / "corral" / log.name)).stdout
    assert "with 1 fixed CRC error(s)" in ours, ours
    assert f"zxid 0x{victim['zxid']:x} " in ours
    their_fixed = (tmp_path / "zk" / (log.name + ".fixed")).read_bytes().rstrip(b"\0")
    our_fixed = (tmp_path / "corral" / (log.name + ".fixed")).read_bytes()
    assert our_fixed == their_fixed == log.read_bytes().rstrip(b"\0")
    # A second recovery does not overwrite the first one's file.
    again = corral(binary, "log", "recover", str(tmp_path / "corral" / log.name), ok=False)
    assert again.returncode != 0 and "exists" in again.stderr

    # Chop at a zxid: ZooKeeper's TxnLogToolkit --chop and `corral log truncate --zxid` on a
    # ZooKeeper log write the same <log>.chopped<zxid>; the log itself stays as it was.
    keep = records[len(records) // 3]["zxid"]
    for side in ("zk-chop", "corral-chop"):
        (tmp_path / side).mkdir()
        shutil.copy(log, tmp_path / side / log.name)
    theirs = zk_tool("org.apache.zookeeper.server.persistence.TxnLogToolkit", "--chop", "--zxid", hex(keep), str(tmp_path / "zk-chop" / log.name))
    assert f"Chopping at {keep:x} new log has" in theirs.stdout, theirs.stdout + theirs.stderr
    ours = corral(binary, "log", "truncate", "--zxid", hex(keep), str(tmp_path / "corral-chop" / log.name)).stdout
    chopped = f"{log.name}.chopped{keep}"
    assert chopped in ours, ours
    their_chop = (tmp_path / "zk-chop" / chopped).read_bytes()
    assert (tmp_path / "corral-chop" / chopped).read_bytes() == their_chop
    assert [r["zxid"] for r in log_records(binary, tmp_path / "corral-chop" / chopped)] == [
        r["zxid"] for r in records if r["zxid"] <= keep
    ]
    assert (tmp_path / "corral-chop" / log.name).read_bytes() == log.read_bytes()


def children(server: Server, path: str) -> list[str]:
    kz = client(server)
    try:
        return sorted(kz.get_children(path))
    finally:
        kz.stop()
        kz.close()


def corral_server(binary: str, data: Path) -> Server:
    return Server("corral", {"dataDir": str(data), "snapCount": "100000", "preAllocSize": "64"}, corral_bin=binary).start()


def test_corral_log_truncate(interop_servers, tmp_path: Path):
    binary = corral_binary(interop_servers)
    data = tmp_path / "corral-data"
    data.mkdir()
    server = corral_server(binary, data)
    try:
        kz = client(server)
        kz.create("/t", b"")
        czxids = [kz.create(f"/t/n{i:02d}", b"x" * i) and kz.exists(f"/t/n{i:02d}").czxid for i in range(20)]
        kz.stop()
        kz.close()
        kill9(server)
        log_dir = data / "version-2"
        before = {p.name: p.read_bytes() for p in log_dir.iterdir()}

        # By zxid: a dry run first (nothing changes), then the cut.
        keep = czxids[9]
        plan = corral(binary, "log", "truncate", "--zxid", hex(keep), str(data)).stdout
        removed = [int(z, 16) for z in re.findall(r"removes the record at offset \d+ zxid 0x([0-9a-f]+)", plan)]
        assert czxids[10:] == [z for z in removed if z in czxids], plan
        assert "dry run" in plan
        assert {p.name: p.read_bytes() for p in log_dir.iterdir()} == before
        done = corral(binary, "log", "truncate", "--zxid", hex(keep), "--yes", str(data)).stdout
        assert "cut done" in done and "removed bytes are kept in" in done, done
        server = corral_server(binary, data)
        assert children(server, "/t") == [f"n{i:02d}" for i in range(10)]

        # The durability note's gap: a later record reached the disk, an earlier one did not.
        kz = client(server)
        later = [kz.create(f"/t/m{i:02d}", b"y" * 3) and kz.exists(f"/t/m{i:02d}").czxid for i in range(10)]
        kz.stop()
        kz.close()
        kill9(server)
        segment = max(
            (p for p in log_dir.glob("log.*") if re.fullmatch(r"log\.[0-9a-f]+", p.name)),
            key=lambda p: int(p.name[4:], 16),
        )
        records = log_records(binary, segment)
        lost = next(r for r in records if r["zxid"] == later[4])
        nxt = next(r for r in records if r["zxid"] == later[5])
        raw = bytearray(segment.read_bytes())
        raw[lost["offset"] : nxt["offset"]] = bytes(nxt["offset"] - lost["offset"])
        segment.write_bytes(raw)
        refused = Server("corral", {"dataDir": str(data)}, corral_bin=binary)
        with pytest.raises(Exception):
            refused.start()
        refused.stop()
        dump = corral(binary, "log", "dump", str(segment)).stdout
        corrupt = re.search(r"CORRUPT at offset (\d+)", dump)
        assert corrupt and int(corrupt.group(1)) == lost["offset"], dump
        inside = corral(binary, "log", "truncate", "--offset", str(lost["offset"] + 3), "--yes", str(segment), ok=False)
        assert inside.returncode != 0 and "cannot cut" in inside.stderr, inside.stderr
        assert segment.read_bytes() == bytes(raw)
        cut = corral(binary, "log", "truncate", "--offset", corrupt.group(1), "--yes", str(segment)).stdout
        assert "damaged bytes at offset" in cut, cut
        server = corral_server(binary, data)
        assert children(server, "/t") == sorted([f"n{i:02d}" for i in range(10)] + [f"m{i:02d}" for i in range(4)])
    finally:
        server.stop()
