"""The checker on hand-made histories: a good one passes, a lost write and a stale read fail,
and unknown outcomes are allowed either way."""

from __future__ import annotations

from .checker import ZOOKEEPER, check, linearizable
from .history import CAS, FAIL, OK, READ, UNKNOWN, WRITE, Op

R = "/r0"


def w(p, t0, t1, value, version, outcome=OK, mzxid=None):
    return Op(p, R, WRITE, t0, t1, outcome, value=value,
              result_version=version if outcome == OK else None, result_mzxid=mzxid)


def cas(p, t0, t1, expect, value, version=None, outcome=OK):
    return Op(p, R, CAS, t0, t1, outcome, value=value, expect_version=expect,
              result_version=version)


def r(p, t0, t1, value, version, final=False, server=""):
    return Op(p, R, READ, t0, t1, OK, result_value=value, result_version=version, final=final,
              server=server)


def good_history():
    return [
        w("a", 0, 10, "a1", 1, mzxid=5),
        r("b", 2, 12, "0", 0),            # concurrent with the write: may see the old value
        r("c", 11, 20, "a1", 1),
        cas("b", 13, 25, 1, "b1", 2),
        cas("c", 21, 30, 1, "c1", outcome=FAIL),   # b's CAS went first
        w("a", 26, 40, "a2", None, outcome=UNKNOWN),
        r("c", 31, 35, "b1", 2),
        r("b", 41, 45, "a2", 3),          # the unknown write did take effect
        w("a", 46, 50, "a3", 4, mzxid=9),
        r("z", 60, 61, "a3", 4, final=True),
    ]


def test_good_history_passes():
    report = check(good_history())
    assert report.valid, report.violations
    assert (report.ok, report.fail, report.unknown) == (8, 1, 1)


def test_unknown_write_that_never_happened_passes():
    ops = [w("a", 0, 10, "a1", 1), w("b", 11, None, "b1", None, outcome=UNKNOWN),
           r("c", 20, 30, "a1", 1), r("z", 40, 41, "a1", 1, final=True)]
    assert check(ops).valid


def test_lost_write_fails():
    ops = [
        w("a", 0, 10, "a1", 1),
        w("b", 11, 20, "b1", 2),          # acknowledged...
        r("c", 21, 30, "a1", 1),          # ...but this read does not see it
        w("a", 31, 40, "a2", 2),          # ...and its version is handed out again
        r("z", 50, 51, "a2", 2, final=True),
    ]
    report = check(ops)
    assert not report.valid
    text = "\n".join(report.violations)
    assert "lost update: two acknowledged writes got the same version" in text
    assert "no linearization" in text


def test_stale_read_fails():
    ops = [
        w("a", 0, 10, "a1", 1),
        r("b", 3, 8, "0", 0),             # concurrent: fine
        r("c", 12, 20, "0", 0),           # invoked after the ack of a1: stale
        r("z", 30, 31, "a1", 1, final=True),
    ]
    report = check(ops)
    assert not report.valid
    text = "\n".join(report.violations)
    assert "stale synced read: older than a write acknowledged before it began" in text
    assert "no linearization" in text


def test_final_read_missing_a_write_is_a_lost_update():
    ops = [w("a", 0, 10, "a1", 1), w("a", 11, 20, "a2", 2), r("z", 30, 31, "a1", 1, final=True)]
    text = "\n".join(check(ops).violations)
    assert "lost update: the final synced read misses an acknowledged write" in text


def test_cas_that_failed_although_its_version_matched_fails():
    ops = [w("a", 0, 10, "a1", 1), cas("b", 11, 20, 1, "b1", outcome=FAIL),
           r("c", 21, 30, "a1", 1)]
    result, _, why = linearizable(ops)
    assert result is False and "cas(version 1" in why


def test_mzxid_order_across_registers():
    a = w("a", 0, 10, "a1", 1, mzxid=20)
    b = Op("b", "/r1", WRITE, 11, 20, OK, value="b1", result_version=1, result_mzxid=15)
    text = "\n".join(check([a, b]).violations)
    assert "mzxid is not above" in text


def test_concurrent_reads_may_be_ordered_either_way_but_not_against_real_time():
    ops = [w("a", 0, 10, "a1", 1), w("a", 11, 40, "a2", 2),
           r("b", 12, 20, "a2", 2), r("c", 21, 30, "a1", 1)]   # c began after b saw a2
    report = check(ops)
    assert "stale synced read: older than a read that completed before it began" in "\n".join(
        report.violations)


def test_search_handles_many_concurrent_unknowns():
    ops = [w(f"p{i}", i, None, f"v{i}", None, outcome=UNKNOWN) for i in range(12)]
    ops += [r("z", 100, 101, "v7", 3, final=True)]
    result, states, _ = linearizable(ops)
    assert result is True


def test_zookeeper_mode_allows_a_stale_read_through_another_server_only():
    write = w("a", 0, 10, "a1", 1)
    write.server = "s1"
    other = [write, r("b", 12, 20, "0", 0, server="s2"), r("z", 30, 31, "a1", 1, final=True)]
    assert not check(other).valid
    assert check(other, synced_reads=ZOOKEEPER).valid, check(other, synced_reads=ZOOKEEPER)
    same = [write, r("b", 12, 20, "0", 0, server="s1"), r("z", 30, 31, "a1", 1, final=True)]
    text = "\n".join(check(same, synced_reads=ZOOKEEPER).violations)
    assert "stale synced read: older than a write acknowledged before it began" in text


def test_zookeeper_mode_still_finds_lost_writes():
    ops = [w("a", 0, 10, "a1", 1), w("b", 11, 20, "b1", 2), w("a", 31, 40, "a2", 2),
           r("z", 50, 51, "a2", 2, final=True)]
    text = "\n".join(check(ops, synced_reads=ZOOKEEPER).violations)
    assert "lost update: two acknowledged writes got the same version" in text
    ops = [w("a", 0, 10, "a1", 1), w("a", 11, 20, "a2", 2), r("z", 30, 31, "a1", 1, final=True)]
    text = "\n".join(check(ops, synced_reads=ZOOKEEPER).violations)
    assert "lost update: the final synced read misses an acknowledged write" in text


def test_unknown_cas_may_apply_after_its_version_comes_round():
    # the CAS is invoked while the register is at v0 and applies once a1 made it v1
    ops = [cas("c", 0, None, 1, "c1", outcome=UNKNOWN), w("a", 1, 5, "a1", 1),
           r("b", 10, 12, "c1", 2), r("z", 20, 21, "c1", 2, final=True)]
    assert check(ops).valid, check(ops).violations
