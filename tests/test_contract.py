"""`numspec contract` end to end: the real CLI in a subprocess against real servers on loopback.

The emulator must pass for both providers; every mutant in tests/mutants.py must fail, named by
the check meant to catch it; --read-only must send nothing but GET; a server that is down or
speaks garbage must end in a clear message, never a traceback.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from numspec.emulator.accounts import FREECLIMB_DEMO, RESTCOMM_DEMO

from tests.emulator_process import ROOT, EmulatorProcess, _environment, numspec_command
from tests.mutants import MUTANTS

AUTH = {
    "freeclimb": f"{FREECLIMB_DEMO.username}:{FREECLIMB_DEMO.password}",
    "restcomm": f"{RESTCOMM_DEMO.username}:{RESTCOMM_DEMO.password}",
}
PREFIX = {"freeclimb": "/apiserver", "restcomm": "/restcomm"}
SEED = "1"
DECLARED_LINKS = {"freeclimb": 6, "restcomm": 12}


def contract(provider: str, base: str, *extra: str,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`numspec contract` for one provider against a server at `base` (no provider prefix)."""
    command = [*numspec_command(), "contract", "--provider", provider,
               "--url", base + PREFIX[provider], "--auth", AUTH[provider], *extra]
    return subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def explain(run: subprocess.CompletedProcess[str]) -> str:
    return f"exit {run.returncode}\n--- stdout (tail)\n{run.stdout[-6000:]}\n--- stderr\n{run.stderr[-3000:]}"


@contextmanager
def mutant_server(name: str, tmp_path: Path, record: Path | None = None,
                  port: int = 0) -> Iterator[str]:
    """`python -m tests.mutants NAME` on `port` (0: a free one); yields its base URL."""
    args = [sys.executable, "-m", "tests.mutants", name, "--port", str(port),
            "--db", str(tmp_path / f"{name}.db")]
    if record is not None:
        args += ["--record", str(record)]
    proc = subprocess.Popen(args, cwd=ROOT, env=_environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on "), f"mutant {name} did not start: {first!r}"
        base = first.removeprefix("listening on ")
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/apiserver/AvailablePhoneNumbers", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"mutant {name} never answered"
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the emulator passes ----------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["freeclimb", "restcomm"])
def test_emulator_passes_every_phase(provider: str, tmp_path: Path) -> None:
    server = EmulatorProcess(tmp_path / "numspec.db", tmp_path / "serve.log")
    server.start()
    try:
        junit = tmp_path / "junit.xml"
        run = contract(provider, server.base_url, "--max-examples", "10", "--seed", SEED,
                       "--junit", str(junit))
    finally:
        server.stop()
    assert run.returncode == 0, explain(run)
    assert f"numspec contract: PASSED ({provider}" in run.stdout
    suite = ET.parse(junit).getroot()
    assert int(suite.get("tests", "0")) >= 6 and suite.get("failures") == "0", explain(run)
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, f"{phase} did not run:\n{explain(run)}"
    # The stateful phase walks the contract's own links (buy/create -> get, update, delete).
    links = re.search(r"API Links: +(\d+) covered / (\d+) selected", run.stdout)
    assert links is not None, explain(run)
    covered, selected = int(links.group(1)), int(links.group(2))
    # How many links a 10-example walk reaches moves with the generated data; two thirds is
    # far from the 0 of a broken walk and stable across seeds.
    assert selected == DECLARED_LINKS[provider] and covered >= selected * 2 // 3, explain(run)


# -- every mutant is caught -------------------------------------------------------------------

@pytest.fixture(scope="module")
def mutation_score(request: pytest.FixtureRequest) -> Iterator[dict[str, bool]]:
    """Collects caught/not per mutant and prints the score once the module is done."""
    results: dict[str, bool] = {}
    yield results
    reporter: Any = request.config.pluginmanager.get_plugin("terminalreporter")
    capture: Any = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and results:
        missed = sorted(name for name, caught in results.items() if not caught)
        with capture.global_and_fixture_disabled():  # past pytest's output capture
            reporter.write_line(f"\nmutation score: {sum(results.values())}/{len(results)} "
                                "caught" + (f" (missed: {', '.join(missed)})" if missed else ""))


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name: str, tmp_path: Path, mutation_score: dict[str, bool]) -> None:
    mutant = MUTANTS[name]
    mutation_score[name] = False
    junit = tmp_path / "junit.xml"
    with mutant_server(name, tmp_path) as base:
        run = contract(mutant.provider, base, "--phases", mutant.phases,
                       "--max-examples", str(mutant.max_examples), "--seed", SEED,
                       "--junit", str(junit))
    assert run.returncode == 1, f"{name} ({mutant.fault}) was not caught:\n{explain(run)}"
    report = junit.read_text(encoding="utf-8")
    assert mutant.caught_by in report, \
        f"{name} failed, but not by {mutant.caught_by!r}:\n{explain(run)}"
    assert "Traceback" not in run.stdout + run.stderr, explain(run)
    mutation_score[name] = True


