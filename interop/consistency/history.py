"""The history of a consistency run: one `Op` per operation a client invoked, with its
invoke/complete times (time.monotonic_ns() of the one test process, so comparable across
clients) and its outcome.

Registers are znodes; their state is (value, version) as ZooKeeper keeps it: a write
(`setData` with version -1) and a successful compare-and-set (`setData` with the version the
client read) bump the version by one; a synced read (`sync` then `getData`) returns both.
Outcomes: `ok` (the server answered success), `fail` (the server answered an error, so the
operation did not take effect: BadVersion for a CAS), `unknown` (connection loss, session
expiry or timeout: it may or may not have taken effect, at any time after its invocation).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

WRITE = "write"
CAS = "cas"
READ = "read"

OK = "ok"
FAIL = "fail"
UNKNOWN = "unknown"


@dataclass
class Op:
    process: str            # the client (one ZooKeeper session at a time) that invoked it
    register: str           # znode path
    kind: str               # WRITE, CAS or READ
    invoke_ns: int
    complete_ns: int | None = None   # None while unknown
    outcome: str = UNKNOWN
    value: str | None = None         # WRITE/CAS: the value written
    expect_version: int | None = None  # CAS: the version it required
    result_value: str | None = None  # READ ok: what it read
    result_version: int | None = None  # ok: the version after (WRITE/CAS) or read (READ)
    result_mzxid: int | None = None  # ok: the znode's mzxid after (WRITE/CAS) or read (READ)
    server: str = ""                 # where the client was connected (for reports)
    final: bool = False              # a read of the final check after the workload

    def describe(self, t0: int = 0) -> str:
        def ms(ns: int | None) -> str:
            return "?" if ns is None else f"{(ns - t0) / 1e6:.1f}ms"

        if self.kind == WRITE:
            what = f"write {self.value!r}"
        elif self.kind == CAS:
            what = f"cas(version {self.expect_version} -> {self.value!r})"
        else:
            what = "final synced read" if self.final else "synced read"
        result = ""
        if self.outcome == OK:
            if self.kind == READ:
                result = f" = {self.result_value!r} v{self.result_version}"
            else:
                result = f" -> v{self.result_version}"
            if self.result_mzxid is not None:
                result += f" mzxid 0x{self.result_mzxid:x}"
        return (f"[{ms(self.invoke_ns)} .. {ms(self.complete_ns)}] {self.process}@{self.server} "
                f"{self.register} {what}: {self.outcome}{result}")


def dump(ops: list[Op], path) -> None:
    """The history as JSON lines (kept next to the servers' logs when a check fails)."""
    with open(path, "w") as f:
        for op in ops:
            f.write(json.dumps(asdict(op)) + "\n")


def load(path) -> list[Op]:
    with open(path) as f:
        return [Op(**json.loads(line)) for line in f if line.strip()]
