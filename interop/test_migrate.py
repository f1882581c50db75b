"""Migration both ways (issue 16): `corral import` from and `corral export` to real Apache
ZooKeeper 3.8 dataDirs, compared node for node through kazoo.

Import: ZooKeeper (snapCount small, so it snapshots while the load runs: fuzzy snapshots
replayed with the logs after them) gets persistent, ephemeral (a session still alive),
sequential, container and TTL nodes, digest / world / ip ACLs, a setACL, a quota, multis and
a bulk load through kazoo and zkCli, and nodes, a setData, a setACL, sequential nodes, a
container and ACLs through Apache ZooKeeper's C client (interop/c/zk_writes.c, built here
against libzookeeper_mt); it is killed with SIGKILL; `corral import` converts its dataDir; Corral starts on
the result and ZooKeeper restarts on its own copy; every node's data, Stat and ACL must be the
same on both. Export: the same load on Corral, SIGKILL, `corral export`, ZooKeeper starts on
the export and Corral restarts on its own copy; the same comparison.

CORRAL_MIGRATE_NODES (default 400) sizes the bulk load: 100000+ is the large run
(minutes: kazoo writes a few thousand nodes a second); its timings are printed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, make_digest_acl

from harness import zkcli
from harness.servers import Server, four_letter

BULK = int(os.environ.get("CORRAL_MIGRATE_NODES", "400"))
WRITE_TIMEOUT_S = 60.0 + BULK / 500.0
ZK_CONFIG = {
    "snapCount": "40",
    "preAllocSize": "64",
    "tickTime": "2000",
    "maxSessionTimeout": "1800000",
}
# The ephemerals' session must outlive the whole comparison (minutes for a large run).
OWNER_TIMEOUT_S = 90.0 + BULK / 200.0
DIGEST_ACL = make_digest_acl("alice", "secret", all=True)
READ_ACL = ACL(1, Id("world", "anyone"))
IP_ACL = ACL(31, Id("ip", "127.0.0.1"))


def corral_binary(interop_servers) -> str:
    if os.environ.get("CORRAL_ORACLE_ONLY") == "1" or not interop_servers.corral_bin:
        pytest.skip("needs the corral binary (CORRAL_BIN): import/export are Corral tools")
    return interop_servers.corral_bin


def client(server: Server, timeout: float = 60.0) -> KazooClient:
    kz = KazooClient(hosts=server.addr, timeout=timeout)
    kz.start(timeout=15)
    return kz


def kill9(server: Server) -> None:
    """SIGKILL the server's process group and wait for it: what is on disk is all there is."""
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)


