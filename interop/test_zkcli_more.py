"""zkCli 3.8 commands beyond CRUD: ls -R/-s/-w, getAllChildrenNumber, getEphemerals, setAcl -R,
addWatch (persistent, recursive), removewatches, stat -w, sync, config, version, whoami."""

from harness import zkcli
from harness.scenario import scenario

@scenario
def test_zkcli_tree_watch_and_admin_commands(t):
    r = t.root
    return zkcli.session(t, [
        f"create {r} top", f"create {r}/a 1", f"create {r}/a/b 2", f"create {r}/a/b/c 3", f"create {r}/d 4",
        f"ls -R {r}", f"ls -s {r}", f"ls -w {r}", f"getAllChildrenNumber {r}", f"getAllChildrenNumber {r}/nope",
        f"create -e {r}/e1", f"create -e {r}/a/e2", f"getEphemerals {r}", f"getEphemerals {r}/a", "getEphemerals",
        f"setAcl -R {r}/a world:anyone:rwcda", f"getAcl {r}/a/b/c",
        f"addWatch {r}/d", f"addWatch -m PERSISTENT_RECURSIVE {r}/a", f"set {r}/d 5", f"set {r}/a/b/c 6", f"create {r}/a/new",
        f"removewatches {r}/d", f"removewatches {r}/d", f"removewatches {r}/a -a", f"get -w {r}/d", f"removewatches {r}/d -d", f"removewatches {r}/d -c",
        f"stat -w {r}/a", f"sync {r}", "config", "version", f"delete -v 9 {r}/d", f"stat {r}/nope",
        f"deleteall {r}/a", f"ls {r}", "whoami", f"get /zookeeper/config", f"ls /zookeeper",
    ])
