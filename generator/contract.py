"""`numspec contract`: prove a live server honours the contract, with Schemathesis doing the fuzzing.

numspec prepares what Schemathesis needs for these APIs and then runs its CLI:
- one provider's operations only, with the servers stripped so `--url` decides;
- the account path parameter bound to the Basic-auth user (otherwise every case is a 403);
- numspec's own checks and hooks (generator.contract_checks): XML validated through the
  contract's `xml` annotations, both media types requested, provider semantics;
- read-only mode (GET only) for production endpoints where buying costs money;
- a JUnit report, and closing lines that count the failures and give a curl command for each.

Exit status: 0 all passed, 1 something failed (also: every answer was 401/403/404/405, a
request outlived --request-timeout, the run outlived --max-time), 2 the run could not start (bad
arguments, a server that is down, does not speak HTTP, refuses the credentials, or has none of
the provider's operations at --url), 130/143 stopped by SIGINT/SIGTERM.

Secrets never reach a command line: the credentials go to the Schemathesis child through its
environment (its schemathesis.toml names them as ${...} placeholders), and its temporary folder
(mode 0700) is removed on every exit, signals included.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from numspec.generator.specload import LoadedSpec, SpecError, load

if TYPE_CHECKING:  # imported where used: the Schemathesis child imports this module too
    import httpx

PROVIDER_ACCOUNT_PARAM = {"freeclimb": "accountId", "restcomm": "AccountSid"}
HOOKS_MODULE = "numspec.generator.contract_checks"
# Schema-valid requests these operations may still refuse because of server state or rules a
# schema cannot say: a number someone else owns (FreeClimb 409, Restcomm 400 `21452`), a page
# past the last (Restcomm 400), a cursor the server never issued or a phoneNumber that is not
# a valid regular expression (FreeClimb 400).
STATEFUL_REFUSALS = {
    "freeclimb": [("^buy-a-phone-number$", ["409"]), ("^list-", ["400"])],
    "restcomm": [("^(create|list)-", ["400"])],
}
BASE_EXPECTED = ["2xx", "401", "403", "404", "409"]
ALL_PHASES = "examples,coverage,fuzzing,stateful"
# A GET every server of the provider answers for a good login: the preflight's probe.
PROBE_PATH = {
    "freeclimb": "/Accounts/{account}/IncomingPhoneNumbers",
    "restcomm": "/2012-04-24/Accounts/{account}/IncomingPhoneNumbers.json",
}
DEFAULT_PREFIX = {"freeclimb": "/apiserver", "restcomm": "/restcomm"}
PHASES = ALL_PHASES.split(",")
# Answers that mean "nothing was tested": a run made of nothing else cannot pass.
NOTHING_TESTED = {401, 403, 404, 405}
HEARTBEAT = 10.0  # seconds between progress lines
CURL = re.compile(r"^ *(curl .+)$", re.MULTILINE)
MASKED_AUTH = re.compile(r"-H 'Authorization: \[Filtered\]'")


class ContractError(Exception):
    """A problem with the run's inputs, said in one line."""


def provider_document(loaded: LoadedSpec, provider: str) -> dict[str, Any]:
    """The bundled contract cut down to one provider, its servers left to `--url`."""
    doc = copy.deepcopy(loaded.document)
    doc.pop("servers", None)
    doc.pop("webhooks", None)  # what the provider sends, not what its server answers
    paths = {}
    for path, item in doc.get("paths", {}).items():
        ops = [v for k, v in item.items() if isinstance(v, dict) and "operationId" in v]
        if ops and all(provider in op.get("tags", []) for op in ops):
            item.pop("servers", None)
            paths[path] = item
    if not paths:
        raise ContractError(f"the contract has no operations tagged {provider!r}")
    doc["paths"] = paths
    doc["tags"] = [t for t in doc.get("tags", []) if t.get("name") == provider]
    return doc


