"""SLOW (about two minutes, most of it pip): numspec works as installed from its wheel.

The wheel is built from the tracked files of this checkout, installed with its dependencies
into a fresh venv (pip may use its cache and PyPI), and every command is run from a folder
outside the repository with nothing of the checkout on sys.path: lint, generate, serve (/docs
loads), docs build, contract against that serve, and the README's Python blocks.

Marked `slow`: `pytest -m "not slow"` leaves it out of a quick run; CI runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from numspec.emulator.accounts import FREECLIMB_DEMO, RESTCOMM_DEMO

from tests.emulator_process import ROOT, free_port
from tests.test_install_readme import run_python_blocks

pytestmark = pytest.mark.slow
# What the wheel is built from: what `git ls-files` lists of the packaged folders.
PACKAGED = ["pyproject.toml", "README.md", "generator", "generated", "emulator", "spec"]


@dataclass
class Installed:
    venv: Path
    outside: Path  # the working folder of every command: no checkout in sight
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def numspec(self, *args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "numspec"), *map(str, args)],
                              cwd=self.outside, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)


def _run(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, f"{args[:4]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    tracked = subprocess.run(["git", "ls-files", "-z", *PACKAGED], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", tmp / "dist", source, cwd=tmp)
    wheel = next((tmp / "dist").glob("numspec-*.whl"))
    venv = tmp / "venv"
    # No pip of its own (bootstrapping it costs seconds): this interpreter's pip installs into it.
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    _run(*pip, "--python", venv / "bin" / "python", "install", "--quiet", "--no-compile",
         wheel, "pytest", cwd=tmp)
    outside = tmp / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NUMSPEC_AUTH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Installed(venv, outside, env)


def test_the_wheel_is_what_runs_and_its_contract_is_the_default(installed: Installed) -> None:
    code = ("import numspec.generator.specload as s, numspec.generated as g; print(s.__file__);"
            " print(g.__file__); print(s.DEFAULT_SPEC, s.DEFAULT_SPEC.is_file())")
    probe = subprocess.run(
        [installed.python, "-c", code], cwd=installed.outside, env=installed.env, capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    site = str(installed.venv)
    lines = probe.stdout.splitlines()
    assert all(line.startswith(site) for line in lines), lines
    assert lines[2].endswith("numspec/spec/openapi.yaml True"), lines
    assert str(ROOT) not in probe.stdout


def test_lint_and_generate(installed: Installed) -> None:
    lint = installed.numspec("lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "freeclimb" in lint.stdout.lower()
    # The installed generated/ was made from the installed contract: the manifest says so.
    check = installed.numspec("generate", "--check")
    assert check.returncode == 0 and "up to date (inputs unchanged)" in check.stdout, \
        check.stdout + check.stderr
    # Without --out it would overwrite the installed package's own code: refused.
    bare = installed.numspec("generate")
    assert bare.returncode == 2 and "--out is required" in bare.stderr, bare.stdout + bare.stderr
    out = installed.outside / "gen"
    generate = installed.numspec("generate", "--out", "gen")
    assert generate.returncode == 0, generate.stderr
    assert (out / "MANIFEST.json").is_file() and (out / "freeclimb" / "client.py").is_file()


def test_docs_build(installed: Installed) -> None:
    result = installed.numspec("docs", "build", "--out", "numspec-docs.html")
    assert result.returncode == 0, result.stderr
    page = (installed.outside / "numspec-docs.html").read_text(encoding="utf-8")
    assert "numspec-data" in page and "/Accounts/{accountId}/IncomingPhoneNumbers" in page


@pytest.fixture(scope="module")
def serve(installed: Installed) -> Iterator[str]:
    """The installed `numspec serve` on a free loopback port; its base URL."""
    log = installed.outside / "serve.log"
    for _ in range(3):  # another process may take the free port before it binds
        port = free_port()
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                [str(installed.venv / "bin" / "numspec"), "serve", "--port", str(port),
                 "--db", "serve.db"], cwd=installed.outside, env=installed.env,
                stdout=sink, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                httpx.get(base + "/apiserver/AvailablePhoneNumbers", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        if proc.poll() is None and time.monotonic() < deadline:
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail(f"numspec serve did not start:\n{log.read_text(errors='replace')}")
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_shows_its_docs(serve: str) -> None:
    page = httpx.get(serve + "/docs", timeout=30, follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:500]


@pytest.mark.parametrize(("provider", "prefix", "login"), [
    ("freeclimb", "/apiserver", FREECLIMB_DEMO), ("restcomm", "/restcomm", RESTCOMM_DEMO)])
def test_contract_against_that_serve(installed: Installed, serve: str, provider: str,
                                     prefix: str, login: object) -> None:
    user, password = login.username, login.password  # type: ignore[attr-defined]
    result = installed.numspec("contract", "--provider", provider, "--url", serve + prefix,
                               "--auth", f"{user}:{password}", "--phases", "examples,fuzzing",
                               "--max-examples", "2", "--seed", "1")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"numspec contract: PASSED ({provider}" in result.stdout


def test_the_readme_python_blocks(installed: Installed, serve: str) -> None:
    results = run_python_blocks(installed.outside, serve, python=installed.python,
                                env=installed.env)
    assert len(results) >= 2
    for result in results:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
