"""kazoo watches: DataWatch/ChildrenWatch recipes and one-shot watches.

Events are collected with `kz.barrier` after every change (bounded), so the
recorded sequence does not depend on timing.
"""

import time

from harness import kz
from harness.scenario import scenario

LATE_EVENT_GRACE_S = 0.3


def _step(out, ev, label, watcher, fn, *args, sort=False, **kwargs):
    """Run a change, wait until the watcher saw what it triggered, record.

    sort=True for one notification that fires several callbacks: kazoo keeps
    a path's watch callbacks in a set, so their order is arbitrary."""
    fn(*args, **kwargs)
    kz.barrier(watcher)
    events = ev.take()
    out.append(f"after {label}: {sorted(events) if sort else events}")


def _late(out, ev, watcher):
    time.sleep(LATE_EVENT_GRACE_S)
    kz.barrier(watcher)
    out.append(f"late events: {ev.take()}")


@scenario
def test_kazoo_datawatch(t):
    r = t.root
    p = f"{r}/node"
    out = []
    ev = kz.Events()
    with kz.clients(t, 2) as (a, b):
        b.create(r, b"")

        def watch(data, stat, event):
            ev.add(f"data={data!r} version={stat.version if stat else None} {kz.event_str(event)}")
            if data == b"stop":
                return False
            return None

        a.DataWatch(p, watch)
        kz.barrier(a)
        out.append(f"initial: {ev.take()}")
        _step(out, ev, "create", a, b.create, p, b"one")
        _step(out, ev, "set", a, b.set, p, b"two")
        _step(out, ev, "set same data", a, b.set, p, b"two")
        _step(out, ev, "create child", a, b.create, f"{p}/child", b"")
        _step(out, ev, "delete child", a, b.delete, f"{p}/child")
        _step(out, ev, "set by watcher's own session", a, a.set, p, b"three")
        _step(out, ev, "delete", a, b.delete, p)
        _step(out, ev, "create again", a, b.create, p, b"again")
        _step(out, ev, "set stop", a, b.set, p, b"stop")
        _step(out, ev, "set after stop", a, b.set, p, b"ignored")
        _late(out, ev, a)
    return out


@scenario
def test_kazoo_childrenwatch(t):
    r = t.root
    p = f"{r}/parent"
    out = []
    ev = kz.Events()
    with kz.clients(t, 2) as (a, b):
        b.create(p, b"", makepath=True)
        b.create(f"{p}/first", b"")

        def watch(children, event):
            ev.add(f"children={sorted(children)} {kz.event_str(event)}")

        a.ChildrenWatch(p, watch, send_event=True)
        kz.barrier(a)
        out.append(f"initial: {ev.take()}")
        _step(out, ev, "create c1", a, b.create, f"{p}/c1", b"")
        _step(out, ev, "create seq", a, b.create, f"{p}/s-", b"", sequence=True)
        _step(out, ev, "set parent data", a, b.set, p, b"x")
        _step(out, ev, "set child data", a, b.set, f"{p}/c1", b"x")
        _step(out, ev, "create grandchild", a, b.create, f"{p}/c1/g", b"")
        _step(out, ev, "delete first", a, b.delete, f"{p}/first")
        eph = kz.new_client(t)
        try:
            _step(out, ev, "create ephemeral", a, eph.create, f"{p}/eph", b"", ephemeral=True)
        finally:
            _step(out, ev, "ephemeral owner's session closed", a, kz.stop_client, eph)
        _step(out, ev, "delete grandchild", a, b.delete, f"{p}/c1/g")
        _step(out, ev, "delete c1", a, b.delete, f"{p}/c1")
        _step(out, ev, "delete s-0000000002", a, b.delete, f"{p}/s-0000000002")
        _step(out, ev, "delete parent", a, b.delete, p)
        _step(out, ev, "recreate parent", a, b.create, p, b"")
        _step(out, ev, "create child after stop", a, b.create, f"{p}/late", b"")
        _late(out, ev, a)
    return out


@scenario
def test_kazoo_oneshot_watches(t):
    r = t.root
    out = []
    ev = kz.Events()

    def cb(label):
        return lambda event: ev.add(f"{label}: {event.type} {event.path} state={event.state}")

    with kz.clients(t, 2) as (a, b):
        b.create(r, b"")
        for name in ("x", "y", "z", "p", "q", "w", "v"):
            b.create(f"{r}/{name}", name.encode())

        out.append(f"get x: {a.get(f'{r}/x', watch=cb('get-x'))[0]!r}")
        _step(out, ev, "set x", a, b.set, f"{r}/x", b"x1")
        _step(out, ev, "set x again (watch already fired)", a, b.set, f"{r}/x", b"x2")

        out.append(f"get_children p: {a.get_children(f'{r}/p', watch=cb('children-p'))}")
        _step(out, ev, "set p data (no child event)", a, b.set, f"{r}/p", b"p1")
        _step(out, ev, "create p/c1", a, b.create, f"{r}/p/c1", b"")
        _step(out, ev, "create p/c2", a, b.create, f"{r}/p/c2", b"")

        out.append(f"exists missing: {a.exists(f'{r}/missing', watch=cb('exists-missing'))}")
        _step(out, ev, "create missing", a, b.create, f"{r}/missing", b"")
        _step(out, ev, "delete missing", a, b.delete, f"{r}/missing")

        out.append(f"exists y: {a.exists(f'{r}/y', watch=cb('exists-y')) is not None}")
        _step(out, ev, "set y", a, b.set, f"{r}/y", b"y1")
        out.append(f"exists y again: {a.exists(f'{r}/y', watch=cb('exists-y2')) is not None}")
        _step(out, ev, "delete y", a, b.delete, f"{r}/y")

        out.append(f"get z: {a.get(f'{r}/z', watch=cb('get-z'))[0]!r}")
        _step(out, ev, "create z/child (no data event)", a, b.create, f"{r}/z/child", b"")
        _step(out, ev, "delete z/child", a, b.delete, f"{r}/z/child")
        _step(out, ev, "delete z", a, b.delete, f"{r}/z")

        out.append(f"get_children q: {a.get_children(f'{r}/q', watch=cb('children-q'))}")
        _step(out, ev, "delete q", a, b.delete, f"{r}/q")

        a.get(f"{r}/w", watch=cb("get-w"))
        a.get_children(f"{r}/w", watch=cb("children-w"))
        a.exists(f"{r}/w", watch=cb("exists-w"))
        _step(out, ev, "delete w (data+child+exists watches)", a, b.delete, f"{r}/w", sort=True)

        a.get(f"{r}/v", watch=cb("get-v"))
        _step(out, ev, "set v by the watching session", a, a.set, f"{r}/v", b"v1")

        out.append(f"exists gone: {a.exists(f'{r}/gone', watch=cb('exists-gone'))}")
        txn = b.transaction()
        txn.create(f"{r}/gone", b"")
        txn.delete(f"{r}/gone")
        _step(out, ev, "create+delete gone in one transaction", a, txn.commit)
        _late(out, ev, a)
    return out