def config_toml(provider: str, account: str, read_only: bool = False) -> str:
    """schemathesis.toml for one run (written by hand: the standard library only reads TOML)."""
    param = PROVIDER_ACCOUNT_PARAM[provider]
    lines = [
        # Credentials come from --auth; mutating the Authorization header in negative cases
        # only fights it. Missing and wrong credentials are the ignored_auth check's job.
        "[generation]",
        "with-security-parameters = false",
        "",
        "[parameters]",
        f"{json.dumps('path.' + param)} = {json.dumps(account)}",
        "",
    ]
    lines += [
        # The contract declares its links. Inferred ones make Schemathesis pick roots that
        # cannot succeed (an update with a random Sid) over the creates, whose path account and
        # *ApplicationSid fields look like references to resources nothing creates; the
        # creates then never run and no link is walked. Declared links only: all are walked.
        "[phases.stateful.inference]",
        "algorithms = []",
        "",
    ]
    if read_only:
        # The coverage phase otherwise sends methods the contract does not list (DELETE, PUT,
        # PATCH, ...) to every path to see them refused: not something to do in production.
        lines += ["[phases.coverage]", "unexpected-methods = []", ""]
    for regex, extra in STATEFUL_REFUSALS[provider]:
        lines += [
            "[[operations]]",
            f"include-operation-id-regex = {json.dumps(regex)}",
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps(BASE_EXPECTED + extra)}",
            "",
        ]
    return "\n".join(lines)


def probes(document: dict[str, Any], provider: str) -> list[tuple[str, dict[str, Any]]]:
    """The GETs the preflight may send: no path parameter but the account, no required query.
    Operations with the account in the path come first (they test the credentials)."""
    account = "{" + PROVIDER_ACCOUNT_PARAM[provider] + "}"
    found = []
    for path, item in document.get("paths", {}).items():
        operation = item.get("get") if isinstance(item, dict) else None
        if not isinstance(operation, dict):
            continue
        rest = path.replace(account, "")
        required = [p for p in operation.get("parameters", []) + item.get("parameters", [])
                    if isinstance(p, dict) and p.get("required") and p.get("in") == "query"]
        if "{" not in rest and not required:
            found.append((path, operation))
    return sorted(found, key=lambda pair: account not in pair[0])


def _documented(operation: dict[str, Any], status: int) -> bool:
    responses = operation.get("responses") or {}
    return str(status) in responses or f"{status // 100}XX" in responses


def _get(url: str, auth: tuple[str, str], timeout: float) -> httpx.Response:
    """One GET with an overall deadline: httpx's timeouts are per read, and a server that sends
    one byte at a time never trips them. The request runs in a thread we stop waiting for."""
    import httpx

    result: list[httpx.Response | httpx.HTTPError] = []

    def fetch() -> None:
        try:
            result.append(httpx.get(url, auth=auth, timeout=timeout,
                                    headers={"Accept": "application/json"}))
        except httpx.HTTPError as exc:  # handed to the caller
            result.append(exc)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        raise ContractError(f"{url} sent no complete answer within {timeout:g} s "
                            "(--request-timeout)")
    if isinstance(result[0], httpx.HTTPError):
        raise result[0]
    return result[0]


def preflight(url: str, auth: tuple[str, str], provider: str, account: str,
              document: dict[str, Any], timeout: float = 10.0) -> None:
    """Fail early, in one line, when the server is down, does not speak HTTP, refuses the
    credentials, or has none of the provider's operations under `url` (a wrong base path:
    every probe 404 or 405). Any other answer is for the run to judge."""
    import httpx

    account_param = "{" + PROVIDER_ACCOUNT_PARAM[provider] + "}"
    answers = []
    for path, operation in probes(document, provider):
        probe = f"{url.rstrip('/')}{path.replace(account_param, account)}"
        try:
            answer = _get(probe, auth, timeout)
        except (httpx.ConnectError, httpx.TimeoutException) as exc:
            raise ContractError(f"cannot reach {url}: {str(exc) or type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise ContractError(f"cannot reach {url}: it does not answer HTTP "
                                f"({str(exc) or type(exc).__name__})") from None
        if answer.status_code == 401:
            raise ContractError(f"{url} refused the --auth credentials (401 on GET {probe})")
        answers.append((path, probe, answer.status_code, operation))
    with_account = [a for a in answers if account_param in a[0]]
    if with_account and all(status == 403 for _, _, status, _ in with_account):
        raise ContractError(f"{url} accepted the credentials but not account {account} (403 on "
                            f"GET {with_account[0][1]}); name the account with --account")
    if not any(200 <= status < 300 and _documented(operation, status)
               for _, _, status, operation in answers):
        seen = ", ".join(f"{status} on GET {probe}" for _, probe, status, _ in answers[:2])
        raise ContractError(f"none of {provider}'s operations answers at {url} ({seen}): is "
                            f"--url {provider}'s base URL, e.g. "
                            f"http://127.0.0.1:8000{DEFAULT_PREFIX[provider]}?")


