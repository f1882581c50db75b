#!/usr/bin/env bash
# Stand-in for the Corral binary: `zk-as-corral.sh server /abs/zoo.cfg` runs
# Apache ZooKeeper 3.8 in the foreground with that config. Used with
# CORRAL_ORACLE_ONLY=1 to validate the interop harness with ZooKeeper on both
# sides (every scenario must then pass).
set -euo pipefail
if [[ $# -ne 2 || $1 != server ]]; then
    echo "usage: $0 server /abs/zoo.cfg" >&2
    exit 2
fi
cp=/usr/share/java/zookeeper.jar
# Netty, for a zoo.cfg that asks for NettyServerCnxnFactory (kazoo's harness does).
# The servlet API and Jetty, for the AdminServer (admin.enableServer=true).
for jar in netty-codec.jar netty-resolver.jar netty-transport-native-unix-common.jar \
    servlet-api.jar jetty9-servlet.jar jetty9-server.jar jetty9-http.jar jetty9-util.jar \
    jetty9-io.jar jetty9-security.jar; do
    if [[ -e /usr/share/java/$jar ]]; then
        cp="$cp:/usr/share/java/$jar"
    fi
done
for binding in slf4j-simple.jar slf4j-nop.jar; do
    if [[ -e /usr/share/java/$binding ]]; then
        cp="$cp:/usr/share/java/$binding"
        break
    fi
done
# Corral reads the JAAS file from zoo.cfg; ZooKeeper needs it as a system property.
props=()
jaas=$(sed -n 's/^java\.security\.auth\.login\.config=//p' "$2")
if [[ -n $jaas ]]; then
    props+=("-Djava.security.auth.login.config=$jaas")
fi
# Likewise read-only mode (ZooKeeper reads only the system property).
readonly_mode=$(sed -n 's/^readonlymode\.enabled=//p' "$2")
if [[ -n $readonly_mode ]]; then
    props+=("-Dreadonlymode.enabled=$readonly_mode")
fi
exec java -Xms64m -XX:+UseSerialGC "${props[@]}" -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$2"
