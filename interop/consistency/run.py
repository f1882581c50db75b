"""One consistency run: start a 3-server ensemble, create the registers, run the workload
with the nemesis for `seconds`, heal, do the final synced reads on every server, check the
history. On a violation the servers' dirs are kept (logs, data) with the history as
history.jsonl next to them.

    python -m consistency.run zookeeper|corral [seconds] [CORRAL_TEST_FAULT|''] [partitions]   (from interop/)
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from .checker import Report, check
from .ensemble import Ensemble
from .history import dump
from .nemesis import KillNemesis
from .netns import Network
from .workload import Workload, register_paths


@dataclass
class RunResult:
    kind: str
    seed: int
    seconds: float
    report: Report
    kills: int
    errors: list[str] = field(default_factory=list)
    kept_dir: str | None = None
    nemesis_events: list[str] = field(default_factory=list)
    check_s: float = 0.0
    cuts: int = 0

    def figures(self) -> str:
        return (f"{self.kind} (seed {self.seed}): {self.seconds:.0f}s of workload, {self.kills} kills, {self.cuts} partitions; "
                f"{self.report.summary()} (checked in {self.check_s:.1f}s)")

    def explain(self) -> str:
        lines = [self.figures()]
        lines += [f"error: {e}" for e in self.errors]
        lines += self.report.violations
        if self.kept_dir:
            lines.append(f"servers' dirs, logs and history.jsonl kept in {self.kept_dir}")
        lines += ["nemesis: " + e for e in self.nemesis_events]
        return "\n".join(lines)


def run(kind: str, binary: str | None = None, seconds: float = 20.0, registers: int = 3,
        env: dict[str, str] | None = None, seed: int | None = None,
        nemesis: bool = True, keep_on_violation: bool = True,
        partitions: bool = False) -> RunResult:
    """`partitions`: servers in network namespaces, and the nemesis isolates them too
    (raises netns.NetnsUnavailable when namespaces cannot be made here)."""
    seed = int(time.time()) if seed is None else seed
    net = Network(3).create() if partitions else None
    try:
        return _run(kind, binary, seconds, registers, env, seed, nemesis, keep_on_violation, net)
    finally:
        if net is not None:
            net.destroy()


def _run(kind, binary, seconds, registers, env, seed, nemesis, keep_on_violation, net):
    ens = Ensemble(kind, binary, env=env, net=net).start()
    keep = False
    try:
        work = Workload([m.addr for m in ens.members], register_paths(registers), seed=seed)
        work.setup()
        nem = KillNemesis(ens, seed=seed, partitions=net is not None)
        work.start()
        started = time.monotonic()
        if nemesis:
            nem.run_for(seconds)
        else:
            time.sleep(seconds)
        work.finish()
        elapsed = time.monotonic() - started
        for m in ens.members:  # the nemesis restarted its last victim; make sure
            if not m.alive():
                ens.start_member(m)
        ens.wait_serving()
        work.final_reads()
        checked = time.monotonic()
        report = check(work.rec.ops)
        check_s = time.monotonic() - checked
        result = RunResult(kind, seed, elapsed, report, nem.kills, work.errors + nem.errors,
                           cuts=nem.cuts,
                           nemesis_events=nem.events, check_s=check_s)
        if (keep_on_violation and not report.valid) or work.errors or nem.errors:
            keep = True
            dump(work.rec.ops, ens.root / "history.jsonl")
            result.kept_dir = str(ens.root)
        return result
    except BaseException as e:
        keep = True
        raise RuntimeError(f"run aborted (seed {seed}); servers' dirs kept in {ens.root}: {e}") from e
    finally:
        ens.close(keep=keep)


if __name__ == "__main__":
    import logging

    logging.getLogger("kazoo").setLevel(logging.ERROR)
    kind = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    fault = {"CORRAL_TEST_FAULT": sys.argv[3]} if len(sys.argv) > 3 and sys.argv[3] else None
    parts = len(sys.argv) > 4 and sys.argv[4] == "partitions"
    res = run(kind, os.environ.get("CORRAL_BIN"), secs, env=fault, partitions=parts)
    print(res.explain())
