"""Pytest plugins that start the real parts the tests use (see conftest.py)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a server the tests started, and kill it when it does not stop within 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