def parse_auth(text: str | None) -> tuple[str, str]:
    if not text:
        raise ContractError("--auth USER:PASS is required (or set NUMSPEC_AUTH)")
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ContractError("--auth must be USER:PASS")
    return user, password


def parse_phases(text: str | None) -> list[str]:
    """The --phases list, checked here: Schemathesis would print its own usage and exit 1."""
    if text is None:
        return list(PHASES)
    wanted = [p.strip() for p in text.split(",")]
    unknown = [p for p in wanted if p not in PHASES]
    if unknown or not wanted:
        raise ContractError(f"--phases: unknown phase {unknown[0] if unknown else text!r} "
                            f"(choose from {', '.join(PHASES)})")
    return wanted


def build_command(args: argparse.Namespace, spec_path: Path, config_path: Path,
                  junit_path: Path, json_path: Path) -> list[str]:
    """The Schemathesis command line: no secret on it (see run_config)."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config_path),
        "run", str(spec_path), "--url", args.url.rstrip("/"),
        "--workers", str(args.workers), "--request-timeout", f"{args.request_timeout:g}",
        "--report", "junit,json", "--report-junit-path", str(junit_path),
        "--report-json-path", str(json_path),
    ]
    phases = parse_phases(args.phases)
    if args.read_only:
        # Every link starts at a buy or create, which read-only leaves out: nothing to walk.
        phases = [p for p in phases if p != "stateful"] or ["examples"]
    if args.phases is not None or args.read_only:
        command += ["--phases", ",".join(phases)]
    if args.max_examples is not None:
        command += ["--max-examples", str(args.max_examples)]
    if args.seed is not None:
        # A seeded run is repeated exactly: no replaying of examples saved by earlier runs.
        command += ["--seed", str(args.seed), "--generation-database", "none"]
    if args.read_only:
        command += ["--include-method", "GET"]
    if sys.stdout.isatty():
        command += ["--force-color"]
    return command


def run_config(provider: str, account: str, read_only: bool) -> str:
    """schemathesis.toml for the CLI run: config_toml plus the credentials, as placeholders
    Schemathesis fills from the child's environment (never written out, never in `ps`)."""
    return config_toml(provider, account, read_only) + (
        "\n[auth.basic]\n"
        'username = "${NUMSPEC_CONTRACT_USER}"\n'
        'password = "${NUMSPEC_CONTRACT_PASSWORD}"\n')


# -- the summary ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What a run found, read from its JSON and JUnit reports."""

    generated: int = 0
    with_failures: int = 0
    unique_failures: int = 0
    without_checks: int = 0
    errors: list[str] = field(default_factory=list)
    failures: list[tuple[str, int, list[str]]] = field(default_factory=list)  # title, count, ops
    reproduce: list[str] = field(default_factory=list)  # curl commands
    complete: bool = False


def read_outcome(json_path: Path, junit_path: Path) -> Outcome:
    outcome = Outcome()
    try:
        report = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return outcome
    cases = report.get("test_cases") or {}
    outcome.generated = int(cases.get("generated") or 0)
    outcome.with_failures = int(cases.get("with_failures") or 0)
    outcome.unique_failures = int(cases.get("unique_failures") or 0)
    outcome.without_checks = int(cases.get("without_checks") or 0)
    outcome.complete = bool(report.get("complete"))
    outcome.failures = [(str(f.get("title") or f.get("code")), int(f.get("count") or 0),
                         [str(o) for o in f.get("operations") or []])
                        for f in report.get("failures") or []]
    outcome.errors = [f"{e.get('title')} ({e.get('count')})" for e in report.get("errors") or []]
    try:
        junit = ET.parse(junit_path).getroot()
    except (OSError, ET.ParseError):
        return outcome
    for element in junit.iter():
        if element.tag in ("failure", "error") and element.text:
            outcome.reproduce += [MASKED_AUTH.sub("-u USER:PASS", m.strip())
                                  for m in CURL.findall(element.text)]
    return outcome


