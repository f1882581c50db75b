"""The nemesis: kill -9 one server (the leader half of the time, else a random one), let
the others go on without it for a moment, restart it (same ports, same data dir) and wait
until it serves again; in a loop for a given time. At most one server is down at a time,
so a 3-server ensemble always has a quorum. Every wait is bounded (the launcher's).
With partitions in `faults` (taken in turn), a fault may instead cut one server off
everyone, peers and clients ("isolate", the leader half of the time), or cut the leader
off its peers only ("peers": it keeps its clients while the others elect a new leader),
for longer than syncLimit ticks, then heal and wait until all serve. It runs in the test's
main thread (`run_for`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from harness.ensemble import Ensemble


@dataclass
class KillNemesis:
    ens: Ensemble
    seed: int = 0
    down_s: tuple[float, float] = (0.3, 1.5)
    up_s: tuple[float, float] = (1.0, 3.0)
    # in turn: "kill", "isolate" (from peers and clients), "peers" (the leader from its
    # peers only: its clients still reach it); the partitions need an ensemble with a Network
    faults: tuple[str, ...] = ("kill",)
    partition_s: tuple[float, float] = (3.0, 5.0)  # over syncLimit x tickTime (2.5 s)
    events: list[str] = field(default_factory=list)
    kills: int = 0
    cuts: int = 0
    errors: list[str] = field(default_factory=list)

    def _log(self, what: str) -> None:
        self.events.append(f"{time.monotonic_ns()} {what}")

    def run_for(self, seconds: float) -> None:
        """Kill and restart until `seconds` have passed (then finishes the current restart).

        Runs in the calling thread, which must be the one that started the ensemble and
        outlives the servers: PR_SET_PDEATHSIG kills a child when the *thread* that forked
        it exits, so servers restarted from a short-lived thread would die with it.
        """
        rng = random.Random(self.seed)
        deadline = time.monotonic() + seconds
        rounds = 0
        try:
            while True:
                pause = rng.uniform(*self.up_s)
                if time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
                leader = self.ens.leader_or_none()
                if leader is not None and rng.random() < 0.5:
                    victim, why = leader, "leader"
                else:
                    victim, why = rng.choice(self.ens.members), "random"
                fault = self.faults[rounds % len(self.faults)]
                rounds += 1
                if fault == "peers" and leader is not None:
                    victim, why = leader, "leader"
                if fault in ("isolate", "peers"):
                    self._log(f"{fault}: cut server.{victim.sid} ({why}) off "
                              + ("its peers (its clients still reach it)"
                                 if fault == "peers" else "peers and clients"))
                    if fault == "peers":
                        self.ens.isolate_peers(victim)
                    else:
                        self.ens.isolate(victim)
                    self.cuts += 1
                    try:
                        time.sleep(rng.uniform(*self.partition_s))
                    finally:
                        self.ens.heal()
                    self._log(f"heal server.{victim.sid}")
                    self.ens.wait_serving()
                    self._log("all serving again")
                    continue
                self._log(f"kill -9 server.{victim.sid} ({why}, pid {victim.pid})")
                self.ens.kill(victim)
                self.kills += 1
                time.sleep(rng.uniform(*self.down_s))
                self._log(f"restart server.{victim.sid}")
                self.ens.start_member(victim)
                self._log(f"server.{victim.sid} serving again")
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
