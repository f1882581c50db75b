"""kazoo transactions (multi): commit and rollback."""

from harness import kz
from harness.scenario import scenario


def _state(c, n, paths):
    out = []
    for p in paths:
        st = c.exists(p)
        if st is None:
            out.append(f"  {p}: absent")
        else:
            out.append(f"  {p}: {c.get(p)[0]!r} {n.stat(st)}")
    return out


@scenario
def test_kazoo_transaction_commit(t):
    r, n = t.root, t.norm
    out = []
    with kz.clients(t) as (c,):
        c.create(r, b"")
        c.create(f"{r}/b", b"b0")
        c.create(f"{r}/c", b"c0")
        c.create(f"{r}/d", b"d0")
        txn = c.transaction()
        txn.create(f"{r}/a", b"new")
        txn.set_data(f"{r}/b", b"b1")
        txn.check(f"{r}/c", 0)
        txn.delete(f"{r}/d")
        txn.create(f"{r}/seq-", b"s", sequence=True)
        txn.create(f"{r}/eph", b"e", ephemeral=True)
        txn.set_data(f"{r}/b", b"b2", version=1)
        txn.create(f"{r}/a/child", b"")
        out.append("commit results:")
        out += [f"  {kz.describe(n, res)}" for res in txn.commit()]
        out.append("state:")
        out += _state(c, n, [r, f"{r}/a", f"{r}/a/child", f"{r}/b", f"{r}/c", f"{r}/d",
                             f"{r}/seq-0000000004", f"{r}/eph"])
        out.append(f"children: {sorted(c.get_children(r))}")
        empty = c.transaction()
        out.append(f"empty commit: {kz.describe(n, empty.commit())}")
        with c.transaction() as txn2:
            txn2.create(f"{r}/ctx", b"ctx")
            txn2.check(f"{r}/a", 0)
        out.append("after context-manager commit:")
        out += _state(c, n, [f"{r}/ctx"])
    return out


@scenario
def test_kazoo_transaction_rollback(t):
    r, n = t.root, t.norm
    out = []
    paths = [r, f"{r}/a", f"{r}/b", f"{r}/c", f"{r}/e", f"{r}/f"]
    with kz.clients(t) as (c,):
        c.create(r, b"")
        c.create(f"{r}/a", b"a0")
        c.create(f"{r}/b", b"b0")
        c.set(f"{r}/b", b"b1")
        c.create(f"{r}/c", b"c0")
        c.create(f"{r}/c/kid", b"")
        out.append("before:")
        out += _state(c, n, paths)

        def attempt(label, build):
            txn = c.transaction()
            build(txn)
            out.append(f"{label}: {kz.outcome(n, txn.commit)}")

        attempt("failing check in the middle", lambda x: (
            x.create(f"{r}/e", b"e"), x.set_data(f"{r}/b", b"bad"), x.check(f"{r}/c", 5),
            x.delete(f"{r}/a")))
        attempt("failing first op", lambda x: (
            x.delete(f"{r}/nope"), x.create(f"{r}/f", b"f"), x.set_data(f"{r}/a", b"bad")))
        attempt("node exists", lambda x: (x.create(f"{r}/f", b"f"), x.create(f"{r}/a", b"dup")))
        attempt("not empty", lambda x: (x.set_data(f"{r}/a", b"bad"), x.delete(f"{r}/c")))
        attempt("bad version on set", lambda x: (
            x.set_data(f"{r}/a", b"bad", version=3), x.create(f"{r}/f", b"f")))
        attempt("bad version on delete", lambda x: (x.delete(f"{r}/b", version=0),))
        attempt("child of missing parent", lambda x: (
            x.create(f"{r}/f", b"f"), x.create(f"{r}/zz/child", b"")))
        attempt("check missing node", lambda x: (x.check(f"{r}/nope", 0), x.create(f"{r}/f", b"")))
        attempt("ephemeral parent", lambda x: (
            x.create(f"{r}/f", b"", ephemeral=True), x.create(f"{r}/f/child", b"")))
        out.append("after (nothing applied):")
        out += _state(c, n, paths)
        out.append(f"children: {sorted(c.get_children(r))}")
    return out