def summary(outcome: Outcome, code: int, provider: str, url: str,
            junit: str | None, limit: int = 10) -> list[str]:
    """The closing lines: verdict, counts, failures by check, curl commands to replay them."""
    passed = code == 0
    lines = ["", f"numspec contract: {'PASSED' if passed else 'FAILED'} ({provider} at {url})",
             (f"  test cases: {outcome.generated} generated, {outcome.with_failures} with "
             f"failures ({outcome.unique_failures} unique)")]
    if outcome.without_checks:
        # Schemathesis' own "N skipped": requests a check sends itself (ignored_auth re-sends
        # each operation without and with wrong credentials) are judged inside the check.
        lines.append(f"  {outcome.without_checks} skipped: extra requests checks sent "
                     "themselves (ignored_auth re-sends operations without and with wrong "
                     "credentials); judged by the check that sent them, so no check of their own")
    for title, count, operations in outcome.failures:
        where = ", ".join(operations[:3]) + (f" and {len(operations) - 3} more"
                                             if len(operations) > 3 else "")
        lines.append(f"  failed {count}x: {title} -- {where}")
    for error in outcome.errors:
        lines.append(f"  error: {error}")
    if not passed and not outcome.failures and not outcome.errors:
        lines.append("  Schemathesis stopped before it could report (see its output above)"
                     if not outcome.complete else
                     f"  Schemathesis exited with status {code} (see its output above)")
    if outcome.reproduce:
        shown = list(dict.fromkeys(outcome.reproduce))
        lines.append("  Reproduce with (USER:PASS as given to --auth):")
        lines += [f"    {command}" for command in shown[:limit]]
        if len(shown) > limit:
            lines.append(f"    ... {len(shown) - limit} more in the report above")
    if junit:
        lines.append(f"  JUnit report: {junit}")
    return lines


class _Stopped(Exception):
    """A signal asked the run to stop; the temporary folder is removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C does: through `finally`, not by dying."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Progress:
    """Reads the child's event file (one line per answer: phase, status) as it grows.

    Its lines are the run's progress on a terminal too: Schemathesis, writing into our pipe,
    shows no live progress of its own."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.statuses: Counter[str] = Counter()
        self.phases: list[str] = []
        self.started = self.last_line = time.monotonic()

    def poll(self, say: Callable[[str], None]) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            chunk = b""
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode("utf-8", "replace").splitlines():
            phase, _, status = line.partition(" ")
            if phase not in self.phases:
                self.phases.append(phase)
                say(f"numspec contract: {phase} phase started")
            self.statuses[status] += 1
        now = time.monotonic()
        if now - self.last_line >= HEARTBEAT:
            say(f"numspec contract: {sum(self.statuses.values())} requests answered so far "
                f"({now - self.started:.0f} s)")
            self.last_line = now

    def nothing_tested(self) -> bool:
        """True when answers came but every one was 401, 403, 404 or 405."""
        answered = {int(s) for s in self.statuses if s.isdigit()}
        return bool(answered) and answered <= NOTHING_TESTED


