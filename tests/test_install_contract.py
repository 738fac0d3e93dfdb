"""`numspec contract` cannot pass falsely, hang, leak secrets or leave files behind.

Real `numspec contract` processes against real servers on loopback: the emulator, and the
emulator behind small ASGI wrappers that misbehave (answers trickling in one byte at a time,
a server that stops serving after the login check).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from numspec.emulator import accounts
from numspec.emulator.accounts import FREECLIMB_DEMO
from numspec.emulator.store import Store

from tests.emulator_process import ROOT, _environment, free_port, numspec_command
from tests.loopback_server import serve
from tests.mutants import build

FC_AUTH = f"{FREECLIMB_DEMO.username}:{FREECLIMB_DEMO.password}"
PROBE = "/apiserver/AvailablePhoneNumbers"


class Trickle:
    """Answers the requests `slow(path)` picks one body byte every 0.4 s (each read is quick,
    so per-read timeouts never fire); passes the rest to the emulator."""

    def __init__(self, app: Any, slow: Callable[[str], bool]) -> None:
        self.app, self.slow = app, slow

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.slow(scope["path"]):
            await self.app(scope, receive, send)
            return
        body = b'{"numbers": "' + b"x" * 60 + b'"}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})

        async def disconnected() -> None:  # ends when the client gives up
            while (await receive())["type"] != "http.disconnect":
                pass

        gone = asyncio.ensure_future(disconnected())
        for byte in body:
            if gone.done():
                return
            await send({"type": "http.response.body", "body": bytes([byte]), "more_body": True})
            await asyncio.sleep(0.4)
        gone.cancel()
        await send({"type": "http.response.body", "body": b""})


class ServesTwice:
    """The emulator for the first two requests (the preflight's), then 404 for everything:
    a server whose whole run would consist of refusals."""

    def __init__(self, app: Any) -> None:
        self.app, self.served = app, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.served >= 2:
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"message": "gone"}'})
            return
        self.served += scope["type"] == "http"
        await self.app(scope, receive, send)


def emulator(tmp_path: Path) -> Any:
    store = Store(str(tmp_path / "numspec.db"), inventory_size=200)
    accounts.ensure_demo_accounts(store)
    return build("none", store)


@pytest.fixture
def slow_one_number(tmp_path: Path) -> Iterator[str]:
    """The emulator, except that GET of one number trickles (the preflight's probes do not)."""
    app = Trickle(emulator(tmp_path), lambda path: bool(re.search(r"/IncomingPhoneNumbers/.", path)))
    with serve(app, probe=PROBE) as base:
        yield base


def contract_command(base: str, *extra: str) -> list[str]:
    return [*numspec_command(), "contract", "--provider", "freeclimb",
            "--url", base + "/apiserver", *extra]


def run_contract(base: str, *extra: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(contract_command(base, *extra), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False,
                          env=env or {**_environment(), "NUMSPEC_AUTH": FC_AUTH})


def explain(run: subprocess.CompletedProcess[str]) -> str:
    return f"exit {run.returncode}\n--- stdout\n{run.stdout[-5000:]}\n--- stderr\n{run.stderr[-3000:]}"


def one_line_exit_2(run: subprocess.CompletedProcess[str], words: str) -> None:
    assert run.returncode == 2, explain(run)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], explain(run)
    assert run.stdout == "" and "Traceback" not in run.stderr


# -- options are checked before anything starts --------------------------------------------------

@pytest.mark.parametrize(("extra", "words"), [
    (("--phases", "examples,fuzing"), "unknown phase 'fuzing'"),
    (("--request-timeout", "0"), "must be more than 0 seconds"),
    (("--max-time", "soon"), "is not a number of seconds"),
    (("--junit", "no-such-folder/report.xml"), "the folder no-such-folder does not exist"),
    (("--workers", "0"), "0 must be 1 or more"),
])
def test_a_bad_option_is_one_line_and_exit_2_before_any_request(extra: tuple[str, ...],
                                                                 words: str) -> None:
    # Port 9 on loopback: nobody answers, so reaching the preflight would say "cannot reach".
    run = run_contract("http://127.0.0.1:9", *extra, timeout=60)
    one_line_exit_2(run, words)


def test_missing_credentials_name_the_environment_variable() -> None:
    env = {k: v for k, v in _environment().items() if k != "NUMSPEC_AUTH"}
    run = run_contract("http://127.0.0.1:9", env=env, timeout=60)
    one_line_exit_2(run, "--auth USER:PASS is required (or set NUMSPEC_AUTH)")


# -- the preflight refuses what cannot be tested --------------------------------------------------

@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(emulator(tmp_path_factory.mktemp("emulator")), probe=PROBE) as base:
        yield base


@pytest.mark.parametrize("prefix", ["/restcomm", "/wrongpath"])
def test_a_wrong_base_path_is_found_by_the_preflight(emulator_url: str, prefix: str) -> None:
    command = [*numspec_command(), "contract", "--provider", "freeclimb",
               "--url", emulator_url + prefix, "--auth", FC_AUTH]
    run = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True, text=True,
                         timeout=60, check=False)
    one_line_exit_2(run, "none of freeclimb's operations answers at")
    assert "is --url freeclimb's base URL" in run.stderr


def test_bad_credentials_are_refused_up_front(emulator_url: str) -> None:
    run = run_contract(emulator_url, "--auth", "ACCOUNT_ID:API_KEY")
    one_line_exit_2(run, "refused the --auth credentials (401")


def test_a_run_of_nothing_but_refusals_fails(tmp_path: Path) -> None:
    with serve(ServesTwice(emulator(tmp_path)), probe="/") as base:
        run = run_contract(base, "--phases", "examples", "--max-examples", "2")
    assert run.returncode == 1, explain(run)
    tail = run.stdout[run.stdout.rindex("numspec contract: FAILED"):]
    assert "every answer was 401, 403, 404 or 405" in tail and "x 404" in tail, explain(run)


# -- deadlines ---------------------------------------------------------------------------------------

def test_an_answer_that_trickles_in_meets_the_request_deadline(slow_one_number: str) -> None:
    started = time.monotonic()
    run = run_contract(slow_one_number, "--phases", "examples", "--request-timeout", "2",
                       "--seed", "1")
    elapsed = time.monotonic() - started
    assert run.returncode == 1, explain(run)
    # Each trickled answer would take ~25 s; the run ends once every case has met its deadline.
    tail = run.stdout[run.stdout.rindex("numspec contract: FAILED"):]
    assert "error: Network Error" in tail and "within --request-timeout 2 s" in tail, explain(run)
    assert elapsed < 100, f"took {elapsed:.0f} s"


def test_a_server_trickling_everything_is_refused_by_the_preflight(tmp_path: Path) -> None:
    with serve(Trickle(emulator(tmp_path), lambda path: path != "/"), probe="/") as base:
        started = time.monotonic()
        run = run_contract(base, "--request-timeout", "2", timeout=60)
    assert time.monotonic() - started < 30
    one_line_exit_2(run, "sent no complete answer within 2 s (--request-timeout)")


def test_max_time_ends_the_run(slow_one_number: str) -> None:
    run = run_contract(slow_one_number, "--phases", "examples", "--request-timeout", "60",
                       "--max-time", "4", timeout=60)
    assert run.returncode == 1, explain(run)
    assert "stopped: the run took longer than --max-time 4 s" in run.stdout, explain(run)


# -- secrets, temporary files, signals, progress ------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_and_removes_its_files(slow_one_number: str, tmp_path: Path,
                                                      signum: int) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**_environment(), "NUMSPEC_AUTH": FC_AUTH, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        contract_command(slow_one_number, "--phases", "examples", "--request-timeout", "60"),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Whatever this test inherited (SIGINT is ignored in background jobs), the CLI gets
        # the default disposition a user's shell gives it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 60
        while not (children := _children(proc.pid)) or not list(tmp.glob("*/events")):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.2)
        for child in children:  # the Schemathesis child: no secret on its command line
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().decode()
            assert FREECLIMB_DEMO.password not in cmdline and FREECLIMB_DEMO.username not in cmdline
        assert [p.stat().st_mode & 0o777 for p in tmp.iterdir()] == [0o700]
        time.sleep(1)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, out + err
    assert f"stopped by {name} (temporary files removed)" in out
    assert list(tmp.iterdir()) == [], "the temporary folder was left behind"
    assert all(not Path(f"/proc/{child}").exists() for child in children), "Schemathesis still runs"
    assert "Traceback" not in err


