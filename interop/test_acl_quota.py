"""ACLs, authentication and quotas: zkCli and kazoo against both servers."""

from kazoo.security import make_digest_acl

from harness import kz, zkcli
from harness.scenario import scenario

SUPER = {"DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU="}


@scenario(config=SUPER)
def test_zkcli_digest_auth_and_acls(t):
    r = t.root
    owner = zkcli.session(
        t,
        [
            f"create {r} top",
            "addauth digest alice:pw",
            f"create {r}/sec data auth:alice:pw:cdrwa",
            f"create {r}/ro data digest:alice:V55/p2T0OpjQ+low3NVAH4aLvm0=:r,world:anyone:r",
            f"create {r}/open data",
            f"getAcl {r}/sec",
            f"getAcl {r}/ro",
            "whoami",
            f"create {r}/sec/child x",
            f"setAcl {r}/open world:anyone:r",
            f"setAcl -v 5 {r}/open world:anyone:cdrwa",
            f"getAcl -s {r}/open",
            f"set {r}/open changed",
            f"create {r}/bad x digest:nocolon:r",
            f"create {r}/bad x foo:bar:r",
            f"create {r}/bad x world:someone:r",
        ],
    )
    other = zkcli.session(
        t,
        [
            f"get {r}/sec",
            f"set {r}/sec zz",
            f"getAcl {r}/sec",
            f"getAcl {r}/ro",
            f"delete {r}/sec/child",
            "whoami",
            "addauth digest bob:x",
            f"get {r}/sec",
            "addauth digest super:test",
            "whoami",
            f"get {r}/sec",
            f"getAcl {r}/ro",
            f"setAcl {r}/sec world:anyone:cdrwa",
            f"get {r}/sec",
        ],
    )
    rejected = zkcli.session(t, ["addauth nosuchscheme whatever", f"ls {r}"])
    return owner + ["--- other session ---"] + other + ["--- unknown scheme ---"] + rejected


@scenario
def test_kazoo_acls(t):
    r, n = t.root, t.norm
    out = []
    alice = make_digest_acl("alice", "pw", all=True)
    with kz.clients(t, 2) as (a, b):

        def rec(label, fn, *args, **kw):
            out.append(f"{label}: {kz.outcome(n, fn, *args, **kw)}")

        rec("ensure root", a.ensure_path, r)
        rec("add_auth alice", a.add_auth, "digest", "alice:pw")
        rec("create secret", a.create, f"{r}/secret", b"s", acl=[alice])
        rec("get secret (alice)", a.get, f"{r}/secret")
        rec("get_acls secret (alice)", a.get_acls, f"{r}/secret")
        rec("get secret (anonymous)", b.get, f"{r}/secret")
        rec("set secret (anonymous)", b.set, f"{r}/secret", b"x")
        rec("get_acls secret (anonymous)", b.get_acls, f"{r}/secret")
        rec("set_acls wrong version", a.set_acls, f"{r}/secret", [alice], version=3)
        rec("set_acls version 0", a.set_acls, f"{r}/secret", [alice], version=0)
        rec("get_acls after", a.get_acls, f"{r}/secret")
        rec("create empty acl", a.create, f"{r}/noacl", b"", acl=[])
        rec("add_auth bob", b.add_auth, "digest", "bob:pw")
        rec("get secret (bob)", b.get, f"{r}/secret")
        rec("delete secret (alice)", a.delete, f"{r}/secret")
    return out


@scenario(config={"enforceQuota": "true"})
def test_zkcli_quotas(t):
    r = t.root
    return zkcli.session(
        t,
        [
            f"create {r}",
            f"create {r}/q",
            f"setquota -n 2 {r}/q",
            f"listquota {r}/q",
            f"create {r}/q/a ab",
            f"create {r}/q/b xyz",
            f"listquota {r}/q",
            f"set {r}/q/a abcdef",
            f"delete {r}/q/b",
            f"get -s /zookeeper/quota{r}/q/zookeeper_stats",
            f"create {r}/h",
            f"setquota -N 2 {r}/h",
            f"create {r}/h/a",
            f"create {r}/h/b",
            f"listquota {r}/h",
            f"create {r}/b",
            f"setquota -B 5 {r}/b",
            f"create {r}/b/a 123",
            f"create {r}/b/c 123",
            f"set {r}/b/a 123456",
            f"set -v 42 {r}/b/a 1234567",
            f"setquota -n 2 {r}/q/a",
            f"delquota {r}/q",
            f"listquota {r}/q",
            f"delquota {r}/q",
            f"ls /zookeeper/quota{r}",
        ],
    )