def load(server: Server, fuzzy_check=None) -> list[KazooClient]:
    """Writes the scenario; returns its clients, still connected (one owns ephemerals)."""
    kz = client(server)
    kz.add_auth("digest", "alice:secret")
    kz.create("/app", b"root of app")
    kz.create("/app/cfg", b"x" * 300)
    kz.set("/app/cfg", b"second")
    kz.create("/app/secret", b"s", acl=[DIGEST_ACL])
    kz.create("/app/readonly", b"r", acl=[READ_ACL, DIGEST_ACL])
    kz.create("/app/local", b"ip", acl=[IP_ACL])
    kz.set_acls("/app/cfg", [READ_ACL, IP_ACL, DIGEST_ACL])
    kz.create("/app/nulldata", None)
    seq = [kz.create("/app/seq-", b"s", sequence=True) for _ in range(6)]
    kz.delete(seq[1])
    kz.delete(seq[4])
    # Containers, TTL nodes and quotas through zkCli (kazoo has no container or TTL create).
    commands = [
        "create -c /cont c",
        "create /cont/child kid",
        "create -t 3600000 /ttl t",
        "create /ttl/under u",
        "setquota -n 100000000 /app",
    ]
    code, out = zkcli._run(["-server", server.addr], "".join(c + "\n" for c in commands) + "quit\n", 60.0)
    assert code == 0 and "Exception" not in out, out
    tx = kz.transaction()
    tx.create("/app/multi", b"m")
    tx.check("/app", 0)
    tx.set_data("/app/cfg", b"third")
    tx.create("/app/multi/child", b"mc")
    tx.delete("/app/nulldata")
    assert all(not isinstance(r, Exception) for r in tx.commit())
    failed = kz.transaction()
    failed.create("/app/never", b"n")
    failed.check("/app", 99)
    assert any(isinstance(r, Exception) for r in failed.commit())
    kz.create("/bulk", b"")
    pending = [
        kz.create_async(f"/bulk/n{i:07d}", f"value {i}".encode()) for i in range(BULK)
    ]
    deadline = time.monotonic() + WRITE_TIMEOUT_S
    for p in pending:
        p.get(timeout=max(0.1, deadline - time.monotonic()))
    for i in range(0, min(BULK, 200), 7):
        kz.set(f"/bulk/n{i:07d}", b"changed")
    for i in range(3, min(BULK, 200), 11):
        kz.delete(f"/bulk/n{i:07d}")
    owner = client(server, timeout=OWNER_TIMEOUT_S)
    owner.create("/app/eph", b"alive", ephemeral=True)
    owner.create("/app/eseq-", b"e", ephemeral=True, sequence=True)
    if fuzzy_check is not None:
        # Pipelined bursts (snapshots start while txns are in flight) until ZooKeeper's
        # newest snapshot is fuzzy: written while later txns were applied.
        for burst in range(25):
            sets = [
                kz.set_async(f"/bulk/n{i:07d}", f"burst {burst}".encode())
                for i in range(0, min(BULK, 1000), 2)
                if i % 11 != 3
            ]
            for p in sets:
                p.get(timeout=WRITE_TIMEOUT_S)
            if fuzzy_check():
                break
    # Both sessions stay open: a closeSession now could start one more snapshot.
    return [owner, kz]


C_WRITES = Path(__file__).resolve().parent / "c" / "zk_writes.c"
C_ROOT = "/capp"


