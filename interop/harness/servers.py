"""Start and stop Apache ZooKeeper and Corral servers on 127.0.0.1.

Every server runs in its own temporary directory, on a free ephemeral port,
in its own process group; `Server.stop()` kills that group (SIGTERM, then
SIGKILL) and is always called at session teardown, even after failures.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ZK_JAR = "/usr/share/java/zookeeper.jar"
JAVA_DIR = Path("/usr/share/java")
# First slf4j binding found wins; without one ZooKeeper logs nothing at all.
SLF4J_BINDINGS = ("slf4j-simple.jar", "slf4j-nop.jar")
INTEROP_DIR = Path(__file__).resolve().parent.parent
ZK_AS_CORRAL = INTEROP_DIR / "tools" / "zk-as-corral.sh"

READY_TIMEOUT_S = 30.0
READY_POLL_S = 0.1
START_ATTEMPTS = 3  # a free port can be taken between probing and binding
STOP_GRACE_S = 5.0

# A config value of FREE_PORT becomes a free port of its own for each server started (for a
# second listener such as secureClientPort); `Server.ports[key]` says which.
FREE_PORT = "$FREE_PORT"
# Netty, for ZooKeeper's NettyServerCnxnFactory (the one that serves secureClientPort) and
# the Java client's ClientCnxnSocketNetty: the jar's manifest misses these.
NETTY_JARS = ("netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar")
# snappy-java, for snapshot.compression.method=snappy (a dependency of Debian's zookeeper).
# The servlet API and Jetty 9, for ZooKeeper's AdminServer (without them it logs "Unable to
# load jetty" and serves nothing); loaded only when a config has admin.enableServer=true.
OPTIONAL_JARS = ("snappy-java.jar", "servlet-api.jar") + tuple(
    f"jetty9-{part}.jar" for part in ("servlet", "server", "http", "util", "io", "security")
)

DEFAULT_CONFIG: dict[str, str] = {
    "tickTime": "2000",
}

# Settings ZooKeeper takes only as Java system properties, which Corral reads
# from zoo.cfg under the same name: for ZooKeeper they also go on the java
# command line as -Dkey=value (ZooKeeper ignores them in zoo.cfg).
JVM_PROPERTIES = ("java.security.auth.login.config",)

_live: list["Server"] = []


def _stop_all_at_exit() -> None:
    for server in list(_live):
        server.stop()


atexit.register(_stop_all_at_exit)


def zookeeper_classpath() -> str:
    parts = [ZK_JAR] + [
        str(JAVA_DIR / j) for j in NETTY_JARS + OPTIONAL_JARS if (JAVA_DIR / j).exists()
    ]
    for name in SLF4J_BINDINGS:
        if (JAVA_DIR / name).exists():
            parts.append(str(JAVA_DIR / name))
            break
    return ":".join(parts)


def zookeeper_command(cfg: Path, properties: dict[str, str] | None = None) -> list[str]:
    """Apache ZooKeeper in the foreground on `cfg`, with `-Dkey=value` system properties."""
    return [
        "java",
        "-Xms64m",
        "-XX:+UseSerialGC",
        *(f"-D{k}={v}" for k, v in (properties or {}).items()),
        "-cp",
        zookeeper_classpath(),
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        str(cfg),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter word and read the reply until the server closes."""
    chunks = []
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def _set_pdeathsig() -> None:
    """In the child: die with the test process even if it is SIGKILLed."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn_server(cmd: list[str], cwd: Path, log, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A server process in its own process group (killed as a group), output to `log`,
    dying with the test process; `env` replaces the environment when given."""
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=_set_pdeathsig,
    )


def stop_process_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the process group led by proc (start_new_session=True), SIGKILL it if it is
    still there after grace_s, and reap proc."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=grace_s)
            # the leader is gone; make sure nothing else of its group stays
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            break
        except subprocess.TimeoutExpired:
            continue
    proc.poll()  # reap it if it had exited before the signals


class ServerStartError(RuntimeError):
    def __init__(self, msg: str, retry: bool = True):
        super().__init__(msg)
        self.retry = retry  # worth another try on another port


class Server:
    """One server process (kind is 'zookeeper' or 'corral')."""

    def __init__(self, kind: str, config: dict[str, str], corral_bin: str | None = None):
        self.kind = kind
        self.config = dict(DEFAULT_CONFIG)
        self.config.update(config)
        self.corral_bin = corral_bin
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None
        self.port: int | None = None
        self.log_path: Path | None = None
        self.ports: dict[str, int] = {}

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def describe(self) -> str:
        return f"{self.kind} at {self.addr} (pid {self.proc.pid if self.proc else '-'}, dir {self.workdir})"

    def _write_config(self, port: int) -> Path:
        assert self.workdir is not None
        data_dir = self.workdir / "data"
        data_dir.mkdir(exist_ok=True)
        lines = {
            "dataDir": str(data_dir),
            "clientPort": str(port),
            "clientPortAddress": "127.0.0.1",
            "maxClientCnxns": "0",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "extendedTypesEnabled": "true",
        }
        lines.update(self.config)
        self.ports = {}
        for key, value in lines.items():
            if value == FREE_PORT:
                self.ports[key] = free_port()
                lines[key] = str(self.ports[key])
        cfg = self.workdir / "zoo.cfg"
        cfg.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return cfg

    def _command(self, cfg: Path) -> list[str]:
        if self.kind == "zookeeper":
            return zookeeper_command(
                cfg, {k: self.config[k] for k in JVM_PROPERTIES if k in self.config}
            )
        if not self.corral_bin:
            raise ServerStartError("no Corral binary (CORRAL_BIN) given")
        return [self.corral_bin, "server", str(cfg)]

    def start(self) -> "Server":
        errors = []
        for attempt in range(START_ATTEMPTS):
            self.workdir = Path(tempfile.mkdtemp(prefix=f"interop-{self.kind}-"))
            self.port = free_port()
            cfg = self._write_config(self.port)
            cfg_text = cfg.read_text()
            self.log_path = self.workdir / "server.log"
            cmd = self._command(cfg)
            with open(self.log_path, "wb") as log:
                self.proc = spawn_server(cmd, self.workdir, log)
            _live.append(self)
            try:
                self._wait_ready()
                return self
            except ServerStartError as e:
                errors.append(f"attempt {attempt + 1}: {e}\n{self.log_tail()}")
                self.stop()
                if not e.retry:
                    break
        raise ServerStartError(
            f"{self.kind} did not start (command: {' '.join(cmd)}):\n"
            + "\n".join(errors)
            + "\nzoo.cfg was:\n"
            + "".join(f"    {line}\n" for line in cfg_text.splitlines())
        )

    def _wait_ready(self) -> None:
        assert self.proc is not None and self.port is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no reply"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(f"exited with status {self.proc.returncode}")
            try:
                reply = four_letter(self.host, self.port, "srvr", timeout=1.0)
                if "Mode:" in reply:
                    return
                last = f"srvr reply without Mode: {reply!r}"
            except OSError as e:
                last = f"srvr failed: {e}"
            time.sleep(READY_POLL_S)
        raise ServerStartError(f"not ready after {READY_TIMEOUT_S:.0f}s ({last})", retry=False)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"    | {line}" for line in text[-lines:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, STOP_GRACE_S)
            self.proc = None
        if self in _live:
            _live.remove(self)
        if self.workdir and os.environ.get("CORRAL_INTEROP_KEEP") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)
