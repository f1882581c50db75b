"""kazoo (2.11.0) data operations: results, stats and exceptions."""

from harness import kz
from harness.scenario import scenario


@scenario
def test_kazoo_crud(t):
    r, n = t.root, t.norm
    out = []
    with kz.clients(t) as (c,):
        def rec(label, fn, *a, **kw):
            out.append(f"{label}: {kz.outcome(n, fn, *a, **kw)}")

        rec("ensure_path", c.ensure_path, f"{r}/a/b/c")
        rec("ensure_path again", c.ensure_path, f"{r}/a/b/c")
        for p in (r, f"{r}/a", f"{r}/a/b", f"{r}/a/b/c"):
            rec(f"exists {p}", c.exists, p)
        rec("create x", c.create, f"{r}/x", b"v1")
        rec("get x", c.get, f"{r}/x")
        rec("set x", c.set, f"{r}/x", b"v2")
        rec("set x version=1", c.set, f"{r}/x", b"v3", version=1)
        rec("set x version=1 again", c.set, f"{r}/x", b"v4", version=1)
        rec("set x version=99", c.set, f"{r}/x", b"v4", version=99)
        rec("get x", c.get, f"{r}/x")
        rec("create x again", c.create, f"{r}/x", b"dup")
        rec("create under missing parent", c.create, f"{r}/missing/y", b"")
        rec("create makepath", c.create, f"{r}/m1/m2/m3", b"deep", makepath=True)
        rec("get makepath", c.get, f"{r}/m1/m2/m3")
        rec("get missing", c.get, f"{r}/nope")
        rec("set missing", c.set, f"{r}/nope", b"x")
        rec("exists missing", c.exists, f"{r}/nope")
        rec("get_children missing", c.get_children, f"{r}/nope")
        rec("delete missing", c.delete, f"{r}/nope")
        rec("delete non-empty", c.delete, f"{r}/a")
        rec("delete x version=0", c.delete, f"{r}/x", version=0)
        rec("delete x version=2", c.delete, f"{r}/x", version=2)
        rec("exists x", c.exists, f"{r}/x")
        rec("delete recursive", c.delete, f"{r}/a", recursive=True)
        rec("exists a", c.exists, f"{r}/a")
        rec("create empty", c.create, f"{r}/empty")
        rec("get empty", c.get, f"{r}/empty")
        rec("create binary", c.create, f"{r}/bin", bytes(range(256)))
        rec("get binary", c.get, f"{r}/bin")
        big = bytes(i % 251 for i in range(200_000))
        rec("create big", c.create, f"{r}/big", big)
        got, st = c.get(f"{r}/big")
        out.append(f"big roundtrip equal={got == big} {n.stat(st)}")
        rec("create include_data", c.create, f"{r}/inc", b"abc", include_data=True)
        rec("get_children root", lambda: sorted(c.get_children(r)))
        rec("get_children include_data", lambda: (sorted(c.get_children(r, include_data=True)[0]),
                                                  c.get_children(r, include_data=True)[1]))
        rec("exists root", c.exists, r)
        rec("create sequential in missing", c.create, f"{r}/nope/s-", sequence=True)
        rec("get root /", lambda: c.get("/")[0])
        rec("zookeeper node exists", lambda: c.exists("/zookeeper") is not None)
    return out


@scenario
def test_kazoo_sequential_and_ephemeral(t):
    r, n = t.root, t.norm
    out = []
    with kz.clients(t, 2) as (a, b):
        sid_a, sid_b = a.client_id[0], b.client_id[0]
        out.append(f"sessions distinct: {sid_a != sid_b}")
        out.append(f"session a {n.session(sid_a)} b {n.session(sid_b)}")
        a.create(r, b"")
        names = []
        for i, (c, eph) in enumerate([(a, False), (b, True), (a, True), (b, False), (a, False)]):
            path = c.create(f"{r}/n-", f"d{i}".encode(), ephemeral=eph, sequence=True)
            names.append(path)
            out.append(f"created {path} ephemeral={eph}")
        path = a.create(f"{r}/", b"noprefix", sequence=True)
        out.append(f"created {path} (empty prefix)")
        a.create(f"{r}/plain", b"")
        path = b.create(f"{r}/after-plain-", b"", sequence=True)
        out.append(f"created {path}")
        a.delete(f"{r}/plain")
        path = b.create(f"{r}/after-delete-", b"", sequence=True)
        out.append(f"created {path} (counter is the parent's cversion)")
        out.append(f"children {sorted(a.get_children(r))}")
        for p in names:
            data, st = b.get(p)
            owner = st.ephemeralOwner
            who = "none" if owner == 0 else ("a" if owner == sid_a else ("b" if owner == sid_b else "other"))
            out.append(f"{p}: data={data!r} owner={who} {n.stat(st)}")
        out.append(f"parent {n.stat(a.exists(r))}")
        out.append("ephemeral child: " + kz.outcome(n, a.create, f"{names[1]}/child", b""))
        out.append("sequential ephemeral child: " + kz.outcome(
            n, a.create, f"{names[2]}/c-", b"", sequence=True))
        out.append("ephemeral under ephemeral: " + kz.outcome(
            n, a.create, f"{names[2]}/e", b"", ephemeral=True))
        out.append("set ephemeral by other session: " + kz.outcome(n, a.set, names[1], b"changed"))
        out.append("delete ephemeral by other session: " + kz.outcome(n, a.delete, names[1]))
        out.append(f"children after {sorted(b.get_children(r))}")
    return out
