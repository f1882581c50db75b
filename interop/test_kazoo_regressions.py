"""Regressions found by running kazoo's own test suite against Corral
(interop/kazoo_suite/): each scenario pins one difference it revealed."""

from harness import kz
from harness.scenario import scenario


def _reconfig_outcomes(t):
    """A standalone server's answer to reconfig, and whether the refused reconfig took a zxid
    (ZooKeeper preps it like any write: the error txn consumes one)."""
    with kz.clients(t, 1) as (a,):
        a.create(t.root, b"")
        _, before = a.get(t.root)
        out = [
            "remove: " + kz.outcome(t.norm, a.reconfig, joining=None, leaving="100", new_members=None),
            "add: "
            + kz.outcome(
                t.norm,
                a.reconfig,
                joining="server.100=127.0.0.1:1:2:observer;127.0.0.1:3",
                leaving=None,
                new_members=None,
            ),
            "bad input: " + kz.outcome(t.norm, a.reconfig, joining="some thing", leaving=None, new_members=None),
            "from_config: "
            + kz.outcome(t.norm, a.reconfig, joining=None, leaving="1", new_members=None, from_config=7),
        ]
        after = a.set(t.root, b"x")
        out.append(f"zxids taken by the 4 refused reconfigs: {after.mzxid - before.mzxid - 1}")
        return out


# kazoo's TestReconfig (test_client.py) runs with reconfigEnabled=true: ZooKeeper standalone
# then refuses reconfig as unimplemented, not as disabled.
@scenario(config={"reconfigEnabled": "true"})
def test_kazoo_reconfig_enabled_standalone(t):
    return _reconfig_outcomes(t)


@scenario
def test_kazoo_reconfig_disabled(t):
    return _reconfig_outcomes(t)
