"""Run a client process (zkCli, `corral shell`) in its own process group, feed it stdin,
and kill the whole group if it overruns or is left behind (zkCli.sh does not exec java)."""

from __future__ import annotations

import os
import signal
import subprocess


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_in_group(command: list[str], stdin: str, timeout: float,
                 env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Stdout and stderr together; the exit status is None when it was killed at `timeout`."""
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        encoding="utf-8",
        errors="replace",
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        return None, out
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
