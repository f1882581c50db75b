"""The AdminServer (issue 16): every command of Apache ZooKeeper 3.8's AdminServer, asked of
ZooKeeper's own (Jetty, from Debian's jars) and of Corral's, standalone and on 3-server
ensembles, after the same client work.

Compared: the index page, the HTTP statuses (404 outside the command URL, 405 for POST, 200
with an `error` field for an unknown command), every command's field names and JSON value
types (recursively; maps keyed by session ids, paths, times or server ids compared by the
shape of their values), and the values that must agree: ruok, is_read_only, server_state,
the zxid and node count after the same writes, the watches and ephemerals of the session
(session ids normalised), trace masks, the standalone answers of the ensemble-only commands,
and on ensembles the leader, ZAB state and voting view each member reports.

Known differences, checked as such rather than skipped: `environment` and
`system_properties` hold Java's properties (Corral reports the subset that means something
for a native process, every one a string under Java's name); `monitor` has the keys of
Corral's `mntr` (each must be one of ZooKeeper's, with ZooKeeper's type; how many ZooKeeper
keys Corral lacks is printed).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from contextlib import ExitStack

import pytest
from kazoo.client import KazooClient

from harness.ensemble import Ensemble, EnsembleError
from harness.kz import stop_client
from harness.scenario import env_flag
from harness.servers import FREE_PORT, Server, ServerStartError

ADMIN = {
    "admin.enableServer": "true",
    "admin.serverAddress": "127.0.0.1",
    "admin.serverPort": FREE_PORT,
}
HTTP_TIMEOUT_S = 10.0
# Maps whose keys are data (session ids, expiry times, paths, server ids), not field names.
DATA_KEYED = {
    "expiry_time_to_session_ids",
    "session_id_to_ephemeral_paths",
    "session_id_to_watched_paths",
    "path_to_session_ids",
    "current_config",
}
# Java's properties: Corral reports a subset (see the module doc).
JAVA_PROPERTIES = {"environment", "system_properties"}
# Writes before the comparison: past 128 zxids, so `hash` has a digest to show.
NODES = 130
# How long a member left alone may take to notice it has no quorum.
LOOKING_TIMEOUT_S = 30.0
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


def http(port: int, path: str, method: str = "GET") -> tuple[int, str, str]:
    """(status, Content-Type, body) of one request to the AdminServer on `port`."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode(errors="replace")
    except urllib.error.URLError as e:
        raise AssertionError(
            f"no AdminServer on 127.0.0.1:{port} ({e.reason}); for ZooKeeper it needs "
            "/usr/share/java/servlet-api.jar and jetty9-*.jar (Debian's libjetty9-java, "
            "a dependency of libzookeeper-java) on its class path"
        ) from e


def command(port: int, name: str) -> dict:
    status, ctype, body = http(port, f"/commands/{name}")
    assert status == 200, f"/commands/{name}: HTTP {status}\n{body}"
    assert ctype.startswith("application/json"), f"/commands/{name}: Content-Type {ctype}"
    return json.loads(body)