def c_client_writes(server: Server, build_dir: Path) -> list[str]:
    """Builds interop/c/zk_writes.c against the C client and runs it; the paths it created."""
    if not Path("/usr/include/zookeeper/zookeeper.h").exists():
        pytest.fail(
            "the C client's headers are missing: apt-get install libzookeeper-mt-dev "
            "(`cargo xtask interop` installs it)",
            pytrace=False,
        )
    binary = build_dir / "zk_writes"
    cc = ["gcc", "-O2", "-Wall", "-DTHREADED", str(C_WRITES), "-lzookeeper_mt", "-lpthread", "-o", str(binary)]
    built = subprocess.run(cc, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, f"{' '.join(cc)}:\n{built.stderr}"
    done = subprocess.run([str(binary), server.addr, C_ROOT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"zk_writes failed:\n{done.stdout}\n{done.stderr}"
    return [line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("created ")]


def check_c_writes(nodes: dict, created: list[str]) -> None:
    """What the C client wrote is there, as written."""
    assert sorted(p for p in nodes if p.startswith(C_ROOT + "/") or p == C_ROOT) == sorted(created)
    seqs = sorted(p for p in created if p.startswith(C_ROOT + "/seq-"))
    # Numbered by the parent's cversion: /capp/plain was created first.
    assert seqs == [f"{C_ROOT}/seq-{i:010d}" for i in range(1, 4)], seqs
    data, stat, acl, _ = nodes[C_ROOT + "/plain"]
    # ZnodeStat: version at 4, aversion at 6.
    assert (data, stat[4], stat[6]) == (b"second", 1, 1), (data, stat)
    assert acl == [(31, "ip", "127.0.0.1")]
    assert nodes[C_ROOT + "/mine"][2] == [(31, "digest", DIGEST_ACL.id.id)]
    assert nodes[C_ROOT + "/readonly"][2] == [(1, "world", "anyone")]
    assert nodes[C_ROOT + "/cont"][3] == ["kid"]


def zxid_of(snapshot: Path) -> int:
    return int(snapshot.name.split(".")[1], 16)


def fuzzy_snapshots(data_dir: Path) -> list[Path]:
    """ZooKeeper's complete (gz) snapshots whose digest zxid is above their name's: written
    while later txns were applied. The stream ends with seal, digest zxid, version, digest,
    seal; read as ZooKeeper's GZIPInputStream does, up to the last seal (a gzip trailer not
    yet written does not matter)."""
    found = []
    for snap in sorted((data_dir / "version-2").glob("snapshot.*.gz"), key=zxid_of):
        try:
            raw = zlib.decompressobj(wbits=31).decompress(snap.read_bytes())
        except (OSError, zlib.error):
            continue
        if raw.endswith(b"\x00\x00\x00\x01/") and int.from_bytes(raw[-33:-25], "big") > zxid_of(snap):
            found.append(snap)
    return found


def snapshot_of(server: Server) -> dict[str, tuple]:
    """Every node: data, Stat, ACL, children; read level by level, pipelined."""
    kz = client(server)
    kz.add_auth("digest", "alice:secret")
    nodes = {}
    level = ["/"]
    try:
        while level:
            below = []
            for start in range(0, len(level), 2000):
                chunk = level[start : start + 2000]
                calls = [(p, kz.get_async(p), kz.get_acls_async(p), kz.get_children_async(p)) for p in chunk]
                for path, got, acls, children in calls:
                    data, stat = got.get(timeout=60)
                    acl_list, _ = acls.get(timeout=60)
                    names = sorted(children.get(timeout=60))
                    nodes[path] = (data, tuple(stat), [(a.perms, a.id.scheme, a.id.id) for a in acl_list], names)
                    below.extend(path.rstrip("/") + "/" + c for c in names)
            level = below
    finally:
        kz.stop()
        kz.close()
    return nodes


def compare(expected: dict, actual: dict) -> None:
    assert sorted(expected) == sorted(actual)
    diffs = [
        f"{p}:\n  zookeeper {expected[p][:3]}\n  other     {actual[p][:3]}"
        + ("" if expected[p][3] == actual[p][3] else f"\n  children differ: {len(expected[p][3])} vs {len(actual[p][3])}")
        for p in sorted(expected)
        if expected[p] != actual[p]
    ]
    assert not diffs, "\n".join(diffs[:20])


def run_corral(binary: str, *args: str) -> str:
    # GNU time (Debian's `time` package) reports the peak memory, when it is installed.
    timer = ["/usr/bin/time", "-f", "max RSS %M KiB, %e s"] if os.path.exists("/usr/bin/time") else []
    cmd = [*timer, binary, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def started(kind: str, config: dict[str, str], binary: str | None = None) -> tuple[Server, float]:
    t0 = time.monotonic()
    server = Server(kind, config, corral_bin=binary).start()
    return server, time.monotonic() - t0


def test_import_from_zookeeper(interop_servers, tmp_path: Path):
    binary = corral_binary(interop_servers)
    zk = Server("zookeeper", {**ZK_CONFIG, "snapshot.compression.method": "gz"}).start()
    owners = []
    servers = []
    try:
        owners = load(zk, lambda: bool(fuzzy_snapshots(zk.workdir / "data")))
        c_created = c_client_writes(zk, tmp_path)
        check_c_writes(snapshot_of(zk), c_created)
        zxid_live = snapshot_of(zk)["/app/eph"][1][0]
        kill9(zk)
        fuzzy = fuzzy_snapshots(zk.workdir / "data")
        assert fuzzy, "ZooKeeper wrote no fuzzy snapshot"
        # Start from the newest fuzzy snapshot: the newer ones go (as if purged), so the
        # restart (ZooKeeper's and the import) replays the log over a fuzzy snapshot.
        source, for_zk = tmp_path / "zk-source", tmp_path / "zk-data"
        for copy in (source, for_zk):
            shutil.copytree(zk.workdir / "data", copy)
            for snap in (copy / "version-2").glob("snapshot.*"):
                if zxid_of(snap) > zxid_of(fuzzy[-1]):
                    snap.unlink()
        corral_data = tmp_path / "corral-data"
        out = run_corral(binary, "import", "--from", str(source), "--to", str(corral_data))
        print(out)
        assert "imported" in out and "is fuzzy" in out, out
        checked = re.search(r"\((\d+) digests checked\)", out)
        assert checked and int(checked.group(1)) > 0, out
        corral, corral_s = started("corral", {"dataDir": str(corral_data)}, binary)
        servers.append(corral)
        restarted, zk_s = started("zookeeper", {**ZK_CONFIG, "dataDir": str(for_zk)})
        servers.append(restarted)
        print(f"restart on the imported data: corral {corral_s:.2f} s, zookeeper {zk_s:.2f} s")
        expected = snapshot_of(restarted)
        assert expected["/app/eph"][1][0] == zxid_live
        assert "/app/never" not in expected and len(expected) > BULK
        imported = snapshot_of(corral)
        compare(expected, imported)
        check_c_writes(imported, c_created)
        # Both go on from the same zxid: a new write gets the same czxid.
        for s in (restarted, corral):
            kz = client(s)
            kz.create("/after", b"a")
            s.after = kz.exists("/after").czxid
            kz.stop()
            kz.close()
        assert restarted.after == corral.after
    finally:
        for c in owners:
            c.stop()
            c.close()
        for s in servers + [zk]:
            s.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_export_to_zookeeper(interop_servers, tmp_path: Path):
    binary = corral_binary(interop_servers)
    # preAllocSize in KiB: the copies below would make 64 MiB of zeros per log segment real.
    config = {
        "snapCount": "40",
        "preAllocSize": "64",
        "extendedTypesEnabled": "true",
        "maxSessionTimeout": "1800000",
    }
    corral = Server("corral", config, corral_bin=binary).start()
    owners = []
    servers = []
    try:
        owners = load(corral)
        kill9(corral)
        source = corral.workdir / "data"
        for_corral = tmp_path / "corral-data"
        shutil.copytree(source, for_corral)
        zk_data = tmp_path / "zk-data"
        out = run_corral(binary, "export", "--from", str(source), "--to", str(zk_data), "--compression", "snappy")
        print(out)
        assert "exported" in out
        restarted, _ = started("corral", {**config, "dataDir": str(for_corral)}, binary)
        servers.append(restarted)
        zk, _ = started("zookeeper", {**ZK_CONFIG, "dataDir": str(zk_data), "snapshot.compression.method": "snappy"})
        servers.append(zk)
        compare(snapshot_of(restarted), snapshot_of(zk))
        # ZooKeeper compared the export's digest with the tree it loaded.
        log = zk.log_path.read_text(errors="replace") if zk.log_path else ""
        assert "The digest in the snapshot has digest version of 2" in log, log[-3000:]
        assert "Digests are not matching" not in log, log[-3000:]
        assert "zk_digest_mismatches_count\t0" in four_letter(zk.host, zk.port, "mntr")
        # And back again: ZooKeeper rewrote the snapshot itself at start (snappy, through
        # snappy-java) and logged the comparison's sessions; import that and compare again.
        kill9(zk)
        log = zk.log_path.read_text(errors="replace") if zk.log_path else ""
        assert re.search(r"Snapshotting: 0x[0-9a-f]+ to \S+\.snappy", log), log[-3000:]
        again = tmp_path / "corral-again"
        out = run_corral(binary, "import", "--from", str(zk_data), "--to", str(again))
        assert "imported" in out, out
        reimported, _ = started("corral", {**config, "dataDir": str(again)}, binary)
        servers.append(reimported)
        compare(snapshot_of(restarted), snapshot_of(reimported))
    finally:
        for c in owners:
            c.stop()
            c.close()
        for s in servers + [corral]:
            s.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
