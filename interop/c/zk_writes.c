/*
 * Writes through Apache ZooKeeper's C client (libzookeeper_mt), for interop/test_migrate.py:
 * persistent nodes, a setData, sequential nodes, a container with a child, a node under the
 * digest ACL of the authenticated user (ZOO_CREATOR_ALL_ACL, fixed up by the server), a
 * world read-only node and an ip ACL set with setACL. Prints each created path.
 *
 * Usage: zk_writes HOST:PORT ROOT     (ROOT: a path that does not exist yet, e.g. /capp)
 * Build: gcc -O2 -DTHREADED zk_writes.c -lzookeeper_mt -lpthread -o zk_writes
 * Exit status 0 when every call succeeded; otherwise 1 and the failed call on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static volatile int connected = 0;
static volatile int auth_done = 0;
static volatile int auth_rc = -1;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh; (void)path; (void)ctx;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
        connected = 1;
    }
}

static void auth_completion(int rc, const void *data) {
    (void)data;
    auth_rc = rc;
    auth_done = 1;
}

static void check(int rc, const char *what) {
    if (rc != ZOK) {
        fprintf(stderr, "%s: %s (%d)\n", what, zerror(rc), rc);
        exit(1);
    }
}

static void create(zhandle_t *zh, const char *path, const char *data,
                   const struct ACL_vector *acl, int mode) {
    char created[512];
    int len = data ? (int)strlen(data) : -1;
    check(zoo_create(zh, path, data, len, acl, mode, created, sizeof created), path);
    printf("created %s\n", created);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST:PORT ROOT\n", argv[0]);
        return 2;
    }
    const char *root = argv[2];
    char path[512];
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zhandle_t *zh = zookeeper_init(argv[1], watcher, 30000, 0, 0, 0);
    if (!zh) {
        perror("zookeeper_init");
        return 1;
    }
    for (int i = 0; i < 300 && !connected; i++) {
        usleep(50000);
    }
    if (!connected) {
        fprintf(stderr, "not connected to %s within 15 s\n", argv[1]);
        return 1;
    }
    create(zh, root, "from the C client", &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT);
    snprintf(path, sizeof path, "%s/plain", root);
    create(zh, path, "first", &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT);
    check(zoo_set(zh, path, "second", 6, 0), "set plain");
    struct ACL ip_entry = {ZOO_PERM_ALL, {"ip", "127.0.0.1"}};
    struct ACL_vector ip_acl = {1, &ip_entry};
    check(zoo_set_acl(zh, path, 0, &ip_acl), "setACL plain");
    snprintf(path, sizeof path, "%s/seq-", root);
    for (int i = 0; i < 3; i++) {
        create(zh, path, "s", &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL);
    }
    snprintf(path, sizeof path, "%s/cont", root);
    create(zh, path, "c", &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER);
    snprintf(path, sizeof path, "%s/cont/kid", root);
    create(zh, path, NULL, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT);
    check(zoo_add_auth(zh, "digest", "alice:secret", 12, auth_completion, NULL), "addauth");
    for (int i = 0; i < 300 && !auth_done; i++) {
        usleep(50000);
    }
    check(auth_done ? auth_rc : ZOPERATIONTIMEOUT, "addauth digest alice");
    snprintf(path, sizeof path, "%s/mine", root);
    create(zh, path, "alice's", &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT);
    struct ACL read_entry = {ZOO_PERM_READ, {"world", "anyone"}};
    struct ACL_vector read_acl = {1, &read_entry};
    snprintf(path, sizeof path, "%s/readonly", root);
    create(zh, path, "r", &read_acl, ZOO_PERSISTENT);
    check(zookeeper_close(zh), "close");
    return 0;
}