def jtype(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if v is None:
        return "null"
    return "object" if isinstance(v, dict) else "array"


def shape(v, path: str = "") -> set[str]:
    """`path: type` for v and everything in it; data-keyed maps' keys become `*`, array
    elements `[]`."""
    out = {f"{path or '.'}: {jtype(v)}"}
    if isinstance(v, dict):
        data_keyed = path.rsplit(".", 1)[-1] in DATA_KEYED
        for k, x in v.items():
            out |= shape(x, f"{path}.{'*' if data_keyed else k}")
    elif isinstance(v, list):
        for x in v:
            out |= shape(x, f"{path}[]")
    return out


def index_names(port: int) -> list[str]:
    status, _, body = http(port, "/commands")
    assert status == 200, body
    return re.findall(r'<a href="/commands/([a-z_]+)">\1</a>', body)


def compare_shapes(name: str, zk: dict, corral: dict, problems: list[str],
                   label: str = "") -> None:
    """Field names and types of command `name`'s answers (problems say `label name: ...`)."""
    if label:
        label_problems: list[str] = []
        compare_shapes(name, zk, corral, label_problems)
        problems.extend(f"{label} {p}" for p in label_problems)
        return
    if name in JAVA_PROPERTIES:
        extra = set(corral) - set(zk) - {"command", "error"}
        if extra:
            problems.append(f"{name}: keys ZooKeeper does not have: {sorted(extra)}")
        wrong = [k for k, v in corral.items() if k not in ("error",) and not isinstance(v, str)]
        if wrong:
            problems.append(f"{name}: values that are not strings: {wrong}")
        for k in ("command", "error"):
            if corral.get(k, "absent") != zk.get(k, "absent"):
                problems.append(f"{name}: {k} {corral.get(k)!r}, ZooKeeper {zk.get(k)!r}")
        return
    if name == "monitor":
        # a leader's per-learner keys name the learner's id (avg_3_learner_handler_qp_size)
        def by_learner(m: dict) -> dict:
            return {re.sub(r"_\d+_learner_", "_<sid>_learner_", k): v for k, v in m.items()}

        zk, corral = by_learner(zk), by_learner(corral)
        missing = set(zk) - set(corral)
        print(f"monitor: Corral has {len(corral)} of ZooKeeper's {len(zk)} keys "
              f"({len(missing)} missing)")
        for k, v in corral.items():
            if k not in zk:
                problems.append(f"monitor: key {k!r} is not ZooKeeper's")
            elif jtype(v) != jtype(zk[k]) and not (jtype(zk[k]) == "float" and jtype(v) == "int"):
                problems.append(f"monitor: {k} is {jtype(v)}, ZooKeeper's {jtype(zk[k])}")
        return
    zs, cs = shape(zk), shape(corral)
    for line in sorted(zs - cs):
        problems.append(f"{name}: missing {line}")
    for line in sorted(cs - zs):
        problems.append(f"{name}: extra {line}")


def same(problems: list[str], what: str, zk, corral, names=("ZooKeeper", "Corral")) -> None:
    """Notes a problem unless zk == corral (`names` name the two sides)."""
    if zk != corral:
        problems.append(f"{what}: {names[1]} {corral!r}, {names[0]} {zk!r}")


def workload(hosts: str) -> tuple[KazooClient, int]:
    """The same client work on either server: a session with an ephemeral and a data watch,
    and NODES more creates. Returns the (still connected) client and its session id."""
    kz = KazooClient(hosts=hosts, timeout=10.0)
    kz.start(timeout=20)
    kz.create("/adm", b"x")
    kz.create("/adm/e", b"y", ephemeral=True)
    kz.get("/adm", watch=lambda e: None)
    kz.exists("/adm/e", watch=lambda e: None)
    kz.set("/adm", b"z")
    kz.get("/adm", watch=lambda e: None)
    for i in range(NODES):
        kz.create(f"/adm/n{i}", b"v")
    return kz, kz.client_id[0]


def sessions_normalised(v, sid: int):
    """v with the session id (a number, or a map key) replaced by '<sid>' and lists sorted
    (ZooKeeper lists its hash sets in hash order)."""
    if isinstance(v, dict):
        return {k.replace(str(sid), "<sid>"): sessions_normalised(x, sid) for k, x in v.items()}
    if isinstance(v, list):
        return sorted((sessions_normalised(x, sid) for x in v), key=json.dumps)
    return "<sid>" if v == sid else v


# --- standalone ---------------------------------------------------------------------


def binary_of(kind: str, pool) -> str | None:
    """The corral binary for kind 'corral' (None for ZooKeeper); fails if there is none."""
    if kind == "zookeeper":
        return None
    if pool.corral_problem:
        pytest.fail(pool.corral_problem, pytrace=False)
    return pool.corral_bin


@pytest.fixture(scope="module")
def standalone_pair(interop_servers):
    with ExitStack() as stack:
        servers = {}
        for kind in ("zookeeper", "corral"):
            server = Server(kind, ADMIN, corral_bin=binary_of(kind, interop_servers))
            stack.callback(server.stop)
            try:
                server.start()
            except ServerStartError as e:
                pytest.fail(f"{kind} did not start with its AdminServer:\n{e}", pytrace=False)
            kz, sid = workload(server.addr)
            stack.callback(stop_client, kz)
            servers[kind] = (server, server.ports["admin.serverPort"], sid)
        yield servers


def test_admin_http_surface(standalone_pair):
    (_, zk_port, _), (_, c_port, _) = standalone_pair["zookeeper"], standalone_pair["corral"]
    problems: list[str] = []
    same(problems, "index page", http(zk_port, "/commands")[2], http(c_port, "/commands")[2])
    same(problems, "index page (trailing /)", http(zk_port, "/commands/")[2],
         http(c_port, "/commands/")[2])
    assert len(index_names(zk_port)) == 26, "ZooKeeper 3.8 registers 26 commands"
    same(problems, "status outside the command URL", http(zk_port, "/other")[0],
         http(c_port, "/other")[0])
    same(problems, "status of a POST", http(zk_port, "/commands/ruok", "POST")[0],
         http(c_port, "/commands/ruok", "POST")[0])
    for path in ("/commands/nosuch", "/commands/ruok/x", "/commands/stmk",
                 "/commands/stmk?traceMask=abc", "/commands/set_trace_mask?traceMask=306",
                 "/commands/gtmk", "/commands/ruok", "/commands/isro"):
        zs, _, zb = http(zk_port, path)
        cs, _, cb = http(c_port, path)
        same(problems, f"GET {path}", (zs, json.loads(zb)), (cs, json.loads(cb)))
    assert not problems, "\n".join(problems)


def test_admin_every_command_standalone(standalone_pair):
    zk_server, zk_port, zk_sid = standalone_pair["zookeeper"]
    c_server, c_port, c_sid = standalone_pair["corral"]
    names = index_names(zk_port)
    assert names == index_names(c_port)
    problems: list[str] = []
    answers = {}
    for name in names:
        zk, corral = command(zk_port, name), command(c_port, name)
        answers[name] = (zk, corral)
        compare_shapes(name, zk, corral, problems)
        same(problems, f"{name}: command/error", (zk.get("command"), zk.get("error")),
             (corral.get("command"), corral.get("error")))
    # every short name answers as its command
    for short, primary in (("stat", "stats"), ("srvr", "server_stats"), ("conf", "configuration"),
                           ("mntr", "monitor"), ("wchc", "watches"), ("lsnp", "last_snapshot")):
        same(problems, f"{short}'s command", primary, command(c_port, short)["command"])
        same(problems, f"{short}'s command (ZooKeeper)", primary, command(zk_port, short)["command"])

    def both(name, f):
        zk, corral = answers[name]
        return f(zk, zk_sid, zk_server), f(corral, c_sid, c_server)

    checks = {
        "server_state": ("server_stats", lambda a, s, srv: a["server_stats"]["server_state"]),
        "zxid after the same writes": (
            "server_stats", lambda a, s, srv: a["server_stats"]["last_processed_zxid"]),
        "node count": ("server_stats", lambda a, s, srv: a["node_count"]),
        "connections": ("stats", lambda a, s, srv: len(a["connections"])),
        "session's connection": ("connections", lambda a, s, srv: [
            (c["session_id"] == s, c["session_timeout"], c["last_operation"])
            for c in a["connections"]]),
        "watches": ("watches", lambda a, s, srv: sessions_normalised(a, s)),
        "watches by path": ("watches_by_path", lambda a, s, srv: sessions_normalised(a, s)),
        "watch summary": ("watch_summary", lambda a, s, srv: a),
        "ephemerals": ("dump", lambda a, s, srv: sessions_normalised(
            a["session_id_to_ephemeral_paths"], s)),
        # ZooKeeper's expiry queue can still list a set emptied a moment ago
        "sessions by expiry": ("dump", lambda a, s, srv: sessions_normalised(
            [ids for ids in a["expiry_time_to_session_ids"].values() if ids], s)),
        "digest zxids": ("hash", lambda a, s, srv: [d["zxid"] for d in a["digests"]]),
        "configuration": ("configuration", lambda a, s, srv: {
            **a, "client_port": a["client_port"] == srv.port,
            "data_dir": a["data_dir"] == f"{srv.workdir}/data/version-2",
            "data_log_dir": a["data_log_dir"] == f"{srv.workdir}/data/version-2"}),
        "initial configuration": ("initial_configuration", lambda a, s, srv:
                                  a["initial_configuration"] == srv.workdir.joinpath(
                                      "zoo.cfg").read_text()),
        "last snapshot zxid is hex": ("last_snapshot", lambda a, s, srv: bool(
            re.fullmatch(r"[0-9a-f]+", a["zxid"]))),
        "dirs": ("dirs", lambda a, s, srv: (a["datadir_size"] > 0, a["logdir_size"] > 0)),
        "environment": ("environment", lambda a, s, srv: (
            a["user.dir"] == str(srv.workdir), a["os.name"], a["os.arch"],
            a["zookeeper.version"].startswith("3.8.0-"))),
        "monitor": ("monitor", lambda a, s, srv: (
            a["server_state"], a["znode_count"], a["ephemerals_count"],
            a["num_alive_connections"], a["watch_count"])),
    }
    for what, (name, f) in checks.items():
        zk_v, c_v = both(name, f)
        same(problems, what, zk_v, c_v)
    for name in ("ruok", "is_read_only", "leader", "observers", "voting_view", "zabstate",
                 "observer_connection_stat_reset", "get_trace_mask"):
        same(problems, name, *answers[name])
    assert not problems, "\n".join(problems)


# --- 3-server ensembles ---------------------------------------------------------------


def expected_voting_view(ens: Ensemble) -> dict[str, dict]:
    """voting_view as Debian's ZooKeeper 3.8.0 writes it: participant id -> its addresses."""
    return {
        str(m.sid): {
            "server_addresses": [f"{m.host}:{m.quorum_port}"],
            "election_addresses": [f"{m.host}:{m.election_port}"],
            "client_address": f"{m.host}:{m.client_port}",
            "learner_type": "participant",
        }
        for m in ens.members if not m.observer
    }


@pytest.fixture(scope="module")
def ensembles(interop_servers):
    with ExitStack() as stack:
        out = {}
        for kind in ("zookeeper", "corral"):
            # 3 voters and an observer (the leader's `observers` lists it)
            ens = Ensemble(kind, binary_of(kind, interop_servers), config=ADMIN, observers=1)
            stack.callback(ens.close)
            try:
                ens.start()
            except EnsembleError as e:
                pytest.fail(f"the {kind} ensemble did not start:\n{e}", pytrace=False)
            leader = ens.wait_leader()
            kz = KazooClient(hosts=leader.addr, timeout=10.0)
            kz.start(timeout=20)
            stack.callback(stop_client, kz)
            kz.create("/adm", b"x")
            kz.sync("/adm")
            # A write through the observer: a request it forwards to the leader.
            observer = next(m for m in ens.members if m.observer)
            on_observer = KazooClient(hosts=observer.addr, timeout=10.0)
            on_observer.start(timeout=20)
            stack.callback(stop_client, on_observer)
            on_observer.create("/adm/through-observer", b"o")
            out[kind] = (ens, leader)
        yield out


def test_admin_every_command_ensemble(ensembles):
    problems: list[str] = []
    answers: dict[str, dict[str, dict[str, dict]]] = {}
    for kind, (ens, leader) in ensembles.items():
        follower = next(m for m in ens.members if m is not leader and not m.observer)
        observer = next(m for m in ens.members if m.observer)
        for role, m in (("leader", leader), ("follower", follower)):
            port = m.ports["admin.serverPort"]
            per = answers.setdefault(role, {})
            # Before observer_connection_stat_reset (which the index lists first) resets them.
            observers = command(port, "observers")
            per[kind] = {name: command(port, name) for name in index_names(port)}
            a = per[kind]
            got = {
                "server_state": a["server_stats"]["server_stats"]["server_state"],
                "leader": (a["leader"]["is_leader"], a["leader"]["leader_id"],
                           a["leader"]["leader_ip"], a["leader"]["error"]),
                "zabstate": (a["zabstate"]["voting"], a["zabstate"]["zabstate"],
                             a["zabstate"]["myid"], a["zabstate"]["is_leader"],
                             a["zabstate"]["quorum_address"]["one"],
                             a["zabstate"]["election_address"]["one"],
                             a["zabstate"]["client_address"]),
                "initial_configuration": a["initial_configuration"]["initial_configuration"],
                "voting_view": a["voting_view"]["current_config"],
                "server_id": a["configuration"]["server_id"],
                "observers": observers_seen(observers),
                "observers after observer_connection_stat_reset": [
                    (o["sid"], o["requests"], o["packets_sent"] <= 2, o["packets_received"] <= 2)
                    for o in a["observers"]["observers"]],
                "read_only": a["is_read_only"]["read_only"],
                "monitor server_state": a["monitor"]["server_state"],
                "dirs hold files": (a["dirs"]["datadir_size"] > 0, a["dirs"]["logdir_size"] > 0),
                "last_zxid is 0x-hex": bool(re.fullmatch(r"0x[0-9a-f]+",
                                                         a["zabstate"]["last_zxid"])),
            }
            want = {
                "server_state": role,
                "leader": (role == "leader", leader.sid, "127.0.0.1", None),
                "zabstate": (True, "broadcast", m.sid, role == "leader",
                             f"{m.host}:{m.quorum_port}", f"{m.host}:{m.election_port}", m.addr),
                # ZooKeeper keeps zoo.cfg's text only when standalone
                "initial_configuration": None,
                "voting_view": expected_voting_view(ens),
                "server_id": m.sid,
                # The leader's observing learner, as its LearnerHandler describes it; a
                # follower (no Observer Master) has none.
                "observers": (1, [{
                    "sid": observer.sid, "remote_socket_address": "/127.0.0.1:<port>",
                    "established": "ms since 1970, before now", "packets_sent": ">0",
                    "packets_received": ">0", "requests": ">0", "last_zxid": ">0",
                    "queued_packets": ">=0", "queued_packets_size": "int"}])
                if role == "leader" else (0, []),
                # counted from the reset on (a ping or two may have gone meanwhile)
                "observers after observer_connection_stat_reset":
                    [(observer.sid, 0, True, True)] if role == "leader" else [],
                "read_only": False,
                "monitor server_state": role,
                "dirs hold files": (True, True),
                "last_zxid is 0x-hex": True,
            }
            for k in want:
                same(problems, f"{kind} {role} {k}", want[k], got[k], ("wanted", "got"))
    for role, per in answers.items():
        for name, zk in per["zookeeper"].items():
            corral = per["corral"].get(name)
            if corral is None:
                problems.append(f"{role}: Corral has no {name}")
                continue
            compare_shapes(name, zk, corral, problems, label=role)
    assert not problems, "\n".join(problems)


def observers_seen(answer: dict) -> tuple[int, list[dict]]:
    """The `observers` command's answer with each observer's values checked for what they
    must be (the checks' names in place of the values, so that ZooKeeper and Corral compare
    equal when both hold)."""
    now_ms = time.time() * 1000

    def seen(o: dict) -> dict:
        addr = re.fullmatch(r"/127\.0\.0\.1:(\d+)", str(o.get("remote_socket_address")))
        return {
            "sid": o.get("sid"),
            "remote_socket_address": "/127.0.0.1:<port>" if addr else o.get("remote_socket_address"),
            "established": ("ms since 1970, before now"
                            if isinstance(o.get("established"), int)
                            and now_ms - 3_600_000 < o["established"] <= now_ms
                            else o.get("established")),
            **{k: ">0" if isinstance(o.get(k), int) and o[k] > 0 else o.get(k)
               for k in ("packets_sent", "packets_received", "requests", "last_zxid")},
            "queued_packets": (">=0" if isinstance(o.get("queued_packets"), int)
                               and o["queued_packets"] >= 0 else o.get("queued_packets")),
            # ZooKeeper's can go negative (its handler subtracts packets it never added)
            "queued_packets_size": ("int" if isinstance(o.get("queued_packets_size"), int)
                                    else o.get("queued_packets_size")),
        }

    return answer["synced_observers"], [seen(o) for o in answer["observers"]]


# Runs last: it leaves each ensemble with one member (the module's ensembles end here).
def test_admin_member_without_quorum(ensembles):
    """Leader and one follower killed: the last member looks for a quorum. Commands that need
    a serving server answer ZooKeeper's error; zabstate answers as without a server. One
    known difference: ZooKeeper's `monitor` fails with HTTP 500 (a NullPointerException: it
    has no ZooKeeperServer while electing); Corral's answers, server_state "looking"."""
    problems: list[str] = []
    answers: dict[str, dict[str, tuple[int, str]]] = {}
    for kind, (ens, leader) in ensembles.items():
        follower = next(m for m in ens.members if m is not leader and not m.observer)
        alone = next(m for m in ens.members
                     if m is not leader and m is not follower and not m.observer)
        ens.kill(leader)
        ens.kill(follower)
        deadline = time.monotonic() + LOOKING_TIMEOUT_S
        while alone.mode() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alone.mode() is None, f"{kind}: server.{alone.sid} still serves alone"
        port = alone.ports["admin.serverPort"]
        answers[kind] = {
            name: http(port, f"/commands/{name}")[::2] for name in index_names(port)
        }
    zk, corral = answers["zookeeper"], answers["corral"]
    same(problems, "commands", sorted(zk), sorted(corral))
    for name in sorted(zk):
        (zs, zb), (cs, cb) = zk[name], corral.get(name, (0, ""))
        if name == "monitor":
            same(problems, "ZooKeeper's monitor while electing (its NPE)", 500, zs,
                 ("expected", "got"))
            if env_flag("CORRAL_ORACLE_ONLY"):  # ZooKeeper on both sides
                same(problems, "monitor while electing", zs, cs)
                continue
            got = (cs, json.loads(cb).get("server_state") if cs == 200 else cb)
            same(problems, "Corral's monitor while electing", (200, "looking"), got,
                 ("expected", "got"))
            continue
        same(problems, f"{name}: status", zs, cs)
        if zs != 200 or cs != 200:
            continue
        za, ca = json.loads(zb), json.loads(cb)
        if za.get("error") == NOT_SERVING or name == "zabstate":
            same(problems, name, za, ca)
        else:
            compare_shapes(name, za, ca, problems)
    assert not problems, "\n".join(problems)
