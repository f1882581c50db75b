"""Prometheus scrapes Corral: zoo.cfg's metricsProvider.* keys turn on `/metrics`, Debian's
Prometheus server scrapes it, and its query API answers ZooKeeper's metric names with sane
values; `promtool check metrics` finds no error in the page; `mntr` dumps the same samples
(as ZooKeeper's does with its Prometheus provider on).

Corral only: Debian's ZooKeeper has no Prometheus provider jar to compare with (its names,
types and quantiles are taken from ZooKeeper's source, see the README). Skipped with a message
when Debian's `prometheus` package is not installed (`cargo xtask ci` installs it).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from harness import kz
from harness.scenario import env_flag
from harness.servers import FREE_PORT, Server, four_letter, free_port, spawn_server, stop_process_group

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
WAIT_S = 60.0
POLL_S = 0.25
WRITES = 10

# promtool's naming conventions that ZooKeeper's own names break (znode_count is a gauge named
# like a summary's count; ZooKeeper 3.8's counters carry no _total; sync_processor_queue_time_ms
# abbreviates its unit): warnings, not errors.
ZOOKEEPER_NAMING = (
    re.compile(r'^(\w+) counter metrics should have "_total" suffix$'),
    re.compile(r'^(\w+) non-histogram and non-summary metrics should not have "_count" suffix$'),
    re.compile(r"^(\w+_ms) metric names should not contain abbreviated units$"),
)


def _needs():
    if env_flag("CORRAL_ORACLE_ONLY"):
        pytest.skip("CORRAL_ORACLE_ONLY: Debian's ZooKeeper has no Prometheus provider to stand in")
    missing = [p for p in (PROMETHEUS, PROMTOOL) if not Path(p).exists()]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} missing: Debian's prometheus package is not installed "
            "(`apt-get install prometheus`; `cargo xtask ci` installs it)"
        )
    binary = os.environ.get("CORRAL_BIN")
    if not binary:
        pytest.fail("CORRAL_BIN is not set (see interop/README.md)", pytrace=False)
    return str(Path(binary).resolve())


def _get(url: str, timeout: float = 5.0) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode("utf-8"), resp.headers.get("Content-Type", "")


def _families(page: str) -> dict[str, str]:
    """{metric name: type} from the page's TYPE lines."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", page, re.M))


def _sample_keys(page: str) -> list[tuple[str, str]]:
    """(name, the text between its braces) of every sample line."""
    return [
        (m.group(1), m.group(2) or "")
        for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$", page, re.M)
    ]


def _mntr_pairs(server) -> dict[str, str]:
    text = four_letter(server.host, server.port, "mntr")
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


