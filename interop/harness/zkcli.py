"""Drive Apache ZooKeeper's Java CLI (zkCli.sh) against a server."""

from __future__ import annotations

import os
import signal
import subprocess

from .normalize import ZKCLI_MARKER, zkcli_line, zkcli_transcript

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
ZKCLI_TIMEOUT_S = 60.0
# zkCli's session timeout, and how long it waits for the connection.
CONNECT_TIMEOUT_MS = 5000
# A request the server never answers fails after this instead of hanging zkCli.
JVM_FLAGS = "-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dzookeeper.request.timeout=5000"


def _run(args: list[str], stdin: str, timeout: float) -> tuple[int | None, str]:
    # -waitforconnection: give up (exit 1) if not connected within -timeout ms,
    # instead of queueing every command behind a dead connection.
    args = ["-timeout", str(CONNECT_TIMEOUT_MS), "-waitforconnection", *args]
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = JVM_FLAGS
    proc = subprocess.Popen(
        [ZKCLI, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        encoding="utf-8",
        errors="replace",
        env=env,
        start_new_session=True,  # zkCli.sh does not exec java: kill the group
    )
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        return None, out + f"\n(zkCli killed after {timeout:.0f}s)\n"
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


class ZkCliConnectError(RuntimeError):
    """zkCli could not connect at all: the rest of the scenario is pointless."""


def _check_connected(target, code, out: str) -> None:
    if code not in (0, None) and "ZooKeeperMain.connectToZK" in out:
        tail = "\n".join(out.splitlines()[-8:])
        raise ZkCliConnectError(
            f"zkCli could not connect to {target.addr} within {CONNECT_TIMEOUT_MS} ms:\n{tail}"
        )


def session(target, commands: list[str], timeout: float = ZKCLI_TIMEOUT_S) -> list[str]:
    """Run several commands in one zkCli process (piped on stdin, then `quit`).

    Returns a normalised transcript: `$ command` then its indented output;
    watch notifications at the end in arrival order.
    """
    for c in commands:
        assert "\n" not in c, c
    stdin = "".join(f"printwatches\n{c}\n" for c in commands) + "quit\n"
    code, out = _run(["-server", target.addr], stdin, timeout)
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
