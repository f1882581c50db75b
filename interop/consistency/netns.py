"""Network namespaces for partitions: each server of an ensemble runs in its own namespace
(`ip netns`) with two interfaces, each one end of a veth pair whose other end is a port of
a bridge in the test's namespace: `eth0` for clients (the client bridge has an address on
the same /24, so the test's clients reach every server at its own address) and `eth1` for
peers (quorum and election ports, on a second bridge and /24). `cut(k)` sets server k's
two bridge ports down: all its links are cut at once (packets dropped, no resets), the
"isolate one server" partition; `cut_peers(k)` sets only its peer port down, so it loses
its quorum but its clients still reach it (a deposed leader that keeps serving);
`heal_all()` sets them up again. (No iptables/nft here, and tc's filters have no kernel
modules, hence one interface per kind of link.)

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
        self.peer_bridge = f"ck{tag}pb"
        self.ns = {k: f"ck{tag}n{k}" for k in range(1, size + 1)}
        self.port = {k: f"ck{tag}v{k}" for k in range(1, size + 1)}
        self.peer_port = {k: f"ck{tag}p{k}" for k in range(1, size + 1)}
        self.subnet = ""
        self.peer_subnet = ""
        self.cut_ports: set[str] = set()
        self.made: list[tuple[str, str]] = []

    def _free_subnet(self) -> str:
        used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True,
                              timeout=10).stdout + subprocess.run(
            ["ip", "-4", "route"], capture_output=True, text=True, timeout=10).stdout
        rng = random.Random()
        for _ in range(50):
            subnet = f"10.{rng.randrange(200, 250)}.{rng.randrange(1, 250)}"
            if f"{subnet}." not in used and subnet != self.subnet:
                return subnet
        raise NetnsUnavailable("no free 10.x.y.0/24 subnet found")

    def address(self, k: int) -> str:
        """Server k's address for clients (eth0)."""
        return f"{self.subnet}.{k}"

    def peer_address(self, k: int) -> str:
        """Server k's address for its peers (eth1: quorum and election ports)."""
        return f"{self.peer_subnet}.{k}"

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
            self.peer_subnet = self._free_subnet()
            bridges = ((self.bridge, self.subnet), (self.peer_bridge, self.peer_subnet))
            for bridge, subnet in bridges:
                _ip("link", "add", bridge, "type", "bridge")
                self.made.append(("link", bridge))
                _ip("addr", "add", f"{subnet}.254/24", "dev", bridge)
                _ip("link", "set", bridge, "up")
            for k in range(1, self.size + 1):
                ns = self.ns[k]
                _ip("netns", "add", ns)
                self.made.append(("netns", ns))
                _ip("-n", ns, "link", "set", "lo", "up")
                for port, bridge, dev, addr in (
                        (self.port[k], self.bridge, "eth0", self.address(k)),
                        (self.peer_port[k], self.peer_bridge, "eth1", self.peer_address(k))):
                    _ip("link", "add", port, "type", "veth", "peer", "name", dev, "netns", ns)
                    _ip("link", "set", port, "master", bridge)
                    _ip("link", "set", port, "up")
                    _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                    _ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def cut(self, k: int) -> None:
        """Isolate server k from everyone: peers and clients."""
        self.cut_peers(k)
        _ip("link", "set", self.port[k], "down")
        self.cut_ports.add(self.port[k])

    def cut_peers(self, k: int) -> None:
        """Cut server k off its peers only: its clients still reach it."""
        _ip("link", "set", self.peer_port[k], "down")
        self.cut_ports.add(self.peer_port[k])

    def heal_all(self) -> None:
        for port in sorted(self.cut_ports):
            _ip("link", "set", port, "up")
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
