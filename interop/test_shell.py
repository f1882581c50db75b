"""`corral shell` against zkCli 3.8: each script runs through zkCli against Apache ZooKeeper
(the reference), through `$CORRAL_BIN shell` against the same ZooKeeper, and through
`$CORRAL_BIN shell` against Corral. The three normalised transcripts must be equal.

Each run works under its own root (`/s_<name>_zk`, `_sh`, `_co`: the same length, as error
texts give positions in the path), written `{r}` in the scripts and in the transcripts; `{addr}` is the server's address. The stdin protocol is the
one of harness/zkcli.py (`printwatches` before each command splits the output into blocks,
watch events are listed at the end in arrival order). Left out on purpose: `version` (the
shells differ), a `deleteall` that fails (zkCli reports it only sometimes: its callback
releases the semaphore before it records the failure), `removewatches` of several kinds at
once (zkCli prints the removal events in HashMap order) and `printwatches off` right after
an event (zkCli's event thread may print it before or after the switch).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from harness import zkcli
from harness.proc import run_in_group
from harness.normalize import ZKCLI_MARKER, Normalizer, zkcli_line, zkcli_transcript
from harness.scenario import Target, env_flag

SHELL_TIMEOUT_S = 60.0


def _shell_bin() -> str:
    binary = os.environ.get("CORRAL_BIN")
    if not binary or not Path(binary).is_file():
        if env_flag("CORRAL_ORACLE_ONLY"):
            pytest.skip("corral shell needs CORRAL_BIN (not built with CORRAL_ORACLE_ONLY)")
        pytest.fail("CORRAL_BIN is not set to the corral binary: run `cargo xtask interop`", pytrace=False)
    return str(Path(binary).resolve())


def _target(server, root: str, name: str) -> Target:
    return Target(server=server, root=root, norm=Normalizer(ports=(server.port,)), name=name)


def _run_shell(args: list[str], stdin: str) -> tuple[int | None, str]:
    code, out = run_in_group([_shell_bin(), "shell", *args], stdin, SHELL_TIMEOUT_S)
    if code is None:
        out += f"\n(corral shell killed after {SHELL_TIMEOUT_S:.0f}s)\n"
    return code, out


def _shell_session(t: Target, commands: list[str], via_c: bool = False) -> list[str]:
    """Like zkcli.session, through `corral shell` (stdin, or one `-c` argument)."""
    if via_c:
        code, out = _run_shell(
            ["-server", t.addr, "-timeout", "5000", "-c", "; ".join(f"printwatches; {c}" for c in commands)], ""
        )
    else:
        stdin = "".join(f"printwatches\n{c}\n" for c in commands) + "quit\n"
        code, out = _run_shell(["-server", t.addr, "-timeout", "5000"], stdin)
    lines = zkcli_transcript(t.norm, commands, out)
    if code != 0:
        lines.append(f"(zkCli exit status {code})")
    return lines


def _generic(lines: list[str], t: Target) -> list[str]:
    return [line.replace(t.root, "{r}").replace(t.addr, "{addr}") for line in lines]


def _compare(name: str, expected: list[str], got: list[str], label: str) -> str | None:
    if expected == got:
        return None
    diff = "\n".join(difflib.unified_diff(expected, got, "zkCli on ZooKeeper", label, lineterm="", n=3))
    shown = "\n".join(f"    {line}" for line in got[:150])
    return f"script {name!r}: {label} differs from zkCli\n{diff}\n{label} output:\n{shown}"


def run_script(pool, name: str, script: list[str], via_c: bool = False) -> None:
    _shell_bin()
    zk = pool.oracle({})
    corral = pool.corral({})

    def commands(t: Target) -> list[str]:
        return [c.replace("{r}", t.root).replace("{addr}", t.addr) for c in script]

    t = _target(zk, f"/s_{name}_zk", name)
    reference = _generic(zkcli.session(t, commands(t)), t)
    if env_flag("CORRAL_INTEROP_SHOW"):
        print("\n".join(reference))
    problems = []
    for server, root, label in [(zk, f"/s_{name}_sh", "corral shell on ZooKeeper"), (corral, f"/s_{name}_co", "corral shell on Corral")]:
        t = _target(server, root, name)
        got = _generic(_shell_session(t, commands(t), via_c=via_c), t)
        problem = _compare(name, reference, got, label)
        if problem:
            problems.append(problem)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


NODES = [
    "create {r} hello", "create {r} again", "create {r}/a", "create -s {r}/seq- x", "create -e {r}/eph",
    "create -c {r}/cont", "create -es {r}/eseq-", "create -t abc {r}/t2", "create -t 0 {r}/t3",
    "create -e -c {r}/bad", "create -t 5 -e {r}/bad", "create /nope_shell/x", "create s_rel", "create {r}/",
    "create", "create {r}/q \"hello world\"", "create {r}/sq 'single quoted'", "create {r}/uq \"unterminated",
    "create {r}/neg -1", "create {r}/dash -- -1", "create {r}/empty \"\"", "create {r}/ü data-ü",
    "create {r}/./x", "create {r}//x", "get {r}", "get -s {r}", "get {r}/a", "get {r}/empty", "get {r}/q",
    "get {r}/sq", "get {r}/uq", "get {r}/dash", "get {r}/ü", "get /nope_shell", "get {r}/.",
    "set {r} world", "set -s {r} w2", "set -v 99 {r} w3", "set -v -1 {r} w4", "set -v", "set -v=5 {r} w5",
    "set -sx {r} w6", "set -s -v -s {r} w7", "set {r}", "get -sw {r}", "ls {r}", "ls -s {r}", "ls -R {r}",
    "ls {r} watch", "ls", "ls -x {r}", "ls -? {r}/a", "ls -R /nope_shell", "stat {r}", "stat /nope_shell",
    "stat -x {r}", "stat --w {r}", "stat {r} extra", "get {r} a b c", "delete {r}", "delete {r}/a 5",
    "delete -v 9 {r}/q", "delete", "delete {r}/q {r}/sq", "delete /", "delete /zookeeper", "sync {r}",
    "sync /nope_shell", "sync", "sync x", "getAllChildrenNumber {r}", "getAllChildrenNumber",
    "getAllChildrenNumber /nope_shell", "getEphemerals {r}", "getEphemerals", "getEphemerals x",
    "config", "config -c", "config -s", "get /zookeeper/config", "whoami", "foo", "deleteall",
    "deleteall {r} -b x", "deleteall {r} -b 2", "ls {r}",
]

WATCHES = [
    "create {r}", "create {r}/a 1", "get -w {r}/a", "stat -w {r}/a", "ls -w {r}", "set {r}/a 2",
    "create {r}/b", "addWatch {r}", "addWatch -m PERSISTENT {r}/a", "addWatch -m bogus {r}/a", "addWatch",
    "addWatch {r} /x", "set {r}/a 3", "delete {r}/b", "get -w {r}/a", "ls -w {r}/a", "removewatches {r}/a -d",
    "removewatches {r}/a -c", "removewatches {r}", "removewatches {r}/zz", "removewatches {r}/a -l",
    "removewatches {r}/a", "stat -w {r}/none", "create {r}/none", "get -w {r}/a", "removewatches {r}/a -a",
    "config -w", "ls -R -w {r}", "create {r}/none/deep", "set {r}/a 4", "create {r}/c", "set {r} z",
    "addWatch -m persistent_recursive {r}", "create {r}/x", "delete {r}/x", "stat -w {r}/a", "get -w {r}/a",
    "addWatch -m PERSISTENT {r}/a", "set {r}/a 7", "set {r}/a 8", "removewatches {r} -l", "set {r}/a 9",
    "deleteall {r}",
]

ACLS = [
    "create {r}", "create {r}/open x", "getAcl {r}/open", "getAcl -s {r}/open", "getAcl", "getAcl /nope_shell",
    "setAcl {r}/open world:anyone:rwz", "getAcl {r}/open", "setAcl {r}/open world:anyone", "setAcl {r}/open",
    "setAcl -s {r}/open world:anyone:cdrwa,foo", "setAcl -v 7 {r}/open world:anyone:r", "create {r}/s a\"b c\"",
    "create {r}/inv x ip:notanip:r", "create {r}/ro x world:anyone:r", "set {r}/ro y", "get {r}/ro",
    "create {r}/ro/child x", "whoami", "addauth digest u:p", "addauth", "whoami",
    "create {r}/mine x auth::cdrwa", "getAcl {r}/mine", "create {r}/two x auth::r,ip:127.0.0.1:cdrwa",
    "getAcl {r}/two", "create {r}/t x", "create {r}/t/a x", "create {r}/t/a/b x", "setAcl -R {r}/t world:anyone:rdwa",
    "getAcl {r}/t/a/b", "setAcl -R {r}/t world:anyone:cdrwa", "getAcl {r}/t/a", "create {r}/u x", "create {r}/u/c x",
    "setAcl -R {r}/u world:anyone:rd", "setAcl -R {r}/u world:anyone:cdrwa", "getAcl {r}/u/c",
    "setAcl -R /nope_shell world:anyone:r", "deleteall {r}", "ls {r}",
]

QUOTAS = [
    "create {r}", "create {r}/a", "create {r}/a/b x", "create {r}/big 12345678901234567890",
    "setquota -N 1 {r}/a", "setquota -n 0 {r}", "setquota -b -1 {r}", "setquota -n x {r}", "setquota {r}",
    "setquota -n 1 -b 2 {r}", "setquota -n 1 {r}/nope", "setquota -n 1 /zookeeper/quota/x", "listquota {r}",
    "setquota -N 1 {r}", "listquota {r}/a", "setquota -n 10 {r}/a", "setquota -b 1 {r}/a", "listquota {r}/a",
    "setquota -n 5 {r}/a/b", "listquota {r}/nope", "delquota {r}/nope", "delquota -b {r}/a", "listquota {r}/a",
    "delquota -n -b {r}", "delquota -N {r}/a", "listquota {r}/a", "delquota {r}/a", "listquota {r}/a",
    "setquota -B 5 {r}/a/b", "listquota {r}/a/b", "setquota -n 1 {r}", "delquota {r}/a/b", "listquota",
    "deleteall {r}",
]

SESSION = [
    "create {r}", "create -e {r}/e", "history", "redo 3", "redo 100", "redo 1", "close", "ls {r}",
    "history", "printwatches", "redo 1", "connect {addr}", "ls {r}", "getEphemerals {r}", "close", "close",
    "connect", "create {r}/x", "reconfig", "reconfig -add 2=127.0.0.1:1:2;3", "reconfig -remove 1",
    "reconfig -members 1=a:1:2 -add 2=b:1:2", "reconfig -v zz -remove 1", "deleteall {r}", "get {r}",
]


def test_shell_nodes(interop_servers):
    run_script(interop_servers, "shell_nodes", NODES)


def test_shell_watches(interop_servers):
    run_script(interop_servers, "shell_watches", WATCHES)


def test_shell_acls_and_auth(interop_servers):
    run_script(interop_servers, "shell_acls", ACLS)


def test_shell_quotas(interop_servers):
    run_script(interop_servers, "shell_quotas", QUOTAS)


def test_shell_session_history_and_exit_status(interop_servers):
    run_script(interop_servers, "shell_session", SESSION)


CHROOTED = [
    "ls /", "create /a x", "get -w /a", "set /a y", "ls -R /", "create -e /e", "getEphemerals", "getEphemerals /",
    "stat -w /gone", "create /gone", "config", "ls /zookeeper", "deleteall /a", "delete /gone", "delete /e", "ls /",
]


class _Chrooted:
    """A server seen through a connect string with a chroot."""

    def __init__(self, server, chroot: str):
        self.server, self.chroot = server, chroot
        self.host, self.port = server.host, server.port

    @property
    def addr(self) -> str:
        return f"{self.server.addr}{self.chroot}"


def test_shell_chroot(interop_servers):
    """Paths relative to the chroot; getEphemerals shows server paths; config ignores the chroot."""
    _shell_bin()
    zk, corral = interop_servers.oracle({}), interop_servers.corral({})
    runs = []
    for server, root in [(zk, "/s_shell_chroot_zk"), (zk, "/s_shell_chroot_sh"), (corral, "/s_shell_chroot_co")]:
        code, out = _run_shell(["-server", server.addr, "create", root], "")
        assert code == 0, out
        runs.append(Target(server=_Chrooted(server, root), root=root, norm=Normalizer(ports=(server.port,)), name="chroot"))
    reference = _generic(zkcli.session(runs[0], CHROOTED), runs[0])
    problems = [
        _compare("shell_chroot", reference, _generic(_shell_session(t, CHROOTED), t), label)
        for t, label in [(runs[1], "corral shell on ZooKeeper"), (runs[2], "corral shell on Corral")]
    ]
    problems = [p for p in problems if p]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def test_shell_dash_c(interop_servers):
    """The same commands given with -c (`;`-separated) print what zkCli prints for them."""
    run_script(interop_servers, "shell_dash_c", ["create {r} 'a;b'", "get {r}", "get /nope_shell", "deleteall {r}"], via_c=True)


def _once_shell(t: Target, args: list[str]) -> list[str]:
    """Like zkcli.once: one command as words on the command line, with the exit status."""
    code, out = _run_shell(["-server", t.addr, "-timeout", "5000", *args], "")
    lines = [f"$ zkCli.sh {' '.join(args)}"]
    for raw in out.splitlines():
        if raw.strip() == ZKCLI_MARKER:
            continue
        line = zkcli_line(t.norm, raw)
        if line is not None:
            lines.append("  " + line)
    lines.append(f"  (exit status {code})")
    return lines


def test_shell_command_words(interop_servers):
    """`corral shell -server X cmd args` runs one command, as `zkCli.sh -server X cmd args`."""
    _shell_bin()
    zk, corral = interop_servers.oracle({}), interop_servers.corral({})
    # Each zkCli call is a JVM start: few of them.
    calls = [["create", "{r}", "a b"], ["get", "/nope_shell"], ["nosuchcommand"]]
    t = _target(zk, "/s_shell_words_zk", "shell_words")
    reference: list[str] = []
    for call in calls:
        reference += _generic(zkcli.once(t, [w.replace("{r}", t.root) for w in call]), t)
    problems = []
    for server, root, label in [(zk, "/s_shell_words_sh", "corral shell on ZooKeeper"), (corral, "/s_shell_words_co", "corral shell on Corral")]:
        t = _target(server, root, "shell_words")
        got: list[str] = []
        for call in calls:
            got += _generic(_once_shell(t, [w.replace("{r}", t.root) for w in call]), t)
        _once_shell(t, ["delete", t.root])
        problem = _compare("shell_words", reference, got, label)
        if problem:
            problems.append(problem)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def test_shell_version_and_usage(interop_servers):
    _shell_bin()
    zk = interop_servers.oracle({})
    code, out = _run_shell(["-server", zk.addr, "-c", "version"], "")
    assert code == 0, out
    assert "ZooKeeper CLI version: Corral shell" in out, out
    code, out = _run_shell(["-bogus"], "")
    assert code == 2 and "usage: corral shell" in out, out
