"""Bad input to any numspec command ends in one line naming the problem, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def numspec(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numspec.generator.cli", *map(str, args)],
                          check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "code", "message"), [
    (("serve", "--port", "99999"), 2, "99999 is not a port number"),
    (("serve", "--inventory", "-5"), 2, "-5 must be 1 or more"),
    (("serve", "--port", "0", "--allow-webhook-host", "bad host/"), 2,
     "--allow-webhook-host 'bad host/' is not a host name"),
    (("docs", "--port", "70000"), 2, "70000 is not a port number"),
    (("contract", "--provider", "freeclimb", "--url", "http://[::1", "--auth", "a:b"), 2,
     "is not a URL"),
    (("contract", "--provider", "freeclimb", "--url", "ftp://x", "--auth", "a:b"), 2,
     "must be an http:// or https:// URL"),
    (("contract", "--provider", "freeclimb", "--url", "http://127.0.0.1:9", "--auth", "ab"), 2,
     "--auth must be USER:PASS"),
    (("contract", "--provider", "freeclimb", "--url", "http://127.0.0.1:9", "--auth", "a:b",
      "--spec", "/no/such/spec.yaml"), 2, "file not found"),
    (("contract", "--provider", "freeclimb", "--url", "http://127.0.0.1:9", "--auth", "a:b",
      "--max-examples", "0"), 2, "0 must be 1 or more"),
    (("lint", "/no/such/spec.yaml"), 1, "file not found"),
    (("generate", "--spec", "/no/such/spec.yaml", "--check"), 1, "file not found"),
])
def test_bad_input_is_one_line_not_a_traceback(args: tuple[str, ...], code: int,
                                               message: str) -> None:
    result = numspec(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_docs_build_into_a_folder_is_refused(tmp_path: Path) -> None:
    result = numspec("docs", "build", "--out", tmp_path)
    assert result.returncode == 2  # refused with the options, before anything is built
    assert "is a folder" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_teaches_every_command() -> None:
    overview = numspec("--help")
    assert overview.returncode == 0
    for command in ("lint", "generate", "serve", "contract", "docs"):
        assert command in overview.stdout
        detail = numspec(command, "--help")
        assert detail.returncode == 0 and "usage: numspec " + command in detail.stdout
