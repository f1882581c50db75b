"""Session fixtures for the differential interop tests.

Environment:
  CORRAL_BIN=/path/to/corral   the server under test (`corral server zoo.cfg`)
  CORRAL_ORACLE_ONLY=1         run Apache ZooKeeper on both sides (through
                               tools/zk-as-corral.sh) to validate the harness
  CORRAL_INTEROP_KEEP=1        keep the servers' temp dirs (logs, data)
  CORRAL_INTEROP_BUDGET_S=900  after this many seconds, the remaining tests
                               fail at once (a hanging server must not make
                               CI run for hours; each test also has a timeout)
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from harness.scenario import ServerPool, env_flag
from harness.servers import ZK_AS_CORRAL, ZK_JAR


def _corral_setup() -> tuple[str | None, str | None, str]:
    if env_flag("CORRAL_ORACLE_ONLY"):
        return str(ZK_AS_CORRAL), None, "corral-standin-zookeeper"
    binary = os.environ.get("CORRAL_BIN")
    if not binary:
        return None, (
            "CORRAL_BIN is not set: run `cargo xtask interop`, or set CORRAL_BIN to the corral "
            "binary (e.g. target/debug/corral), or set CORRAL_ORACLE_ONLY=1 to run Apache "
            "ZooKeeper on both sides"
        ), "corral"
    path = Path(binary)
    if not path.is_file() or not os.access(path, os.X_OK):
        return None, f"CORRAL_BIN={binary} is not an executable file", "corral"
    return str(path.resolve()), None, "corral"


_SESSION_START = time.monotonic()


@pytest.fixture(autouse=True)
def _suite_budget():
    budget = float(os.environ.get("CORRAL_INTEROP_BUDGET_S", "900"))
    elapsed = time.monotonic() - _SESSION_START
    if elapsed > budget:
        pytest.fail(
            f"the interop suite has run {elapsed:.0f}s, over its {budget:.0f}s budget "
            "(CORRAL_INTEROP_BUDGET_S); not starting more scenarios",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def interop_servers():
    if not Path(ZK_JAR).exists() or shutil.which("java") is None:
        pytest.fail(
            f"Apache ZooKeeper ({ZK_JAR}) or java is missing: `cargo xtask interop` installs them",
            pytrace=False,
        )
    corral_bin, problem, label = _corral_setup()
    pool = ServerPool(corral_bin, problem, label)
    try:
        yield pool
    finally:
        pool.stop_all()


def pytest_report_header(config):
    corral_bin, problem, label = _corral_setup()
    return [f"interop: oracle=Apache ZooKeeper ({ZK_JAR}); {label}={corral_bin or problem}"]
