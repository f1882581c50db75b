"""Scenario registration and the differential comparison.

A scenario is a function `(target) -> list of output lines`. `target.addr` is
the server address ("127.0.0.1:PORT"), `target.root` a top-level path private
to the scenario ("/s_<name>"), `target.norm` the run's Normalizer. The test
built by `@scenario` runs it against Apache ZooKeeper (the oracle) and then
against Corral and fails with a diff when the normalised outputs differ.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from .normalize import Normalizer
from .servers import ZK_AS_CORRAL, Server, ServerStartError

FULL_OUTPUT_MAX_LINES = 120
LONG_LINE = 240


def _abbreviate(line: str) -> str:
    """Keep very long lines (big data values) comparable but readable."""
    if len(line) <= LONG_LINE:
        return line
    digest = hashlib.sha256(line.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{line[:60]}...<{len(line)} chars, sha256 {digest}>"


@dataclass
class Target:
    server: Server
    root: str
    norm: Normalizer
    name: str

    @property
    def addr(self) -> str:
        return self.server.addr

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    @property
    def secure_addr(self) -> str:
        """The secure client port (a scenario config with secureClientPort=FREE_PORT)."""
        return f"{self.server.host}:{self.server.ports['secureClientPort']}"

    def __str__(self) -> str:
        return self.addr


class ServerPool:
    """Session-wide servers, one (ZooKeeper, Corral) pair per distinct config."""

    def __init__(self, corral_bin: str | None, corral_problem: str | None, corral_label: str):
        self.corral_bin = corral_bin
        self.corral_problem = corral_problem
        self.corral_label = corral_label
        self._servers: dict[tuple, Server] = {}
        self._errors: dict[tuple, str] = {}

    def _get(self, kind: str, config: dict[str, str]) -> Server:
        key = (kind, tuple(sorted(config.items())))
        if key in self._errors:
            pytest.fail(f"{kind} server could not be started earlier:\n{self._errors[key]}", pytrace=False)
        server = self._servers.get(key)
        if server is not None and server.alive():
            return server
        if server is not None:
            server.stop()  # died: clean up, then start a fresh one for later scenarios
        try:
            server = Server(kind, config, corral_bin=self.corral_bin).start()
        except ServerStartError as e:
            self._errors[key] = str(e)
            server = None
        if server is None:
            pytest.fail(f"{kind} server could not be started:\n{self._errors[key]}", pytrace=False)
        self._servers[key] = server
        return server

    def oracle(self, config: dict[str, str]) -> Server:
        return self._get("zookeeper", config)

    def corral(self, config: dict[str, str]) -> Server:
        if self.corral_problem:
            pytest.fail(self.corral_problem, pytrace=False)
        return self._get("corral", config)

    def stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


def _run_side(fn: Callable, server: Server, name: str) -> tuple[list[str], str | None, float]:
    target = Target(server=server, root=f"/s_{name}", norm=Normalizer(ports=(server.port, *server.ports.values())), name=name)
    start = time.monotonic()
    try:
        out = fn(target)
        if out is None:
            raise TypeError(f"scenario {name} returned None instead of a list of lines")
        return [_abbreviate(str(line)) for line in out], None, time.monotonic() - start
    except Exception as e:  # noqa: BLE001 - reported as part of the comparison
        return [f"<scenario raised {type(e).__name__}: {e}>"], traceback.format_exc(), time.monotonic() - start


def _block(title: str, lines: list[str]) -> str:
    if len(lines) > FULL_OUTPUT_MAX_LINES:
        shown = lines[:FULL_OUTPUT_MAX_LINES] + [f"... ({len(lines) - FULL_OUTPUT_MAX_LINES} more lines)"]
    else:
        shown = lines
    return f"{title}:\n" + "\n".join(f"    {line}" for line in shown)


def run_differential(name: str, fn: Callable, pool: ServerPool, config: dict[str, str]) -> None:
    zk = pool.oracle(config)
    zk_out, zk_err, zk_s = _run_side(fn, zk, name)
    if zk_err is not None:
        pytest.fail(
            f"scenario {name!r}: the oracle run (Apache ZooKeeper) failed, so the harness or "
            f"the scenario is broken:\n{zk_err}\nserver log tail:\n{zk.log_tail()}",
            pytrace=False,
        )
    assert zk_out, f"scenario {name!r} produced no output against Apache ZooKeeper"
    corral = pool.corral(config)
    c_out, c_err, c_s = _run_side(fn, corral, name)
    print(f"scenario {name}: zookeeper {zk_s:.2f}s, {pool.corral_label} {c_s:.2f}s, {len(zk_out)} lines")
    if env_flag("CORRAL_INTEROP_SHOW"):
        print(_block("zookeeper output", zk_out))
    died = not corral.alive()
    if zk_out == c_out and not died:
        return
    parts = [f"scenario {name!r}: Corral differs from Apache ZooKeeper (the oracle)"]
    if died:
        parts.append(f"the Corral server process died during the scenario ({corral.describe()})")
    diff = difflib.unified_diff(zk_out, c_out, "zookeeper (oracle)", pool.corral_label, lineterm="", n=3)
    parts.append("diff:\n" + "\n".join(diff))
    parts.append(_block("zookeeper output", zk_out))
    parts.append(_block(f"{pool.corral_label} output", c_out))
    if c_err:
        parts.append(f"{pool.corral_label} scenario traceback:\n{c_err}")
    if c_err or died:
        parts.append(f"{pool.corral_label} server log tail:\n{corral.log_tail()}")
    pytest.fail("\n\n".join(parts), pytrace=False)


def scenario(fn: Callable | None = None, *, config: dict[str, str] | None = None, timeout: float | None = None):
    """Turn `def test_x(target) -> list[str]` into a differential pytest test.

    `config` adds/overrides zoo.cfg keys; scenarios with the same config share
    one server pair for the whole session.
    """

    def wrap(f: Callable):
        name = f.__name__.removeprefix("test_")
        cfg = dict(config or {})

        def test(interop_servers: ServerPool) -> None:
            run_differential(name, f, interop_servers, cfg)

        test.__name__ = f.__name__
        test.__qualname__ = f.__qualname__
        test.__module__ = f.__module__
        test.__doc__ = f.__doc__
        test.scenario = f  # type: ignore[attr-defined]
        if timeout is not None:
            test = pytest.mark.timeout(timeout)(test)
        return test

    if fn is not None:
        return wrap(fn)
    return wrap


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def corral_binary() -> str:
    """The corral binary a test runs: CORRAL_BIN (an executable file), or the stand-in that
    runs ZooKeeper under corral's command line with CORRAL_ORACLE_ONLY. Fails the test,
    with what to do, when CORRAL_BIN is missing or not executable."""
    if env_flag("CORRAL_ORACLE_ONLY"):
        return str(ZK_AS_CORRAL)
    binary = os.environ.get("CORRAL_BIN")
    if not binary:
        pytest.fail("CORRAL_BIN is not set (cargo xtask interop sets it)", pytrace=False)
    path = Path(binary)
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"CORRAL_BIN={binary} is not an executable file", pytrace=False)
    return str(path.resolve())
