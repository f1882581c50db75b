"""A leader cut off from its peers logs a proposal no quorum ever sees and stops serving once
it has lost its quorum; the others elect a new leader and go on; once the partition heals the old leader catches up by TRUNC (its
orphan proposal removed) and holds exactly what the ensemble committed. The same scenario
on Apache ZooKeeper 3.8 (the oracle) and on Corral, each server in its own network namespace
(consistency/netns.py; skipped with a message where namespaces cannot be made, e.g. not
root). For Corral the old leader's log must also say it was synchronised by TRUNC.
"""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient

from consistency import netns
from harness.ensemble import Ensemble
from harness.scenario import corral_binary, env_flag

TIMEOUT_S = 60.0


def wait_for(what: str, predicate, timeout: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def client(hosts: str) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=10)
    c.start(timeout=TIMEOUT_S)
    return c


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["zookeeper", "corral"])
def test_old_leader_truncates_a_proposal_no_quorum_saw(kind):
    problem = netns.unavailable()
    if problem:
        pytest.skip(f"partitions need network namespaces: {problem}")
    binary = corral_binary() if kind == "corral" else None
    net = netns.Network(3).create()
    try:
        with Ensemble(kind, binary, net=net) as ens:
            ens.start()
            old = ens.wait_leader()
            others = [m for m in ens.members if m is not old]
            c = client(old.addr)
            try:
                c.create("/trunc/before", b"", makepath=True)
                ens.isolate_peers(old)
                # Proposed and logged by the old leader, never acknowledged by a quorum.
                orphan = c.create_async("/trunc/orphan", b"never committed")
                new = wait_for(
                    "a new leader among the majority",
                    lambda: next((m for m in others if m.mode() == "leader"), None),
                )
                assert not orphan.ready() or orphan.exception is not None
                # The minority stops serving once it has lost its quorum.
                wait_for(f"the cut-off server.{old.sid} to stop serving",
                         lambda: old.mode() is None)
            finally:
                c.stop()
                c.close()
            d = client(ens.connect_string(others))
            try:
                d.create("/trunc/after", b"")
            finally:
                d.stop()
                d.close()
            ens.heal()
            wait_for(f"server.{old.sid} serving again",
                     lambda: old.mode() in ("follower", "leader"))
            assert new.mode() == "leader", [m.mode() for m in ens.members]
            for m in ens.members:
                e = client(m.addr)
                try:
                    e.sync("/trunc")
                    children = set(e.get_children("/trunc"))
                finally:
                    e.stop()
                    e.close()
                assert children == {"before", "after"}, (m.describe(), children)
            if kind == "corral":
                log = old.log_path.read_text(errors="replace")
                assert "by Trunc" in log, log[-3000:]
    finally:
        net.destroy()
