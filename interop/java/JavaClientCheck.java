// Drives Apache ZooKeeper's own Java client (Debian's zookeeper.jar) through ACLs, multi,
// persistent recursive watches and watch re-registration (SetWatches) across a server restart.
// Prints one line per observation; interop/test_java_client.py runs it against Apache
// ZooKeeper and Corral and compares the outputs.
//
// Usage: java JavaClientCheck host:port root
// It prints "RESTART" once its watches are set, then waits for a line on stdin (sent after the
// test restarted the server on the same port and data) before making the changes.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public class JavaClientCheck {
    static final long WAIT_S = 20;

    static ZooKeeper connect(String addr, LinkedBlockingQueue<String> states) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(addr, 15000, e -> {
            if (e.getType() == Watcher.Event.EventType.None) {
                if (states != null) {
                    states.add(e.getState().toString());
                }
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                    up.countDown();
                }
            }
        });
        if (!up.await(WAIT_S, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no connection to " + addr);
        }
        return zk;
    }

    static String outcome(Callable c) {
        try {
            return "ok " + c.call();
        } catch (KeeperException e) {
            return "error " + e.code();
        } catch (Exception e) {
            return "exception " + e.getClass().getSimpleName();
        }
    }

    interface Callable {
        Object call() throws Exception;
    }

    static String stat(Stat s) {
        return "version=" + s.getVersion() + " cversion=" + s.getCversion() + " aversion=" + s.getAversion()
            + " dataLength=" + s.getDataLength() + " numChildren=" + s.getNumChildren()
            + " ephemeral=" + (s.getEphemeralOwner() != 0);
    }

    static String results(List<OpResult> rs) {
        List<String> out = new ArrayList<>();
        for (OpResult r : rs) {
            if (r instanceof OpResult.ErrorResult) {
                out.add("error(" + KeeperException.Code.get(((OpResult.ErrorResult) r).getErr()) + ")");
            } else if (r instanceof OpResult.CreateResult) {
                OpResult.CreateResult c = (OpResult.CreateResult) r;
                out.add("create(" + c.getPath() + (c.getStat() == null ? "" : " " + stat(c.getStat())) + ")");
            } else if (r instanceof OpResult.SetDataResult) {
                out.add("setData(" + stat(((OpResult.SetDataResult) r).getStat()) + ")");
            } else {
                out.add(r.getClass().getSimpleName());
            }
        }
        return out.toString();
    }

    public static void main(String[] args) throws Exception {
        String addr = args[0];
        String r = args[1];
        ZooKeeper zk = connect(addr, null);
        ZooKeeper other = connect(addr, null);
        zk.create(r, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);

        // ---- ACL and auth ----
        zk.addAuthInfo("digest", "alice:secret".getBytes("UTF-8"));
        System.out.println("create acl: " + outcome(() -> zk.create(r + "/acl", "x".getBytes(), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT)));
        System.out.println("getACL owner: " + outcome(() -> zk.getACL(r + "/acl", new Stat())));
        System.out.println("getData other: " + outcome(() -> new String(other.getData(r + "/acl", false, null))));
        System.out.println("getACL other: " + outcome(() -> other.getACL(r + "/acl", new Stat())));
        System.out.println("setACL bad version: " + outcome(() -> zk.setACL(r + "/acl", ZooDefs.Ids.OPEN_ACL_UNSAFE, 7)));
        System.out.println("setACL: " + outcome(() -> stat(zk.setACL(r + "/acl", ZooDefs.Ids.READ_ACL_UNSAFE, 0))));
        System.out.println("setData read-only acl: " + outcome(() -> zk.setData(r + "/acl", "y".getBytes(), -1)));
        System.out.println("create auth acl without auth: " + outcome(() -> other.create(r + "/acl2", new byte[0], ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT)));
        System.out.println("whoami: " + outcome(() -> zk.whoAmI().size()));

        // ---- multi ----
        System.out.println("multi ok: " + outcome(() -> results(zk.multi(Arrays.asList(
            Op.create(r + "/m", "1".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.create(r + "/m/seq-", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.setData(r + "/m", "2".getBytes(), 0),
            Op.check(r + "/m", 1),
            Op.create(r + "/m/gone", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.delete(r + "/m/gone", 0))))));
        try {
            zk.multi(Arrays.asList(
                Op.create(r + "/m2", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.check(r + "/m", 5),
                Op.delete(r + "/m", -1)));
            System.out.println("multi failing: no error");
        } catch (KeeperException e) {
            System.out.println("multi failing: " + e.code() + " " + results(e.getResults()));
        }
        System.out.println("multi rolled back: " + outcome(() -> zk.exists(r + "/m2", false)));
        System.out.println("multiRead: " + outcome(() -> zk.multi(Arrays.asList(
            Op.getData(r + "/m"), Op.getChildren(r + "/nope"))).size()));

        // ---- persistent recursive watch ----
        LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
        Watcher recorder = e -> events.add(e.getType() + " " + e.getPath());
        zk.create(r + "/tree", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.addWatch(r + "/tree", recorder, AddWatchMode.PERSISTENT_RECURSIVE);
        other.create(r + "/tree/a", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.create(r + "/tree/a/b", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.setData(r + "/tree/a", "v".getBytes(), -1);
        other.delete(r + "/tree/a/b", -1);
        for (int i = 0; i < 4; i++) {
            System.out.println("recursive event: " + events.poll(WAIT_S, TimeUnit.SECONDS));
        }
        zk.removeWatches(r + "/tree", recorder, Watcher.WatcherType.Any, false);
        System.out.println("after removeWatches: " + events.poll(WAIT_S, TimeUnit.SECONDS));
        other.create(r + "/tree/c", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        System.out.println("removed watch silent: " + events.poll(1, TimeUnit.SECONDS));

        // ---- watches re-registered (SetWatches) across a server restart ----
        other.close();
        zk.create(r + "/w", "before".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        LinkedBlockingQueue<String> fired = new LinkedBlockingQueue<>();
        Watcher w = e -> fired.add(e.getType() + " " + e.getPath());
        zk.getData(r + "/w", w, null);
        zk.exists(r + "/later", w);
        zk.getChildren(r + "/w", w);
        zk.addWatch(r + "/tree", w, AddWatchMode.PERSISTENT);
        System.out.println("RESTART");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String go = in.readLine();
        if (go == null) {
            throw new IllegalStateException("stdin closed before the restart");
        }
        // The client reconnects by itself with its session; wait until requests succeed.
        long deadline = System.currentTimeMillis() + WAIT_S * 1000;
        String exists = "never";
        while (System.currentTimeMillis() < deadline) {
            try {
                exists = "ok " + (zk.exists(r + "/w", false) != null);
                break;
            } catch (KeeperException.ConnectionLossException e) {
                Thread.sleep(100);
            }
        }
        System.out.println("after restart exists: " + exists + " state " + zk.getState());
        ZooKeeper changer = connect(addr, null);
        changer.setData(r + "/w", "after".getBytes(), -1);
        changer.create(r + "/later", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        changer.create(r + "/w/kid", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        changer.create(r + "/tree/d", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        List<String> got = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            got.add(String.valueOf(fired.poll(WAIT_S, TimeUnit.SECONDS)));
        }
        Collections.sort(got);
        System.out.println("fired after restart: " + got);
        System.out.println("session kept: " + (zk.getSessionId() != 0) + " data " + new String(zk.getData(r + "/w", false, null)));
        changer.close();
        zk.close();
        System.out.println("DONE");
    }
}
