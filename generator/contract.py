"""`numspec contract`: prove a live server honours the contract, with Schemathesis doing the fuzzing.

numspec prepares what Schemathesis needs for these APIs and then runs its CLI:
- one provider's operations only, with the servers stripped so `--url` decides;
- the account path parameter bound to the Basic-auth user (otherwise every case is a 403);
- numspec's own checks and hooks (generator.contract_checks): XML validated through the
  contract's `xml` annotations, both media types requested, provider semantics;
- read-only mode (GET only) for production endpoints where buying costs money;
- a JUnit report, and closing lines that count the failures and give a curl command for each.

Exit status: 0 all passed, 1 something failed, 2 the run could not start (bad arguments, a
server that is down, does not speak HTTP, or refuses the credentials).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from numspec.generator.specload import LoadedSpec, SpecError, load

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


def preflight(url: str, auth: tuple[str, str], provider: str, account: str) -> None:
    """Fail early, in one line, when the server is down, does not speak HTTP, or refuses the
    credentials; any other answer is for the run to judge."""
    probe = f"{url.rstrip('/')}{PROBE_PATH[provider].format(account=account)}"
    try:
        answer = httpx.get(probe, auth=auth, timeout=10.0, headers={"Accept": "application/json"})
    except (httpx.ConnectError, httpx.TimeoutException) as exc:
        raise ContractError(f"cannot reach {url}: {str(exc) or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise ContractError(f"cannot reach {url}: it does not answer HTTP "
                            f"({str(exc) or type(exc).__name__})") from None
    if answer.status_code == 401:
        raise ContractError(f"{url} refused the --auth credentials (401 on GET {probe})")


def parse_auth(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ContractError("--auth must be USER:PASS")
    return user, password


def build_command(args: argparse.Namespace, spec_path: Path, config_path: Path,
                  junit_path: Path, json_path: Path) -> list[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config_path),
        "run", str(spec_path), "--url", args.url.rstrip("/"), "--auth", args.auth,
        "--workers", str(args.workers), "--request-timeout", "10",
        "--report", "junit,json", "--report-junit-path", str(junit_path),
        "--report-json-path", str(json_path),
    ]
    phases = args.phases
    if args.read_only:
        # Every link starts at a buy or create, which read-only leaves out: nothing to walk.
        wanted = (phases or ALL_PHASES).split(",")
        phases = ",".join(p for p in wanted if p.strip() != "stateful") or "examples"
    if phases:
        command += ["--phases", phases]
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


# -- the summary ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What a run found, read from its JSON and JUnit reports."""

    generated: int = 0
    with_failures: int = 0
    unique_failures: int = 0
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


def main(args: argparse.Namespace) -> int:
    try:
        user, password = parse_auth(args.auth)
        try:
            parts = urlsplit(args.url)
        except ValueError as exc:
            raise ContractError(f"--url {args.url!r} is not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ContractError(f"--url must be an http:// or https:// URL, not {args.url!r}")
        account = getattr(args, "account", None) or user
        loaded = load(args.spec)
        document = provider_document(loaded, args.provider)
        preflight(args.url, (user, password), args.provider, account)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:  # the run cannot start: say so with exit 2, like any other
        for finding in exc.findings:
            print(f"error: {finding}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="numspec-contract-") as tmp:
        spec_path = Path(tmp) / "openapi.json"
        spec_path.write_text(json.dumps(document), encoding="utf-8")
        config_path = Path(tmp) / "schemathesis.toml"
        config_path.write_text(config_toml(args.provider, account, args.read_only),
                               encoding="utf-8")
        junit_path = Path(args.junit) if args.junit else Path(tmp) / "junit.xml"
        json_path = Path(tmp) / "run.json"
        env = dict(os.environ)
        env.update({
            "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
            "NUMSPEC_CONTRACT_PROVIDER": args.provider,
            "NUMSPEC_CONTRACT_URL": args.url.rstrip("/"),
            "NUMSPEC_CONTRACT_AUTH": args.auth,
            "NUMSPEC_CONTRACT_READ_ONLY": "1" if args.read_only else "",
        })
        command = build_command(args, spec_path, config_path, junit_path, json_path)
        print(f"numspec contract: {args.provider} at {args.url}"
              f"{' (read-only)' if args.read_only else ''}", flush=True)
        try:
            code = subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 130
        outcome = read_outcome(json_path, junit_path)
    print("\n".join(summary(outcome, code, args.provider, args.url, args.junit)), flush=True)
    return 0 if code == 0 else 1
