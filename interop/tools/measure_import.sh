#!/bin/bash
# Measurement (issue 16): ~1M+ znodes written into real ZooKeeper 3.8 by corral-bench's create
# workload, SIGKILL, then corral import vs ZooKeeper's own restart on the same data.
# Run from the repo root after `cargo build --release -p corral -p corral-bench`; DURATION
# (seconds of create load, default 75) sets the size. Prints the times and peak memories.
# Everything is under $WORK (default /tmp/corral-import-measure), emptied first and left for
# inspection (about 3 GB for 75 s); the ZooKeeper it starts is killed by its pid.
set -u
fourlw() { python3 -c '
import socket,sys
try:
    s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=1); s.sendall(sys.argv[2].encode()); out=b""
    while True:
        d=s.recv(65536)
        if not d: break
        out+=d
    print(out.decode())
except OSError: pass' $PORT $1; }
W=${WORK:-/tmp/corral-import-measure}; rm -rf $W/data $W/corral $W/zk.log; mkdir -p $W/data
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > $W/zoo.cfg <<CFG
tickTime=2000
dataDir=$W/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
CFG
CP=/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar
start_zk() {
  setsid java -Xmx2g -cp $CP org.apache.zookeeper.server.quorum.QuorumPeerMain $W/zoo.cfg >> $W/zk.log 2>&1 &
  ZKPID=$!
  T0=$(date +%s.%N)
  for i in $(seq 1 600); do
    if fourlw srvr | grep -q Mode; then break; fi
    sleep 0.05
  done
  T1=$(date +%s.%N)
  echo "zookeeper ready in $(echo "$T1 - $T0" | bc) s (pid $ZKPID)"
}
start_zk
${BENCH:-target/release/corral-bench} run --addr 127.0.0.1:$PORT --workload create --sessions 4 --window 200 --warmup 0 --duration ${DURATION:-75} > $W/bench.out 2>&1
fourlw mntr | grep -E "znode_count|approximate_data_size"
kill -9 -- -$ZKPID 2>/dev/null || kill -9 $ZKPID; sleep 1
du -sh $W/data/version-2; ls $W/data/version-2 | tail -3
/usr/bin/time -f "import: max RSS %M KiB, %e s wall, %U s user" ${CORRAL:-target/release/corral} import --from $W/data --to $W/corral 2>&1 | grep -v INFO
start_zk
fourlw mntr | grep -E "znode_count"
echo "zookeeper RSS: $(grep VmHWM /proc/$ZKPID/status)"
kill -9 -- -$ZKPID 2>/dev/null || kill -9 $ZKPID
