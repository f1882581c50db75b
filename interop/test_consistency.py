"""Consistency under faults (issue 15), Jepsen style: writes, compare-and-sets and synced
reads from clients on every server of a 3-server ensemble while the nemesis kill -9s and
restarts servers; the history is checked per register for linearizability and for lost
updates, stale synced reads and the real-time order of acknowledged writes
(consistency/checker.py, unit-tested in consistency/test_checker.py).

(a) Apache ZooKeeper 3.8 passes (the oracle: the checker does not fail a correct server),
checked for what ZooKeeper guarantees (checker.ZOOKEEPER: writes and CAS linearizable, no
lost update, a synced read sees the writes acknowledged through its own server before it
began): ZooKeeper's `sync` through the leader does not wait for txns the leader committed but
has not applied yet, so strictly linearizable synced reads fail on ZooKeeper now and then
(measured here: 7 of 18 runs, without faults too, 1 to 4 stale reads each, read through
the leader right after a write a follower acknowledged; its docs place it "between
sequential consistency and linearizability", ZOOKEEPER-1675); the strict count is printed,
not asserted;
(b) Corral passes the strict check (checker.LINEARIZABLE: every synced read sees every write
acknowledged before it began, through any server), as issue 15 asks;
(a') and (b') the same with partitions too (each server in its own network namespace; the
nemesis cuts the leader off its peers while its clients still reach it, kills a server,
then cuts one off peers and clients, each cut longer than syncLimit ticks; skipped with a
message where namespaces cannot be made, e.g. not root);
(c) Corral started with CORRAL_TEST_FAULT=stale-sync (learners answer `sync` without asking
the leader) fails with stale synced reads (the checker catches a broken server).
Each run's figures are printed (run with -s to see them).

CORRAL_CONSISTENCY_S: seconds of workload per run (default 20, at most 60).
CORRAL_ORACLE_ONLY=1: the Corral side is a second ZooKeeper, checked as ZooKeeper; (c) is
skipped then.
"""

from __future__ import annotations

import os

import pytest

from consistency import netns
from consistency.checker import LINEARIZABLE, ZOOKEEPER
from consistency.run import run
from harness.scenario import corral_binary, env_flag

SECONDS = min(60.0, float(os.environ.get("CORRAL_CONSISTENCY_S", "20")))
TIMEOUT_S = 300


def corral_mode() -> str:
    """Strict for Corral; ZooKeeper's own guarantee for its stand-in (CORRAL_ORACLE_ONLY)."""
    return ZOOKEEPER if env_flag("CORRAL_ORACLE_ONLY") else LINEARIZABLE


def check_exercised(result, partitions: bool = False) -> None:
    """A run that did not do the work proves nothing, pass or fail."""
    r = result.report
    if partitions:
        assert result.cuts >= 1, "the nemesis made no partition:\n" + result.explain()
    else:
        assert result.kills >= 1, "the nemesis killed no server:\n" + result.explain()
    assert r.ok >= 500, f"too few acknowledged operations:\n{result.explain()}"
    assert not result.errors, "the run itself went wrong:\n" + result.explain()


@pytest.mark.timeout(TIMEOUT_S)
def test_consistency_zookeeper():
    result = run("zookeeper", seconds=SECONDS, synced_reads=ZOOKEEPER)
    print(result.figures())
    check_exercised(result)
    assert result.report.valid, "Apache ZooKeeper fails the checker:\n" + result.explain()


@pytest.mark.timeout(TIMEOUT_S)
def test_consistency_corral():
    result = run("corral", corral_binary(), seconds=SECONDS, synced_reads=corral_mode())
    print(result.figures())
    check_exercised(result)
    assert result.report.valid, "Corral fails the checker:\n" + result.explain()


@pytest.mark.timeout(TIMEOUT_S)
def test_consistency_catches_stale_sync():
    if env_flag("CORRAL_ORACLE_ONLY"):
        pytest.skip("CORRAL_ORACLE_ONLY: ZooKeeper has no CORRAL_TEST_FAULT to break its sync")
    result = run("corral", corral_binary(), seconds=SECONDS,
                 env={"CORRAL_TEST_FAULT": "stale-sync"}, keep_on_violation=False)
    print(result.figures())
    check_exercised(result)
    assert not result.report.valid, (
        "the checker passed a Corral whose sync is broken on purpose:\n" + result.explain())
    text = "\n".join(result.report.violations)
    assert "stale synced read" in text, result.explain()


def partitions_or_skip() -> None:
    problem = netns.unavailable()
    if problem:
        pytest.skip(f"partitions need network namespaces: {problem}")


@pytest.mark.timeout(TIMEOUT_S)
def test_consistency_zookeeper_partitions():
    partitions_or_skip()
    result = run("zookeeper", seconds=SECONDS, partitions=True, synced_reads=ZOOKEEPER)
    print(result.figures())
    check_exercised(result, partitions=True)
    assert result.report.valid, "Apache ZooKeeper fails the checker:\n" + result.explain()


@pytest.mark.timeout(TIMEOUT_S)
def test_consistency_corral_partitions():
    partitions_or_skip()
    result = run("corral", corral_binary(), seconds=SECONDS, partitions=True,
                 synced_reads=corral_mode())
    print(result.figures())
    check_exercised(result, partitions=True)
    assert result.report.valid, "Corral fails the checker:\n" + result.explain()
