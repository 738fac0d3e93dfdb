"""`numspec contract`: prove a live server honours the contract, with Schemathesis doing the fuzzing.

numspec prepares what Schemathesis needs for these APIs and then runs its CLI:
- one provider's operations only, with the servers stripped so `--url` decides;
- the account path parameter bound to the Basic-auth user (otherwise every case is a 403);
- numspec's own checks and hooks (generator.contract_checks): XML validated through the
  contract's `xml` annotations, both media types requested, provider semantics;
- read-only mode (GET only) for production endpoints where buying costs money.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from generator.specload import LoadedSpec, load

PROVIDER_ACCOUNT_PARAM = {"freeclimb": "accountId", "restcomm": "AccountSid"}
HOOKS_MODULE = "generator.contract_checks"
# Schema-valid requests these operations may still refuse because of server state or rules a
# schema cannot say: a number someone else owns (FreeClimb 409, Restcomm 400 `21452`), a page
# past the last (Restcomm 400), a cursor the server never issued or a phoneNumber that is not
# a valid regular expression (FreeClimb 400).
STATEFUL_REFUSALS = {
    "freeclimb": [("^buy-a-phone-number$", ["409"]), ("^list-", ["400"])],
    "restcomm": [("^(create|list)-", ["400"])],
}
BASE_EXPECTED = ["2xx", "401", "403", "404", "409"]


class ContractError(Exception):
    """A problem with the run's inputs, said in one line."""


def provider_document(loaded: LoadedSpec, provider: str) -> dict[str, Any]:
    """The bundled contract cut down to one provider, its servers left to `--url`."""
    doc = copy.deepcopy(loaded.document)
    doc.pop("servers", None)
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


def config_toml(provider: str, account: str) -> str:
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
    for regex, extra in STATEFUL_REFUSALS[provider]:
        lines += [
            "[[operations]]",
            f"include-operation-id-regex = {json.dumps(regex)}",
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps(BASE_EXPECTED + extra)}",
            "",
        ]
    return "\n".join(lines)


def preflight(url: str, auth: tuple[str, str]) -> None:
    """Fail early, in one line, when the server is down or does not speak HTTP."""
    try:
        httpx.get(url, auth=auth, timeout=10.0)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise ContractError(f"cannot reach {url}: {reason}") from None


def parse_auth(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ContractError("--auth must be USER:PASS")
    return user, password


def build_command(args: argparse.Namespace, spec_path: Path, config_path: Path) -> list[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config_path),
        "run", str(spec_path), "--url", args.url.rstrip("/"), "--auth", args.auth,
        "--workers", str(args.workers), "--request-timeout", "10",
    ]
    if args.phases:
        command += ["--phases", args.phases]
    if args.max_examples:
        command += ["--max-examples", str(args.max_examples)]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.read_only:
        command += ["--include-method", "GET"]
    if args.junit:
        command += ["--report", "junit", "--report-junit-path", str(args.junit)]
    return command


def main(args: argparse.Namespace) -> int:
    try:
        user, password = parse_auth(args.auth)
        account = getattr(args, "account", None) or user
        loaded = load(args.spec)
        document = provider_document(loaded, args.provider)
        preflight(args.url, (user, password))
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="numspec-contract-") as tmp:
        spec_path = Path(tmp) / "openapi.json"
        spec_path.write_text(json.dumps(document), encoding="utf-8")
        config_path = Path(tmp) / "schemathesis.toml"
        config_path.write_text(config_toml(args.provider, account), encoding="utf-8")
        env = dict(os.environ)
        env.update({
            "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
            "NUMSPEC_CONTRACT_PROVIDER": args.provider,
            "NUMSPEC_CONTRACT_URL": args.url.rstrip("/"),
            "NUMSPEC_CONTRACT_AUTH": args.auth,
            "NUMSPEC_CONTRACT_READ_ONLY": "1" if args.read_only else "",
        })
        command = build_command(args, spec_path, config_path)
        print(f"numspec contract: {args.provider} at {args.url}"
              f"{' (read-only)' if args.read_only else ''}", flush=True)
        try:
            code = subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 130
    verdict = "PASSED" if code == 0 else "FAILED"
    print(f"numspec contract: {verdict}" + (f"; JUnit report: {args.junit}" if args.junit else ""))
    return 0 if code == 0 else 1
