"""`numspec contract --webhooks`: test a user's webhook receiver with the contract's `webhooks`.

Schemathesis tests servers, not receivers, so the provider's webhooks become the operations of a
derived document: one path per webhook (`/freeclimb-inboundCall`, ...), the same methods, bodies,
query fields and replies. In the Schemathesis child (generator.contract_webhook_checks) every
request goes to the receiver's URL for its event instead, FreeClimb's are signed over the exact
bytes sent, and numspec's checks judge the answers: an event the provider could send is accepted
(2xx), a reply the provider reads is one it can run (content type, RCML/PerCL), and the same
event unsigned, signed with another secret or signed an hour ago is refused (4xx).

The run's plumbing (child process, progress, deadline, signals, summary, JUnit) is the
operations mode's, from generator.contract. Exit status as there: 0 passed, 1 failed (also:
every answer was 404 or 405, or the run outlived --max-time), 2 could not start.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from numspec.generator import contract
from numspec.generator.contract import ContractError, parse_phases
from numspec.generator.specload import LoadedSpec, SpecError, load, resolve_pointer

HOOKS_MODULE = "numspec.generator.contract_webhook_checks"
# numspec's checks, plus Schemathesis' own "no 5xx". Its others judge a server against its
# operations (undocumented statuses, required headers, methods): not a receiver's duty.
CHECKS = ("not_a_server_error", "event_accepted", "reply_runs", "signature_enforced")
SECRET_ENV = "NUMSPEC_SIGNING_SECRET"
SIGNED = {"freeclimb": True, "restcomm": False}  # Restcomm signs nothing (reference/webhooks.md)
NOT_A_RECEIVER = {404, 405}  # answers that mean "no receiver at this URL"


def event_name(webhook: str, provider: str) -> str:
    """`inboundCall` for the webhook `freeclimb-inboundCall`."""
    return webhook.removeprefix(f"{provider}-")


def provider_webhooks(loaded: LoadedSpec, provider: str) -> dict[str, dict[str, Any]]:
    """The contract's webhooks whose every operation is tagged with the provider."""
    found = {}
    for name, item in (loaded.document.get("webhooks") or {}).items():
        if not isinstance(item, dict):
            continue
        if "$ref" in item:
            item = resolve_pointer(loaded.document, item["$ref"][1:])
        ops = [v for v in item.values() if isinstance(v, dict) and "operationId" in v]
        if ops and all(provider in op.get("tags", []) for op in ops):
            found[name] = item
    if not found:
        raise ContractError(f"the contract has no webhooks tagged {provider!r}")
    return found


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve_pointer(document, node["$ref"][1:])
    return node


def _body_examples(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The examples of a webhook's POST body, resolved: the GET variant sends the same fields."""
    post = item.get("post") or {}
    content = (_deref(document, post.get("requestBody")) or {}).get("content") or {}
    examples: dict[str, Any] = {}
    for media in content.values():
        for key, example in (media.get("examples") or {}).items():
            example = _deref(document, example)
            if isinstance(example, dict) and "value" in example:
                examples[key] = {"value": example["value"]}
    return examples


def webhook_document(loaded: LoadedSpec, provider: str) -> dict[str, Any]:
    """The provider's webhooks as the operations of a document Schemathesis can run.

    A GET variant's query object gets the POST body's examples, so the examples phase sends
    the provider's own sample (`CallerName=null` and all) both ways. Path-level parameters
    are not used by the contract's webhooks and stay as they are."""
    document = loaded.document
    paths = {}
    for name, item in provider_webhooks(loaded, provider).items():
        item = copy.deepcopy(item)
        item.pop("servers", None)
        examples = _body_examples(document, item)
        for operation in item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            # Inlined, so the checks see each parameter's name and place without resolving.
            parameters = []
            for parameter in operation.get("parameters", []):
                resolved = copy.deepcopy(_deref(document, parameter))
                if (isinstance(resolved, dict) and resolved.get("in") == "query" and examples
                        and "example" not in resolved and "examples" not in resolved):
                    resolved["examples"] = examples
                parameters.append(resolved)
            operation["parameters"] = parameters
        paths[f"/{name}"] = item
    derived = {key: copy.deepcopy(value) for key, value in document.items()
               if key not in ("paths", "webhooks", "servers")}
    derived["paths"] = paths
    derived["tags"] = [t for t in derived.get("tags", []) if t.get("name") == provider]
    return derived


def parse_event_paths(values: list[str] | None, events: list[str]) -> dict[str, str]:
    """`--event-path EVENT=PATH` options as {event: path}; unknown events are an error."""
    chosen: dict[str, str] = {}
    for value in values or []:
        event, sep, path = value.partition("=")
        if not sep or not event:
            raise ContractError(f"--event-path must be EVENT=PATH, not {value!r}")
        if event not in events:
            raise ContractError(f"--event-path: no event {event!r} (choose from "
                                f"{', '.join(events)})")
        if not path.startswith("/"):
            raise ContractError(f"--event-path {value!r}: PATH must start with /")
        chosen[event] = path
    return chosen


def targets(url: str, provider: str, webhooks: list[str], paths: dict[str, str]) -> dict[str, str]:
    """Where each derived operation's requests go: the receiver URL, plus an event's own path
    (before the URL's query, which stays: receivers often take a token there)."""
    parts = urlsplit(url)

    def with_path(path: str) -> str:
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))

    return {f"/{name}": with_path(paths[event_name(name, provider)])
            if event_name(name, provider) in paths else url for name in webhooks}


