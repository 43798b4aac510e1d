"""Test servers in processes of their own, each on a loopback port it was seen to bind (xdist's workers pick
free ports at the same time: a port found free may be taken before the server binds it)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

PORT_TRIES = 3


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(
    command: Callable[[int], list[str]], env: Mapping[str, str], log_dir: Path, ready: str, in_use: str,
    startup_seconds: float,
) -> Iterator[int]:  # fmt: skip
    """Run `command(port)` until the block ends, on a port its log says it listens on (`ready`); another
    port when its log says the first was taken (`in_use`). Yields the port."""
    for _ in range(PORT_TRIES):
        port = free_port()
        log_path = log_dir / f"server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command(port), stdout=log, stderr=subprocess.STDOUT, env=dict(env))
        try:
            if _listening(process, log_path, ready, in_use, startup_seconds):
                yield port
                return
        finally:
            _stop(process)
    raise AssertionError(f"no free port in {PORT_TRIES} tries: {log_path.read_text()[-2000:]}")


def _listening(
    process: subprocess.Popen[bytes], log_path: Path, ready: str, in_use: str, startup_seconds: float
) -> bool:
    """Whether the process says it listens (not another server's answer on the port); False when the port
    was taken meanwhile."""
    deadline = time.monotonic() + startup_seconds
    while True:
        text = log_path.read_text(errors="replace")
        if ready in text:
            return True
        if process.poll() is not None or in_use in text:
            assert in_use in text, text[-2000:]
            return False
        assert time.monotonic() < deadline, f"the server did not start: {text[-2000:]}"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