def test_a_run_without_a_terminal_shows_phases_and_names_no_temporary_file(
        emulator_url: str, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    junit = tmp_path / "report.xml"
    env = {**_environment(), "NUMSPEC_AUTH": FC_AUTH, "TMPDIR": str(tmp)}
    run = run_contract(emulator_url, "--phases", "examples,fuzzing", "--max-examples", "3",
                       "--seed", "1", "--junit", str(junit), env=env)
    assert run.returncode == 0, explain(run)
    assert "numspec contract: examples phase started" in run.stdout
    assert "numspec contract: fuzzing phase started" in run.stdout
    assert str(tmp) not in run.stdout + run.stderr and "numspec-contract-" not in run.stdout
    assert f"JUnit report: {junit}" in run.stdout and junit.is_file()
    skipped = re.search(r"^  (\d+) skipped: (.+)$", run.stdout, re.MULTILINE)
    assert skipped is not None and "ignored_auth" in skipped.group(2), explain(run)
    assert list(tmp.iterdir()) == []


def test_heartbeat_at_least_every_ten_seconds(emulator_url: str) -> None:
    started = time.monotonic()
    proc = subprocess.Popen(
        contract_command(emulator_url, "--phases", "fuzzing", "--max-examples", "2000",
                         "--seed", "1", "--max-time", "15"),
        cwd=ROOT, env={**_environment(), "NUMSPEC_AUTH": FC_AUTH}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    stamps = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("numspec contract: ") and ("so far" in line or "phase" in line):
                stamps.append(time.monotonic())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    ended = time.monotonic()
    assert ended - started > 14, "the run ended before --max-time: no heartbeat was due"
    points = [started + 2, *stamps, ended]  # the child needs ~2 s before its first request
    gaps = [b - a for a, b in itertools.pairwise(points)]
    assert max(gaps) < 12, f"gaps between progress lines: {[round(g, 1) for g in gaps]}"


# -- the pytest entry point checks the login before any case -----------------------------------------

USER_MODULE = '''
from numspec.generator.contract_pytest import contract_schema

schema = contract_schema("freeclimb", {url!r}, ("ACCOUNT_ID", "API_KEY"), max_examples=2)


@schema.parametrize()
def test_api(case):
    case.call_and_validate()
'''

LATE_SERVER = '''
import subprocess, sys, time

import httpx
import pytest

PORT = {port}


@pytest.fixture(scope="module", autouse=True)
def server():
    proc = subprocess.Popen([sys.executable, "-m", "tests.mutants", "none", "--port", str(PORT)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{{PORT}}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)
'''


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
                          cwd=folder, env=_environment(), capture_output=True, text=True,
                          timeout=300, check=False)


def test_contract_schema_refuses_bad_credentials_at_collection(emulator_url: str,
                                                                tmp_path: Path) -> None:
    (tmp_path / "test_user_api.py").write_text(USER_MODULE.format(url=emulator_url + "/apiserver"))
    run = _pytest(tmp_path)
    assert run.returncode != 0, run.stdout
    assert "refused the --auth credentials (401" in run.stdout, run.stdout[-3000:]
    assert " passed" not in run.stdout and "Traceback" not in run.stdout, run.stdout[-3000:]


def test_contract_schema_refuses_bad_credentials_before_the_first_case(tmp_path: Path) -> None:
    """The server is started by a fixture, after contract_schema() ran: the check waits for
    the first case and then ends the session."""
    port = free_port()
    (tmp_path / "test_user_api.py").write_text(
        LATE_SERVER.format(port=port) + USER_MODULE.format(url=f"http://127.0.0.1:{port}/apiserver"))
    run = _pytest(tmp_path)
    assert run.returncode != 0, run.stdout
    assert "refused the --auth credentials (401" in run.stdout, run.stdout[-3000:]
    assert " passed" not in run.stdout, run.stdout[-3000:]