def test_junit_report_names_the_failures_and_summary_counts_them(tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "contract.xml"
    junit.parent.mkdir()  # --junit creates no folders (a typo must not)
    with mutant_server("fc-pages-lie", tmp_path) as base:
        run = contract("freeclimb", base, "--phases", "examples", "--seed", SEED,
                       "--junit", str(junit))
    assert run.returncode == 1, explain(run)
    suite = ET.parse(junit).getroot()
    failed = {case.get("name"): case.find("failure") for case in suite.iter("testcase")
              if case.find("failure") is not None}
    assert "GET /AvailablePhoneNumbers" in failed, explain(run)
    text = failed["GET /AvailablePhoneNumbers"].text or ""  # type: ignore[union-attr]
    assert "page_fields_agree" in text and "numPages is" in text and "curl -X GET" in text
    assert int(suite.get("failures", "0")) == len(failed)
    # The closing lines: verdict, counts, the failing check, a curl command, the report.
    tail = run.stdout[run.stdout.rindex("numspec contract: FAILED"):]
    assert "with failures" in tail and "page_fields_agree" in tail
    assert "Reproduce with" in tail and "curl -X GET -u USER:PASS" in tail
    assert f"JUnit report: {junit}" in tail


# -- read-only sends only GET -----------------------------------------------------------------

@pytest.mark.parametrize("provider", ["freeclimb", "restcomm"])
def test_read_only_sends_only_get(provider: str, tmp_path: Path) -> None:
    record = tmp_path / "requests.log"
    with mutant_server("none", tmp_path, record=record) as base:
        run = contract(provider, base, "--read-only", "--max-examples", "5", "--seed", SEED)
    assert run.returncode == 0, explain(run)
    seen = [line.split() for line in record.read_text(encoding="utf-8").splitlines()]
    ours = [entry for entry in seen if entry[1].startswith(PREFIX[provider])]
    assert len(ours) > 50, f"too few requests to mean anything: {len(ours)}"
    assert {method for method, *_ in ours} == {"GET"}, sorted({m for m, *_ in ours})


# -- servers that are down or speak garbage -----------------------------------------------------

def _one_line_error(run: subprocess.CompletedProcess[str], words: str) -> None:
    assert run.returncode == 2, explain(run)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], explain(run)
    assert "Traceback" not in run.stdout + run.stderr


def test_server_down_is_one_line_and_exit_2() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        run = contract("freeclimb", f"http://127.0.0.1:{port}", timeout=60)
    _one_line_error(run, "cannot reach")


@pytest.fixture
def garbage_tcp() -> Iterator[str]:
    """A TCP server that answers every connection with bytes that are not HTTP."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"\x00\x17SSH-2.0-not-http\r\n\r\n\xff\xfe")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_server_speaking_garbage_is_one_line_and_exit_2(garbage_tcp: str) -> None:
    run = contract("restcomm", garbage_tcp, timeout=60)
    _one_line_error(run, "does not answer HTTP")


class _HtmlEverywhere(BaseHTTPRequestHandler):
    """200 and a web page for any method on any path: not an API at all."""

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or not self.parse_request():
            self.close_connection = True
            return
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        page = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_html_for_everything_fails_clearly(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlEverywhere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        run = contract("freeclimb", base, "--phases", "examples", "--seed", SEED,
                       "--junit", str(tmp_path / "junit.xml"))
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert run.returncode == 1, explain(run)
    tail = run.stdout[run.stdout.rindex("numspec contract: FAILED"):]
    assert "Undocumented Content-Type" in tail, explain(run)
    assert "Traceback" not in run.stdout + run.stderr, explain(run)
