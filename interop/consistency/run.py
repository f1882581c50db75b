"""One consistency run: start a 3-server ensemble, create the registers, run the workload
with the nemesis for `seconds`, heal, do the final synced reads on every server, check the
history. On a violation the servers' dirs are kept (logs, data) with the history as
history.jsonl next to them.

    (from interop/) python -m consistency.run zookeeper|corral [seconds]
        [CORRAL_TEST_FAULT|''] [partitions|''] [linearizable|zookeeper]
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field

from .checker import LINEARIZABLE, Report, check
from harness.ensemble import Ensemble
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
    synced_reads: str = LINEARIZABLE
    strict: Report | None = None  # the LINEARIZABLE check too, when `report` is another mode

    def figures(self) -> str:
        return (f"{self.kind} (seed {self.seed}): {self.seconds:.0f}s of workload, "
                f"{self.kills} kills, {self.cuts} partitions; "
                f"{self.report.summary()} (synced reads checked as {self.synced_reads}; checked in "
                f"{self.check_s:.1f}s)" + (f"; strictly linearizable synced reads: "
                                          f"{self.strict.violation_count} violations"
                                          if self.strict else ""))

    def explain(self) -> str:
        lines = [self.figures()]
        lines += [f"error: {e}" for e in self.errors]
        lines += self.report.violations
        if self.strict is not None and self.strict.violations:
            lines.append("strictly linearizable synced reads (not asserted in this mode):")
            lines += self.strict.violations[:3]
        if self.kept_dir:
            lines.append(f"servers' dirs, logs and history.jsonl kept in {self.kept_dir}")
        lines += ["nemesis: " + e for e in self.nemesis_events]
        return "\n".join(lines)


def run(kind: str, binary: str | None = None, seconds: float = 20.0, registers: int = 3,
        env: dict[str, str] | None = None, seed: int | None = None,
        nemesis: bool = True, keep_on_violation: bool = True,
        partitions: bool = False, synced_reads: str = LINEARIZABLE) -> RunResult:
    """`synced_reads`: the checker's mode (checker.check). `partitions`: servers in network
    namespaces, and the nemesis partitions them too
    (raises netns.NetnsUnavailable when namespaces cannot be made here)."""
    seed = int(time.time()) if seed is None else seed
    kazoo_log = logging.getLogger("kazoo")
    level = kazoo_log.level
    kazoo_log.setLevel(logging.ERROR)  # every kill drops connections: thousands of warnings
    net = Network(3).create() if partitions else None
    try:
        return _run(kind, binary, seconds, registers, env, seed, nemesis, keep_on_violation, net,
                    synced_reads)
    finally:
        if net is not None:
            net.destroy()
        kazoo_log.setLevel(level)


def _run(kind, binary, seconds, registers, env, seed, nemesis, keep_on_violation, net,
         synced_reads):
    ens = Ensemble(kind, binary, env=env, net=net).start()
    keep = False
    try:
        work = Workload([m.addr for m in ens.members], register_paths(registers), seed=seed)
        work.setup()
        faults = ("peers", "kill", "isolate") if net is not None else ("kill",)
        nem = KillNemesis(ens, seed=seed, faults=faults)
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
        report = check(work.rec.ops, synced_reads=synced_reads)
        check_s = time.monotonic() - checked
        strict = check(work.rec.ops) if synced_reads != LINEARIZABLE else None
        result = RunResult(kind, seed, elapsed, report, nem.kills, work.errors + nem.errors,
                           cuts=nem.cuts,
                           nemesis_events=nem.events, check_s=check_s,
                           synced_reads=synced_reads, strict=strict)
        if (keep_on_violation and not report.valid) or work.errors or nem.errors:
            keep = True
            dump(work.rec.ops, ens.root / "history.jsonl")
            result.kept_dir = str(ens.root)
        return result
    except BaseException as e:
        keep = True
        raise RuntimeError(
            f"run aborted (seed {seed}); servers' dirs kept in {ens.root}: {e}") from e
    finally:
        ens.close(keep=keep)


if __name__ == "__main__":
    kind = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    fault = {"CORRAL_TEST_FAULT": sys.argv[3]} if len(sys.argv) > 3 and sys.argv[3] else None
    parts = len(sys.argv) > 4 and sys.argv[4] == "partitions"
    mode = sys.argv[5] if len(sys.argv) > 5 else LINEARIZABLE
    res = run(kind, os.environ.get("CORRAL_BIN"), secs, env=fault, partitions=parts,
              synced_reads=mode)
    print(res.explain())