def preflight(urls: list[str], timeout: float) -> None:
    """Fail early, in one line, when a receiver URL does not answer HTTP at all."""
    for url in dict.fromkeys(urls):
        try:
            httpx.get(url, timeout=timeout)
        except (httpx.ConnectError, httpx.TimeoutException) as exc:
            raise ContractError(f"cannot reach {url}: {str(exc) or type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise ContractError(f"cannot reach {url}: it does not answer HTTP "
                                f"({str(exc) or type(exc).__name__})") from None


def _check_options(args: argparse.Namespace) -> str | None:
    """The signing secret (FreeClimb), after refusing what this mode cannot use."""
    for option, given in (("--auth", args.auth), ("--read-only", args.read_only),
                          ("--account", getattr(args, "account", None))):
        if given:
            raise ContractError(f"{option} is for testing a provider's server, not a webhook "
                                "receiver (--webhooks)")
    try:
        parts = urlsplit(args.url)
    except ValueError as exc:
        raise ContractError(f"--url {args.url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ContractError(f"--url must be an http:// or https:// URL, not {args.url!r}")
    secret: str | None = getattr(args, "signing_secret", None) or os.environ.get(SECRET_ENV)
    if SIGNED[args.provider] and not secret:
        raise ContractError(f"{args.provider} signs its webhooks: give the receiver's secret "
                            f"with --signing-secret or {SECRET_ENV}")
    if not SIGNED[args.provider] and getattr(args, "signing_secret", None):
        raise ContractError(f"{args.provider} does not sign its webhooks: leave out "
                            "--signing-secret")
    return secret if SIGNED[args.provider] else None


def main(args: argparse.Namespace) -> int:
    try:
        secret = _check_options(args)
        phases = [p for p in parse_phases(args.phases) if p != "stateful"]
        if not phases:
            raise ContractError("--phases: webhooks have no links, so no stateful phase; "
                                "choose examples, coverage or fuzzing")
        loaded = load(args.spec)
        document = webhook_document(loaded, args.provider)
        names = [path[1:] for path in document["paths"]]
        events = [event_name(name, args.provider) for name in names]
        paths = parse_event_paths(getattr(args, "event_path", None), events)
        where = targets(args.url, args.provider, names, paths)
        preflight(list(where.values()), args.request_timeout)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:
        for finding in exc.findings:
            print(f"error: {finding}", file=sys.stderr)
        return 2
    try:
        with contract._signals_stop_the_run(), \
                tempfile.TemporaryDirectory(prefix="numspec-contract-") as tmp:
            return _run(args, Path(tmp), document, where, phases, secret)
    except contract._Stopped as stopped:
        print(f"numspec contract: stopped by {stopped} (temporary files removed)", flush=True)
        return 128 + stopped.signum
    except KeyboardInterrupt:
        print("numspec contract: stopped by SIGINT (temporary files removed)", flush=True)
        return 130


# The coverage phase would also send methods the webhook does not use, to see them refused:
# a receiver owes no 405 (its framework may route any method), so they are not sent.
CONFIG = "[phases.coverage]\nunexpected-methods = []\n"


def _command(args: argparse.Namespace, spec_path: Path, config_path: Path, junit_path: Path,
             json_path: Path, phases: list[str]) -> list[str]:
    # Schemathesis joins --url and the derived paths; the hooks send each request to `where`.
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config_path),
        "run", str(spec_path),
        "--url", args.url.rstrip("/"), "--checks", ",".join(CHECKS),
        "--phases", ",".join(phases), "--workers", str(args.workers),
        "--request-timeout", f"{args.request_timeout:g}",
        "--report", "junit,json", "--report-junit-path", str(junit_path),
        "--report-json-path", str(json_path),
    ]
    if args.max_examples is not None:
        command += ["--max-examples", str(args.max_examples)]
    if args.seed is not None:
        command += ["--seed", str(args.seed), "--generation-database", "none"]
    if sys.stdout.isatty():
        command += ["--force-color"]
    return command


