"""Check a history (see history.py): per register, linearizability of writes, CAS and synced
reads against ZooKeeper's (value, version) register, plus the specific properties issue 15
names, each reported with the operations involved:

- lost update: two acknowledged writes with the same resulting version, or a read (the
  final synced reads included) older than a write acknowledged before the read was invoked;
- stale synced read: a synced read invoked after a write's (or another read's) completion
  returns an older version than that write produced (that read returned);
- real-time order: an acknowledged write completed before another was invoked has a lower
  version (same register) and a lower mzxid (any register);
- a read whose (value, version) no write produced.

Linearizability is decided with a Wing & Gong / Lowe style search (as Knossos does): ops
ordered by invocation, a pending op may be linearized next only if it was invoked before
the earliest completion among the definite (ok/fail) ops not yet linearized; `unknown` ops
complete at infinity and need not be linearized at all; visited (set, state) pairs are
memoized. The search is bounded (`max_states`): running out is reported, never a pass.

`check(ops, synced_reads=ZOOKEEPER)` checks what Apache ZooKeeper guarantees instead of
linearizable synced reads (see `check`): the oracle's mode.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .history import CAS, FAIL, OK, READ, UNKNOWN, WRITE, Op

INF = float("inf")
INITIAL = ("0", 0)  # the workload creates each register with data "0": version 0


@dataclass
class Report:
    ops: int = 0
    ok: int = 0
    fail: int = 0
    unknown: int = 0
    registers: int = 0
    states: int = 0
    violations: list[str] = field(default_factory=list)  # the first `max_reported`
    violation_count: int = 0

    @property
    def valid(self) -> bool:
        return self.violation_count == 0

    def summary(self) -> str:
        return (f"{self.ops} ops on {self.registers} registers: {self.ok} ok, {self.fail} fail, "
                f"{self.unknown} unknown; {self.states} search states; "
                f"{self.violation_count} violations")


def _step(state: tuple[str, int], op: Op, claimed: frozenset[int] = frozenset()
          ) -> tuple[str, int] | None:
    """The register's state after `op` linearized at `state`, or None if it cannot be.
    `claimed`: versions acknowledged writes produced; an unknown op cannot produce one of
    them (two ops never produce the same version, so that branch would die later anyway)."""
    value, version = state
    if op.kind == READ:
        return state if (op.result_value, op.result_version) == state else None
    if op.kind == CAS and op.expect_version != version:
        # BadVersion: a failed CAS (or an unknown one that did not apply) changes nothing
        return state if op.outcome in (FAIL, UNKNOWN) else None
    if op.outcome == FAIL:
        # a CAS whose version matched cannot fail; a failed plain write changed nothing
        return state if op.kind == WRITE else None
    if op.outcome == OK and op.result_version != version + 1:
        return None
    if op.outcome == UNKNOWN and version + 1 in claimed:
        return None
    return (op.value, version + 1)


def _preserving(state: tuple[str, int], op: Op) -> bool:
    """`op` can be linearized at `state` and leaves it as it is (a read that sees it, a
    failed CAS whose version does not match, a failed plain write). Not an unknown CAS whose
    version does not match: it may still apply later, when the version comes round."""
    if op.kind == READ:
        return (op.result_value, op.result_version) == state
    if op.kind == CAS:
        return op.outcome == FAIL and op.expect_version != state[1]
    return op.outcome == FAIL


def linearizable(ops: list[Op], initial=INITIAL, max_states: int = 2_000_000):
    """(True, states, None) or (False, states, explanation) or (None, states, why) when the
    search ran out of `max_states`.

    Ops that leave the state as it is are linearized as soon as they are legal and may be
    (invoked before the cut): that loses no linearization, since versions only grow, so
    the state they need never comes back, and nothing pending had to precede them (it
    would have completed before the cut). Only state-changing ops are branched on.
    """
    ops = sorted((o for o in ops if not (o.kind == READ and o.outcome != OK)),
                 key=lambda o: o.invoke_ns)
    n = len(ops)
    invoke = [o.invoke_ns for o in ops]
    complete = [o.complete_ns if o.outcome != UNKNOWN and o.complete_ns is not None else INF
                for o in ops]
    by_complete = sorted((i for i in range(n) if complete[i] != INF), key=lambda i: complete[i])
    cuts = [complete[i] for i in by_complete]
    cbit = [0] * n
    for rank, i in enumerate(by_complete):
        cbit[i] = 1 << rank
    all_c = (1 << len(by_complete)) - 1
    claimed = frozenset(o.result_version for o in ops if o.outcome == OK and o.kind != READ)

    def lowest_zero(bits: int) -> int:
        return (~bits & (bits + 1)).bit_length() - 1

    def candidates(mask: int, cmask: int):
        """Indices of the ops that may be linearized next (invoked before the cut)."""
        limit = bisect.bisect_right(invoke, cuts[lowest_zero(cmask)])
        free = ~mask & ((1 << limit) - 1)
        while free:
            low = free & -free
            free ^= low
            yield low.bit_length() - 1

    def close(mask: int, cmask: int, state) -> tuple[int, int]:
        while cmask != all_c:
            grown = False
            for i in list(candidates(mask, cmask)):
                if _preserving(state, ops[i]):
                    mask |= 1 << i
                    cmask |= cbit[i]
                    grown = True
            if not grown:
                break
        return mask, cmask

    mask, cmask = close(0, 0, initial)
    start = (mask, cmask, initial)
    seen = {(mask, initial)}
    stack = [start]
    deepest = start
    while stack:
        node = stack.pop()
        mask, cmask, state = node
        if cmask == all_c:
            return True, len(seen), None
        if cmask.bit_count() > deepest[1].bit_count():
            deepest = node
        children = []
        for i in candidates(mask, cmask):
            op = ops[i]
            if op.kind == READ or _preserving(state, op):
                continue
            if op.kind == CAS and op.outcome == UNKNOWN and op.expect_version != state[1]:
                continue  # it would change nothing here; it stays pending (it may never apply)
            nxt = _step(state, op, claimed)
            if nxt is None:
                continue
            m2, c2 = close(mask | 1 << i, cmask | cbit[i], nxt)
            if (m2, nxt) not in seen:
                seen.add((m2, nxt))
                children.append((m2, c2, nxt))
        if len(seen) > max_states:
            return None, len(seen), f"search gave up after {len(seen)} states"
        stack.extend(reversed(children))
    return False, len(seen), _explain(ops, complete, (deepest[0], deepest[2]))


def _explain(ops: list[Op], complete: list[float], point) -> str:
    mask, state = point
    t0 = min(o.invoke_ns for o in ops)
    pending = [i for i in range(len(ops)) if not mask >> i & 1]
    blocked = min((i for i in pending if complete[i] != INF), key=lambda i: complete[i])
    lines = [
        f"no linearization: at best {bin(mask).count('1')} of {len(ops)} ops linearized, "
        f"register state then {state}; this op cannot be placed:",
        "    " + ops[blocked].describe(t0),
        "  ops invoked before it completed and not linearized:",
    ]
    cut = complete[blocked]
    lines += ["    " + ops[i].describe(t0) for i in pending if ops[i].invoke_ns <= cut][:12]
    return "\n".join(lines)


def _versions(ops: list[Op], t0: int) -> list[str]:
    """Lost updates by version, and reads of a (value, version) no write produced."""
    out: list[str] = []
    by_version: dict[int, Op] = {}
    for w in ops:
        if w.outcome != OK or w.kind == READ:
            continue
        other = by_version.setdefault(w.result_version, w)
        if other is not w:
            out.append("lost update: two acknowledged writes got the same version:\n    "
                       + other.describe(t0) + "\n    " + w.describe(t0))
    produced = {INITIAL[1]: INITIAL[0], **{v: w.value for v, w in by_version.items()}}
    for r in ops:
        if r.outcome == OK and r.kind == READ and r.result_version in produced \
                and produced[r.result_version] != r.result_value:
            out.append(f"read a value no write produced at v{r.result_version} "
                       f"(expected {produced[r.result_version]!r}):\n    " + r.describe(t0))
    return out


def _real_time(ops: list[Op], t0: int, reads_only: bool = False) -> list[str]:
    """Among `ops` (their ok ones): a read older than an op completed before it began
    (stale read, or lost update for a final read), a write whose version is not above one
    completed before it began."""
    oks = [o for o in ops if o.outcome == OK]
    done = sorted(oks, key=lambda o: o.complete_ns)
    ends = [o.complete_ns for o in done]
    best: list[Op] = []  # running maximum of the version fixed by the ops completed so far
    for o in done:
        best.append(o if not best or o.result_version > best[-1].result_version else best[-1])
    out = []
    for o in oks:
        k = bisect.bisect_left(ends, o.invoke_ns)  # ops completed strictly before o's invoke
        if k == 0:
            continue
        before = best[k - 1]
        if o.kind == READ and o.result_version < before.result_version:
            if o.final and before.kind != READ:
                label = "lost update: the final synced read misses an acknowledged write"
            elif before.kind == READ:
                label = "stale synced read: older than a read that completed before it began"
            else:
                label = "stale synced read: older than a write acknowledged before it began"
            out.append(f"{label}:\n    {before.describe(t0)}\n    {o.describe(t0)}")
        elif o.kind != READ and not reads_only and o.result_version <= before.result_version:
            out.append("real-time order: a write got a version not above one completed "
                       f"before it began:\n    {before.describe(t0)}\n    {o.describe(t0)}")
    return out


def _mzxid_order(ops: list[Op]) -> list[str]:
    """Across registers: an acknowledged write completed before another was invoked has the
    lower mzxid."""
    writes = sorted((o for o in ops if o.outcome == OK and o.kind != READ
                     and o.result_mzxid is not None), key=lambda o: o.complete_ns)
    ends = [o.complete_ns for o in writes]
    best: list[Op] = []
    for o in writes:
        best.append(o if not best or o.result_mzxid > best[-1].result_mzxid else best[-1])
    t0 = min((o.invoke_ns for o in ops), default=0)
    out = []
    for o in writes:
        k = bisect.bisect_left(ends, o.invoke_ns)
        if k and o.result_mzxid <= best[k - 1].result_mzxid:
            out.append("real-time order: a write's mzxid is not above that of one acknowledged "
                       f"before it began:\n    {best[k - 1].describe(t0)}\n    {o.describe(t0)}")
    return out


LINEARIZABLE = "linearizable"
ZOOKEEPER = "zookeeper"


def check(ops: list[Op], synced_reads: str = LINEARIZABLE, max_states: int = 2_000_000,
          max_reported: int = 20) -> Report:
    """`synced_reads`: LINEARIZABLE (what issue 15 asks of Corral: a synced read sees every
    write acknowledged before it began, through any server) or ZOOKEEPER (what Apache
    ZooKeeper 3.8 guarantees and does: a synced read sees every write acknowledged through
    its own server before it began, and the final reads see every acknowledged write; the
    linearizability search then covers writes, CAS and the final reads only). ZooKeeper's
    `sync` through the leader does not wait for txns the leader committed but has not yet
    applied, so a read there can miss a write a follower already acknowledged (its docs:
    "between sequential consistency and linearizability"; ZOOKEEPER-1675)."""
    if synced_reads not in (LINEARIZABLE, ZOOKEEPER):
        raise ValueError(f"synced_reads: {synced_reads!r}")
    report = Report(ops=len(ops))
    for o in ops:
        setattr(report, o.outcome, getattr(report, o.outcome) + 1)
    registers = sorted({o.register for o in ops})
    report.registers = len(registers)
    t0 = min((o.invoke_ns for o in ops), default=0)
    violations: list[str] = []
    for reg in registers:
        mine = [o for o in ops if o.register == reg]
        found = _versions(mine, t0)
        if synced_reads == LINEARIZABLE:
            found += _real_time(mine, t0)
            searched = mine
        else:
            searched = [o for o in mine if o.kind != READ or o.final]
            found += _real_time(searched, t0)
            for server in sorted({o.server for o in mine} - {"all"}):
                found += _real_time([o for o in mine if o.server == server and not o.final],
                                    t0, reads_only=True)
        violations += [f"{reg}: {v}" for v in found]
        result, states, why = linearizable(searched, max_states=max_states)
        report.states += states
        if result is not True:
            violations.append(f"{reg}: {why}")
    violations += _mzxid_order(ops)
    report.violation_count = len(violations)
    report.violations = violations[:max_reported]
    if len(violations) > max_reported:
        report.violations.append(f"... and {len(violations) - max_reported} more")
    return report
