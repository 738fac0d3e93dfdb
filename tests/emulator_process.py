"""Run the real `numspec serve` as a child process on loopback, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROBE = "/apiserver/AvailablePhoneNumbers"  # answers 401 without credentials: alive


LIMITED = ("import os, resource, sys; n = int(sys.argv[1]); "
           "resource.setrlimit(resource.RLIMIT_NOFILE, "
           "(n, resource.getrlimit(resource.RLIMIT_NOFILE)[1])); "
           "os.execvp(sys.argv[2], sys.argv[2:])")


def numspec_command() -> list[str]:
    """The installed console script next to this interpreter, else the CLI module."""
    script = Path(sys.executable).with_name("numspec")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from numspec.generator.cli import main; sys.exit(main())"]


def _environment() -> dict[str, str]:
    # This checkout first, so a git worktree tests its own code, not the editable install's.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorProcess:
    """`numspec serve --db DB` on a free port; start() waits until it answers HTTP."""

    def __init__(self, db: Path, log: Path, *, config: Path | None = None,
                 inventory: int | None = None, extra_args: Sequence[str] = (),
                 nofile: int | None = None, stderr: Path | None = None) -> None:
        """``extra_args`` go after the usual `serve` options; ``nofile`` lowers the child's
        open-file limit; ``stderr`` keeps the child's stderr apart from its stdout."""
        self.db, self.log, self.config, self.inventory = db, log, config, inventory
        self.extra_args, self.nofile, self.stderr = list(extra_args), nofile, stderr
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        for _ in range(3):  # another process may take the free port before we bind it
            self.port = free_port()
            args = [*numspec_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                    "--db", str(self.db)]
            if self.config is not None:
                args += ["--config", str(self.config)]
            if self.inventory is not None:
                args += ["--inventory", str(self.inventory)]
            args += self.extra_args
            if self.nofile is not None:  # lower the limit, then become the server
                args = [sys.executable, "-c", LIMITED, str(self.nofile), *args]
            with open(self.log, "ab") as log, \
                    open(self.stderr or os.devnull, "ab") as err:
                self.proc = subprocess.Popen(
                    args, cwd=ROOT, stdout=log,
                    stderr=subprocess.STDOUT if self.stderr is None else err,
                    env=_environment())
            if self._wait(timeout):
                return
            self.stop()
        raise RuntimeError(f"numspec serve did not start; log:\n{self.log_text()}")

    def _wait(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                httpx.get(self.base_url + PROBE, timeout=1)
                return True
            except httpx.TransportError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down cleanly), SIGKILL if it does not end in 10 s."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