def _run(args: argparse.Namespace, tmp: Path, document: dict[str, Any], where: dict[str, str],
         phases: list[str], secret: str | None) -> int:
    spec_path = tmp / "webhooks.json"
    spec_path.write_text(json.dumps(document), encoding="utf-8")
    config_path = tmp / "schemathesis.toml"
    config_path.write_text(CONFIG, encoding="utf-8")
    events = tmp / "events"
    events.touch(mode=0o600)
    junit_path = Path(args.junit) if args.junit else tmp / "junit.xml"
    json_path = tmp / "run.json"
    env = dict(os.environ)
    for name in ("NUMSPEC_AUTH", SECRET_ENV):
        env.pop(name, None)
    env.update({
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        "NUMSPEC_WEBHOOKS_PROVIDER": args.provider,
        "NUMSPEC_WEBHOOKS_TARGETS": json.dumps(where),
        "NUMSPEC_WEBHOOKS_SECRET": secret or "",
        "NUMSPEC_WEBHOOKS_TIMEOUT": f"{args.request_timeout:g}",
        "NUMSPEC_CONTRACT_EVENTS": str(events),
        "PYTHONUNBUFFERED": "1",
    })
    env.setdefault("COLUMNS", str(shutil.get_terminal_size((120, 24)).columns
                                  if sys.stdout.isatty() else 120))
    command = _command(args, spec_path, config_path, junit_path, json_path, phases)
    print(f"numspec contract: {args.provider} webhooks to {args.url}", flush=True)
    for path, url in where.items():
        print(f"  {path[1:]} -> {url}", flush=True)
    base = args.url.rstrip("/")
    # Shown as sent: each derived path's URL is the receiver's, the document is the contract.
    replace = {base + path: url for path, url in where.items()}
    replace[str(spec_path)] = f"{args.spec} ({args.provider} webhooks)"
    drop = (str(config_path), str(json_path)) + (() if args.junit else (str(junit_path), "Reports:"))
    progress = contract._Progress(events)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8", errors="replace")
    reader = threading.Thread(target=contract._forward, args=(proc.stdout, replace, drop),
                              daemon=True)
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
                contract._stop(proc)
    finally:
        contract._stop(proc)
        reader.join(timeout=10)
    progress.poll(say)
    code = proc.returncode
    outcome = contract.read_outcome(json_path, junit_path)
    outcome.reproduce = [_as_sent(line, replace) for line in outcome.reproduce]
    notes = []
    answered = {int(s) for s in progress.statuses if s.isdigit()}
    if timed_out:
        notes.append(f"stopped: the run took longer than --max-time {args.max_time:g} s")
        code = code or 1
    elif answered and answered <= NOT_A_RECEIVER:
        counts = ", ".join(f"{n}x {s}" for s, n in sorted(progress.statuses.items()))
        notes.append(f"every answer was 404 or 405 ({counts}): no receiver there; check --url "
                     "and --event-path")
        code = code or 1
    if any(error.startswith("Network Error") for error in outcome.errors):
        notes.append(f"a Network Error is no answer, or none within --request-timeout "
                     f"{args.request_timeout:g} s: the provider would have given up on it too")
    junit = args.junit if args.junit and Path(args.junit).is_file() else None
    lines = contract.summary(outcome, code, f"{args.provider} webhooks", args.url, junit)
    lines = [_reproduce_heading(line, args.provider) for line in lines]
    lines[2:2] = [f"  {note}" for note in notes]
    print("\n".join(lines), flush=True)
    return 0 if code == 0 else 1


def _as_sent(line: str, replace: dict[str, str]) -> str:
    for old, new in replace.items():
        line = line.replace(old, new)
    return line


def _reproduce_heading(line: str, provider: str) -> str:
    """The operations mode's heading speaks of --auth; a receiver has none."""
    if not line.startswith("  Reproduce with"):
        return line
    return ("  Reproduce with (sign the body again: a FreeClimb-Signature ages):"
            if SIGNED[provider] else "  Reproduce with:")
