"""zkCli.sh (the Java CLI of Apache ZooKeeper 3.8) against both servers."""

from harness import zkcli
from harness.scenario import scenario


@scenario
def test_zkcli_create_modes(t):
    r = t.root
    return zkcli.session(
        t,
        [
            f"create {r}",
            f"create {r}/plain hello",
            f"create {r}/empty",
            f"create {r}/plain again",
            f"create {r}/missing/child x",
            f"create -e {r}/eph e-data",
            f"create -e {r}/eph/child x",
            f"create -s {r}/seq- a",
            f"create -s {r}/seq- b",
            f"create -s {r}/seq- c",
            f"create -e -s {r}/eseq- d",
            f"create -s -e {r}/eseq- e",
            f"create -c {r}/cont",
            f"create -c {r}/cont/leaf leafdata",
            f"ls {r}",
            f"get {r}/plain",
            f"get {r}/empty",
            f"get -s {r}/plain",
            f"get -s {r}/eph",
            f"get -s {r}/seq-0000000003",
            f"get -s {r}/eseq-0000000006",
            f"get -s {r}/cont",
            f"get -s {r}",
            f"get {r}/nope",
            f"get -s {r}/nope",
            f"ls {r}/nope",
            f"getEphemerals {r}",
        ],
    )


@scenario
def test_zkcli_set_and_versions(t):
    r = t.root
    return zkcli.session(
        t,
        [
            f"create {r} top",
            f"create {r}/n v0",
            f"set {r}/n v1",
            f"get -s {r}/n",
            f"set -v 1 {r}/n v2",
            f"set -v 1 {r}/n v3",
            f"set -v 7 {r}/n v3",
            f"set -s {r}/n v4",
            f"set -s -v 3 {r}/n v5",
            f"get -s {r}/n",
            f"set {r}/nope x",
            f"set -v 0 {r}/nope x",
            f"delete -v 0 {r}/n",
            f"delete -v 4 {r}/n",
            f"get {r}/n",
            f"stat {r}",
        ],
    )


@scenario
def test_zkcli_ls_stat(t):
    r = t.root
    return zkcli.session(
        t,
        [
            f"create {r} root",
            f"create {r}/b bb",
            f"create {r}/a aa",
            f"create {r}/c",
            f"create {r}/a/x",
            f"create {r}/a/y",
            f"create {r}/a/x/deep",
            f"ls {r}",
            f"ls -s {r}",
            f"ls -R {r}",
            f"ls {r}/c",
            f"ls -s {r}/c",
            f"stat {r}",
            f"stat {r}/a",
            f"stat {r}/a/x/deep",
            f"stat {r}/nope",
            f"getAllChildrenNumber {r}",
            f"getAllChildrenNumber {r}/c",
            "sync " + r,
        ],
    )


@scenario
def test_zkcli_delete(t):
    r = t.root
    return zkcli.session(
        t,
        [
            f"create {r}",
            f"create {r}/leaf",
            f"create {r}/tree t",
            f"create {r}/tree/a",
            f"create {r}/tree/a/b",
            f"create {r}/tree/c",
            f"create -e {r}/tree/eph",
            f"delete {r}/leaf",
            f"delete {r}/leaf",
            f"delete {r}/tree",
            f"delete {r}/tree/a",
            f"ls {r}/tree",
            f"stat {r}/tree",
            f"deleteall {r}/tree",
            f"ls {r}",
            f"stat {r}",
            f"deleteall {r}/nope",
            f"delete {r}/nope/deeper",
            f"deleteall {r}",
            f"ls {r}",
        ],
    )


@scenario
def test_zkcli_data_values(t):
    r = t.root
    big = "x" * 4000
    return zkcli.session(
        t,
        [
            f"create {r}",
            f"create {r}/quoted 'hello world'",
            f'create {r}/dquoted "two words"',
            f"create {r}/utf8 h\u00e9llo-\u4e16\u754c",
            f"create {r}/big {big}",
            f"get -s {r}/quoted",
            f"get {r}/dquoted",
            f"get -s {r}/utf8",
            f"get -s {r}/big",
            f"set {r}/big short",
            f"get -s {r}/big",
            f"create {r}/empty",
            f"set {r}/empty ''",
            f"get -s {r}/empty",
        ],
    )


@scenario
def test_zkcli_watches(t):
    """Watch notifications printed by zkCli (one-shot get/ls/stat watches)."""
    r = t.root
    return zkcli.session(
        t,
        [
            f"create {r}",
            f"create {r}/w v0",
            f"get -w {r}/w",
            f"ls -w {r}",
            f"stat -w {r}/later",
            f"set {r}/w v1",
            f"set {r}/w v2",
            f"create {r}/later",
            f"create {r}/other",
            f"ls -w {r}/w",
            f"stat -w {r}/w",
            f"delete {r}/w",
            "sync " + r,
        ],
    )


@scenario
def test_zkcli_ephemeral_lifetime(t):
    """Ephemerals of one zkCli session are gone when the next session looks."""
    r = t.root
    first = zkcli.session(
        t,
        [
            f"create {r}",
            f"create -e {r}/e1 one",
            f"create -e -s {r}/es- two",
            f"create {r}/persistent",
            f"ls {r}",
            f"getEphemerals {r}",
            f"getEphemerals",
        ],
    )
    second = zkcli.session(t, [f"ls {r}", f"stat {r}", f"get {r}/e1"])
    return ["# first session"] + first + ["# second session"] + second


@scenario
def test_zkcli_single_command_exit_status(t):
    r = t.root
    out = []
    out += zkcli.once(t, ["get", f"{r}/nonexistent"])
    out += zkcli.once(t, ["create", r, "data"])
    out += zkcli.once(t, ["create", r, "data"])
    out += zkcli.once(t, ["create", f"{r}/child"])
    out += zkcli.once(t, ["get", r])
    out += zkcli.once(t, ["ls", r])
    out += zkcli.once(t, ["delete", r])
    out += zkcli.once(t, ["set", "-v", "9", r, "x"])
    out += zkcli.once(t, ["deleteall", r])
    out += zkcli.once(t, ["stat", r])
    return out
