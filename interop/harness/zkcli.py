"""Drive Apache ZooKeeper's Java CLI (zkCli.sh) against a server."""

from __future__ import annotations

import os

from .normalize import ZKCLI_MARKER, zkcli_line, zkcli_transcript
from .proc import run_in_group
from .servers import JAVA_DIR, NETTY_JARS, ZK_JAR

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
ZKCLI_TIMEOUT_S = 60.0
# zkCli's session timeout, and how long it waits for the connection.
CONNECT_TIMEOUT_MS = 5000
# A request the server never answers fails after this instead of hanging zkCli.
JVM_FLAGS = "-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dzookeeper.request.timeout=5000"


def tls_properties(keystore: str, truststore: str, password: str) -> list[str]:
    """The Java client's system properties for a TLS connection with a client certificate
    (ZooKeeper's client side: Netty socket, zookeeper.ssl.* stores)."""
    return [
        "-Dzookeeper.client.secure=true",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
        f"-Dzookeeper.ssl.keyStore.location={keystore}",
        f"-Dzookeeper.ssl.keyStore.password={password}",
        f"-Dzookeeper.ssl.trustStore.location={truststore}",
        f"-Dzookeeper.ssl.trustStore.password={password}",
        # The server certificate names localhost; the client connects to 127.0.0.1.
        "-Dzookeeper.ssl.hostnameVerification=false",
    ]


def _run(args: list[str], stdin: str, timeout: float,
         java_properties: list[str] | None = None) -> tuple[int | None, str]:
    # -waitforconnection: give up (exit 1) if not connected within -timeout ms,
    # instead of queueing every command behind a dead connection.
    args = ["-timeout", str(CONNECT_TIMEOUT_MS), "-waitforconnection", *args]
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = JVM_FLAGS
    if java_properties is None:
        command = [ZKCLI, *args]
    else:
        # zkCli.sh's class path has no Netty, which a TLS client needs: run its main class.
        # slf4j-nop: the client's own logging would mix with the commands' output.
        jars = [ZK_JAR, *(str(JAVA_DIR / j) for j in (*NETTY_JARS, "slf4j-nop.jar"))]
        command = ["java", *JVM_FLAGS.split(), *java_properties, "-cp", ":".join(jars),
                   "org.apache.zookeeper.ZooKeeperMain", *args]
    code, out = run_in_group(command, stdin, timeout, env)
    if code is None:
        out += f"\n(zkCli killed after {timeout:.0f}s)\n"
    return code, out


class ZkCliConnectError(RuntimeError):
    """zkCli could not connect at all: the rest of the scenario is pointless."""


def _check_connected(target, code, out: str) -> None:
    if code not in (0, None) and "ZooKeeperMain.connectToZK" in out:
        tail = "\n".join(out.splitlines()[-8:])
        raise ZkCliConnectError(
            f"zkCli could not connect to {target.addr} within {CONNECT_TIMEOUT_MS} ms:\n{tail}"
        )


def session(target, commands: list[str], timeout: float = ZKCLI_TIMEOUT_S,
            tls: list[str] | None = None) -> list[str]:
    """Run several commands in one zkCli process (piped on stdin, then `quit`).

    Returns a normalised transcript: `$ command` then its indented output;
    watch notifications at the end in arrival order. `tls`: the Java client's TLS
    properties (`tls_properties`); it then connects to the target's secure client port.
    """
    for c in commands:
        assert "\n" not in c, c
    stdin = "".join(f"printwatches\n{c}\n" for c in commands) + "quit\n"
    addr = target.addr if tls is None else target.secure_addr
    code, out = _run(["-server", addr], stdin, timeout, tls)
    _check_connected(target, code, out)
    lines = zkcli_transcript(target.norm, commands, out)
    if code != 0:
        lines.append(f"(zkCli exit status {code})")
    return lines


def once(target, args: list[str], timeout: float = ZKCLI_TIMEOUT_S) -> list[str]:
    """One command on zkCli's command line; the exit status is part of the output."""
    code, out = _run(["-server", target.addr, *args], "", timeout)
    _check_connected(target, code, out)
    lines = [f"$ zkCli.sh {' '.join(args)}"]
    for raw in out.splitlines():
        if raw.strip() == ZKCLI_MARKER:
            continue
        if raw.strip().startswith("WatchedEvent ") and "type:None" not in raw:
            lines.append("  event: " + target.norm.text(raw.strip()))
            continue
        line = zkcli_line(target.norm, raw)
        if line is not None:
            lines.append("  " + line)
    lines.append(f"  (exit status {code})")
    return lines
