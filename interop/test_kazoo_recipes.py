"""kazoo recipes: Lock with three contending clients, Election with
leader hand-over. Clients join in a fixed order (each waits until the
previous one is queued), so who gets the lock / leadership is deterministic;
the comparison covers order and correctness, never timing."""

import threading

from harness import kz
from harness.scenario import scenario

JOIN_TIMEOUT_S = 30.0


@scenario
def test_kazoo_lock_three_clients(t):
    r = t.root
    lock_path = f"{r}/lock"
    counter = f"{r}/counter"
    out = []
    record = kz.Events()
    errors = kz.Events()
    with kz.clients(t, 4) as (c1, c2, c3, observer):
        observer.create(counter, b"0", makepath=True)
        names = {c1: "client-1", c2: "client-2", c3: "client-3"}
        locks = {c: c.Lock(lock_path, names[c]) for c in (c1, c2, c3)}

        def critical(c):
            lock = locks[c]
            record.add(f"{names[c]} acquired; contenders {lock.contenders()}")
            data, st = c.get(counter)
            c.set(counter, str(int(data) + 1).encode(), version=st.version)

        def contend(c):
            try:
                if not locks[c].acquire(timeout=JOIN_TIMEOUT_S):
                    errors.add(f"{names[c]}: acquire timed out")
                    return
                try:
                    critical(c)
                finally:
                    # recorded before release: afterwards the next holder runs
                    record.add(f"{names[c]} releases")
                    locks[c].release()
            except Exception as e:  # noqa: BLE001
                errors.add(f"{names[c]}: {type(e).__name__}")

        out.append(f"client-1 acquire: {locks[c1].acquire(timeout=JOIN_TIMEOUT_S)}")
        out.append(f"client-1 is_acquired: {locks[c1].is_acquired}")
        threads = []
        for c, want in ((c2, 2), (c3, 3)):
            th = threading.Thread(target=contend, args=(c,), daemon=True)
            th.start()
            threads.append(th)
            queued = kz.wait_until(lambda: len(observer.get_children(lock_path)) == want, JOIN_TIMEOUT_S)
            out.append(f"{names[c]} queued: {queued}")
        out.append(f"contenders while client-1 holds: {locks[c1].contenders()}")
        out.append(f"lock nodes: {sorted(kz.strip_uuid(x) for x in observer.get_children(lock_path))}")
        critical(c1)
        record.add("client-1 releases")
        locks[c1].release()
        for th in threads:
            th.join(JOIN_TIMEOUT_S)
        out.append(f"threads finished: {[not th.is_alive() for th in threads]}")
        out += record.take()
        out += errors.take()
        out.append(f"counter: {observer.get(counter)[0]!r}")
        out.append(f"lock nodes after: {observer.get_children(lock_path)}")
        nonblocking = c2.Lock(lock_path, "client-2")
        out.append(f"uncontended non-blocking acquire: {nonblocking.acquire(blocking=False)}")
        other = c3.Lock(lock_path, "client-3")
        out.append(f"contended non-blocking acquire: {other.acquire(blocking=False)}")
        nonblocking.release()
    return out


@scenario
def test_kazoo_election(t):
    r = t.root
    path = f"{r}/election"
    out = []
    leaders = kz.Events()
    errors = kz.Events()
    with kz.clients(t, 4) as (e1, e2, e3, observer):
        observer.create(r, b"")
        names = {e1: "e1", e2: "e2", e3: "e3"}
        elections = {c: c.Election(path, names[c]) for c in (e1, e2, e3)}
        resign = {c: threading.Event() for c in (e1, e2, e3)}

        def lead(c):
            leaders.add(names[c])
            resign[c].wait(JOIN_TIMEOUT_S)

        def run(c):
            try:
                elections[c].run(lead, c)
            except Exception as e:  # noqa: BLE001
                errors.add(f"{names[c]} run ended with {type(e).__name__}")

        threads = {}
        for c, want in ((e1, 1), (e2, 2), (e3, 3)):
            th = threading.Thread(target=run, args=(c,), daemon=True)
            th.start()
            threads[c] = th
            joined = kz.wait_until(
                lambda: observer.exists(path) is not None and len(observer.get_children(path)) == want,
                JOIN_TIMEOUT_S,
            )
            out.append(f"{names[c]} joined: {joined}")
        kz.wait_until(lambda: len(leaders) >= 1, JOIN_TIMEOUT_S)
        out.append(f"leaders so far: {leaders.take()}")
        out.append(f"contenders: {elections[e3].contenders()}")

        kz.stop_client(e1)  # the leader's session ends: its lock node goes away
        resign[e1].set()
        out.append(f"new leader after e1 stopped: {kz.wait_until(lambda: len(leaders) >= 1, JOIN_TIMEOUT_S)}")
        out.append(f"leaders: {leaders.take()}")
        out.append(f"contenders: {elections[e3].contenders()}")

        resign[e2].set()  # e2 returns from its leader function and resigns
        out.append(f"new leader after e2 resigned: {kz.wait_until(lambda: len(leaders) >= 1, JOIN_TIMEOUT_S)}")
        out.append(f"leaders: {leaders.take()}")
        out.append(f"contenders: {elections[e3].contenders()}")
        resign[e3].set()
        for c, th in threads.items():
            th.join(JOIN_TIMEOUT_S)
        out.append(f"all threads done: {[not th.is_alive() for th in threads.values()]}")
        out.append(f"election nodes left: {observer.get_children(path)}")
        out.append(f"leaders at end: {leaders.take()}")
        out += sorted(errors.take())
    return out
