"""Network namespaces for partitions: each server of an ensemble runs in its own namespace
(`ip netns`), its `eth0` one end of a veth pair whose other end is a port of a bridge in
the test's namespace; the bridge has an address on the same /24, so the test's clients
reach every server at its own address. `cut(k)` sets server k's bridge port down: all its
links, to peers and clients alike, are cut at once (packets dropped, no resets), which is
the "isolate one server" partition; `heal_all()` sets them up again.

Needs root (CAP_NET_ADMIN) and iproute2: `unavailable()` says why not, for a skip message.
Names carry the test process's pid (ck<pid>...), so parallel runs do not collide, and
`destroy()` (also from atexit) removes every namespace and the bridge it made.

    net = Network(3).create()
    try:
        subprocess.Popen(net.exec_prefix(1) + ["server", ...])   # listens on net.address(1)
        net.cut(1); ...; net.heal_all()
    finally:
        net.destroy()
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import subprocess

_live: list["Network"] = []
atexit.register(lambda: [n.destroy() for n in list(_live)])


class NetnsUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")


def unavailable() -> str | None:
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_NET_ADMIN"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    name = f"ck{os.getpid()}probe"
    try:
        _ip("netns", "add", name)
        _ip("netns", "del", name)
    except (NetnsUnavailable, OSError, subprocess.TimeoutExpired) as e:
        return f"cannot create a network namespace: {e}"
    return None


class Network:
    def __init__(self, size: int):
        self.size = size
        tag = os.getpid() % 100000
        self.bridge = f"ck{tag}br"
        self.ns = {k: f"ck{tag}n{k}" for k in range(1, size + 1)}
        self.port = {k: f"ck{tag}v{k}" for k in range(1, size + 1)}
        self.subnet = ""
        self.cut_ports: set[int] = set()
        self.made: list[tuple[str, str]] = []

    def _free_subnet(self) -> str:
        used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True,
                              timeout=10).stdout + subprocess.run(
            ["ip", "-4", "route"], capture_output=True, text=True, timeout=10).stdout
        rng = random.Random(os.getpid())
        for _ in range(50):
            subnet = f"10.{rng.randrange(200, 250)}.{rng.randrange(1, 250)}"
            if f"{subnet}." not in used:
                return subnet
        raise NetnsUnavailable("no free 10.x.y.0/24 subnet found")

    def address(self, k: int) -> str:
        return f"{self.subnet}.{k}"

    def exec_prefix(self, k: int) -> list[str]:
        """Prefix of a command line that runs it in server k's namespace (`ip` execs it, so
        the pid is the command's)."""
        return ["ip", "netns", "exec", self.ns[k]]

    def create(self) -> "Network":
        problem = unavailable()
        if problem:
            raise NetnsUnavailable(problem)
        _live.append(self)
        try:
            self.subnet = self._free_subnet()
            _ip("link", "add", self.bridge, "type", "bridge")
            self.made.append(("link", self.bridge))
            _ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for k in range(1, self.size + 1):
                ns, port = self.ns[k], self.port[k]
                _ip("netns", "add", ns)
                self.made.append(("netns", ns))
                _ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("link", "set", port, "master", self.bridge)
                _ip("link", "set", port, "up")
                _ip("-n", ns, "addr", "add", f"{self.address(k)}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def cut(self, k: int) -> None:
        _ip("link", "set", self.port[k], "down")
        self.cut_ports.add(k)

    def heal_all(self) -> None:
        for k in sorted(self.cut_ports):
            _ip("link", "set", self.port[k], "up")
        self.cut_ports.clear()

    def destroy(self) -> None:
        """Remove what create() made (deleting a namespace deletes its veth pair)."""
        for kind, name in reversed(self.made):
            try:
                if kind == "netns":
                    _ip("netns", "del", name)
                else:
                    _ip("link", "del", name)
            except (NetnsUnavailable, OSError, subprocess.TimeoutExpired):
                pass
        self.made.clear()
        self.cut_ports.clear()
        if self in _live:
            _live.remove(self)