def _forward(stream: Any, replace: dict[str, str], drop: tuple[str, ...]) -> None:
    """Schemathesis' output, minus the names of files that are gone once the run ends."""
    for line in stream:
        if any(word in line for word in drop):
            continue
        for old, new in replace.items():
            line = line.replace(old, new)
        sys.stdout.write(line)
        sys.stdout.flush()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(args: argparse.Namespace) -> int:
    auth = args.auth or os.environ.get("NUMSPEC_AUTH")
    try:
        user, password = parse_auth(auth)
        try:
            parts = urlsplit(args.url)
        except ValueError as exc:
            raise ContractError(f"--url {args.url!r} is not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ContractError(f"--url must be an http:// or https:// URL, not {args.url!r}")
        parse_phases(args.phases)
        account = getattr(args, "account", None) or user
        loaded = load(args.spec)
        document = provider_document(loaded, args.provider)
        preflight(args.url, (user, password), args.provider, account, document,
                  args.request_timeout)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:  # the run cannot start: say so with exit 2, like any other
        for finding in exc.findings:
            print(f"error: {finding}", file=sys.stderr)
        return 2
    try:
        with _signals_stop_the_run(), tempfile.TemporaryDirectory(prefix="numspec-contract-") as tmp:
            return _run(args, Path(tmp), document, account, (user, password))
    except _Stopped as stopped:
        print(f"numspec contract: stopped by {stopped} (temporary files removed)", flush=True)
        return 128 + stopped.signum
    except KeyboardInterrupt:
        print("numspec contract: stopped by SIGINT (temporary files removed)", flush=True)
        return 130


def _run(args: argparse.Namespace, tmp: Path, document: dict[str, Any], account: str,
         auth: tuple[str, str]) -> int:
    spec_path = tmp / "openapi.json"
    spec_path.write_text(json.dumps(document), encoding="utf-8")
    config_path = tmp / "schemathesis.toml"
    config_path.write_text(run_config(args.provider, account, args.read_only), encoding="utf-8")
    events = tmp / "events"
    events.touch(mode=0o600)
    junit_path = Path(args.junit) if args.junit else tmp / "junit.xml"
    json_path = tmp / "run.json"
    env = dict(os.environ)
    env.pop("NUMSPEC_AUTH", None)
    env.update({
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        "NUMSPEC_CONTRACT_PROVIDER": args.provider,
        "NUMSPEC_CONTRACT_URL": args.url.rstrip("/"),
        "NUMSPEC_CONTRACT_AUTH": f"{auth[0]}:{auth[1]}",
        "NUMSPEC_CONTRACT_USER": auth[0],
        "NUMSPEC_CONTRACT_PASSWORD": auth[1],
        "NUMSPEC_CONTRACT_READ_ONLY": "1" if args.read_only else "",
        "NUMSPEC_CONTRACT_DEADLINE": f"{args.request_timeout:g}",
        "NUMSPEC_CONTRACT_EVENTS": str(events),
        "PYTHONUNBUFFERED": "1",
    })
    # Schemathesis writes into a pipe and so wraps at 80 columns: give it the terminal's width.
    env.setdefault("COLUMNS", str(shutil.get_terminal_size((120, 24)).columns
                                  if sys.stdout.isatty() else 120))
    command = build_command(args, spec_path, config_path, junit_path, json_path)
    print(f"numspec contract: {args.provider} at {args.url}"
          f"{' (read-only)' if args.read_only else ''}", flush=True)
    shown_spec = f"{args.spec} ({args.provider} operations)"
    replace = {str(spec_path): shown_spec}
    drop = (str(config_path), str(json_path)) + (() if args.junit else (str(junit_path), "Reports:"))
    progress = _Progress(events)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8", errors="replace")
    reader = threading.Thread(target=_forward, args=(proc.stdout, replace, drop), daemon=True)
    reader.start()
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    deadline = time.monotonic() + args.max_time if args.max_time else None
    timed_out = False
    try:
        while proc.poll() is None:
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            progress.poll(say)
            if deadline is not None and time.monotonic() > deadline:
                timed_out = True
                _stop(proc)
    finally:
        _stop(proc)  # a signal or an error here must not leave Schemathesis running
        reader.join(timeout=10)
    progress.poll(say)
    code = proc.returncode
    outcome = read_outcome(json_path, junit_path)
    notes = []
    if timed_out:
        notes.append(f"stopped: the run took longer than --max-time {args.max_time:g} s")
        code = code or 1
    elif progress.nothing_tested():
        counts = ", ".join(f"{n}x {s}" for s, n in sorted(progress.statuses.items()))
        notes.append(f"every answer was 401, 403, 404 or 405 ({counts}): nothing was tested; "
                     "check --url, --auth and --account")
        code = code or 1
    if any(error.startswith("Network Error") for error in outcome.errors):
        notes.append(f"a Network Error is no answer, or none complete within --request-timeout "
                     f"{args.request_timeout:g} s (\"Read timed out\")")
    junit = args.junit if args.junit and Path(args.junit).is_file() else None
    lines = summary(outcome, code, args.provider, args.url, junit)
    lines[2:2] = [f"  {note}" for note in notes]
    print("\n".join(lines), flush=True)
    return 0 if code == 0 else 1