class PrometheusServer:
    """Debian's Prometheus scraping `target` every second, in a temp dir of its own; killed by
    pid (its process group) on close."""

    def __init__(self, target: str):
        self.dir = Path(tempfile.mkdtemp(prefix="interop-prometheus-"))
        self.port = free_port()
        cfg = self.dir / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: corral\n    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        cmd = [
            PROMETHEUS,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.log = open(self.dir / "prometheus.log", "wb")
        self.proc = spawn_server(cmd, self.dir, self.log)

    def api(self, path: str, **params: str) -> dict:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        body, _ = _get(url)
        reply = json.loads(body)
        assert reply.get("status") == "success", reply
        return reply["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def wait_for(self, expr: str, ok=lambda result: bool(result), what: str = "") -> list[dict]:
        """Polls `expr` until `ok(result)`, at most WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        last: object = "no answer"
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited:\n{self.log_tail()}"
            try:
                result = self.query(expr)
                if ok(result):
                    return result
                last = result
            except OSError as e:  # not listening yet
                last = e
            time.sleep(POLL_S)
        pytest.fail(f"after {WAIT_S:.0f}s Prometheus still answers {expr!r} {what}: {last}\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join((self.dir / "prometheus.log").read_text(errors="replace").splitlines()[-15:])

    def close(self) -> None:
        stop_process_group(self.proc, 5.0)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_scrapes_corral():
    corral_bin = _needs()
    config = {
        "metricsProvider.className": PROVIDER,
        "metricsProvider.httpHost": "127.0.0.1",
        "metricsProvider.httpPort": FREE_PORT,
        "metricsProvider.exportJvmInfo": "false",
    }
    server = Server("corral", config, corral_bin=corral_bin).start()
    prom = None
    try:
        metrics = f"127.0.0.1:{server.ports['metricsProvider.httpPort']}"
        root = "/prom"
        with kz.clients(server, 1) as (c,):
            c.create(root, b"")
            for i in range(WRITES):
                c.create(f"{root}/n{i}", b"x" * i)
            for i in range(WRITES):
                c.get(f"{root}/n{i}")

            page, content_type = _get(f"http://{metrics}/metrics")
            assert content_type.startswith("text/plain; version=0.0.4"), content_type
            # With the provider on, mntr dumps the provider's samples (ZooKeeper's
            # MonitorCommand): the page's sample names with zk_, and version and state.
            mntr = _mntr_pairs(server)
            page_keys = {f"zk_{name}{{{labels}}}" if labels else f"zk_{name}" for name, labels in _sample_keys(page)}
            assert len(page_keys) > 80, page
            assert set(mntr) == page_keys | {"zk_version", "zk_server_state"}, (
                f"in /metrics only: {sorted(page_keys - set(mntr))}; in mntr only: {sorted(set(mntr) - page_keys)}"
            )

            # promtool: no error; only the naming warnings ZooKeeper's names cause.
            lint = subprocess.run([PROMTOOL, "check", "metrics"], input=page.encode(), capture_output=True, timeout=60)
            report = (lint.stdout + lint.stderr).decode()
            # 1 and "error while linting: ..." when the page does not parse; 3 for lint problems.
            assert lint.returncode in (0, 3) and "error while linting" not in report, report
            families = _families(page)
            for line in filter(None, report.splitlines()):
                m = next((p.match(line) for p in ZOOKEEPER_NAMING if p.match(line)), None)
                assert m and m.group(1) in families, f"promtool: {line!r}"

            prom = PrometheusServer(metrics)
            up = prom.wait_for('up{job="corral"}', lambda r: r and r[0]["value"][1] == "1", "as up")
            assert len(up) == 1

            # The gauge, read after the scrape with no write in between: mntr's value.
            prom.wait_for("znode_count", what="with a value")
            znodes = int(float(_mntr_pairs(server)["zk_znode_count"]))
            assert znodes >= WRITES + 5, znodes
            prom.wait_for("znode_count", lambda r: r and _value(r) == znodes, f"as {znodes}")

            # ZooKeeper's types reach Prometheus's metadata.
            meta = prom.api("metadata")
            for name, kind in (("readlatency", "summary"), ("znode_count", "gauge"), ("bytes_received_count", "counter"), ("fsynctime", "summary")):
                assert meta.get(name, [{}])[0].get("type") == kind, (name, meta.get(name))

            # The request latency summaries' quantiles: 0.5, 0.9, 0.99, finite, ordered.
            for name in ("readlatency", "updatelatency"):
                series = prom.wait_for(name, lambda r: len(r) == 3, "with 3 quantiles")
                q = {s["metric"]["quantile"]: float(s["value"][1]) for s in series}
                assert sorted(q) == ["0.5", "0.9", "0.99"], q
                assert all(math.isfinite(v) and v >= 0 for v in q.values()), q
                assert q["0.5"] <= q["0.9"] <= q["0.99"], q
            ns = prom.wait_for('write_per_namespace_count{key="prom"}')
            assert _value(ns) == WRITES + 1, ns

            # Counts grow after writes.
            before = _value(prom.wait_for("updatelatency_count"))
            assert before >= WRITES + 1, before
            received = _value(prom.query("bytes_received_count"))
            for i in range(WRITES):
                c.set(f"{root}/n{i}", b"y")
            prom.wait_for("updatelatency_count", lambda r: r and _value(r) >= before + WRITES, f"at {before} + {WRITES}")
            assert _value(prom.query("bytes_received_count")) > received
    finally:
        if prom is not None:
            prom.close()
        server.stop()
