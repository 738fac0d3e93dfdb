"""How long a default `numspec contract` run takes against the emulator, per provider.

Each run gets a fresh `numspec serve` (its own SQLite file) and is timed from outside, start
to exit, as a user or CI would see it: all four phases, Schemathesis' default number of
examples, seed 1. Test cases per second use the count the run reports.

Baseline, side by side: plain Schemathesis (`python -m schemathesis.cli run`) on the same
provider document and config (account bound, same seed) without numspec's hooks and checks,
so the ratio shows what numspec's XML validation, provider checks and real-data hooks cost.

    python -m bench.bench_contract [--provider freeclimb|restcomm] [--max-examples N]
                                   [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NUMSPEC = Path(sys.executable).with_name("numspec")
ACCOUNTS = {  # the emulator's demo logins (emulator.accounts)
    "freeclimb": ("AC68ad4e6e004a7d27d946c8bb78074732c2cf8a49",
                  "ff241b8c682f1b98ee1645c64a57a96847332dc3"),
    "restcomm": ("AC3dff9f93bd489dc21c65e4da678fee7b", "numspec-demo"),
}
PREFIX = {"freeclimb": "/apiserver", "restcomm": "/restcomm"}
GENERATED = re.compile(r"test cases: (\d+) generated")


@dataclass
class Result:
    label: str
    seconds: float
    cases: int
    passed: bool

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0


def _environment() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _numspec() -> list[str]:
    if NUMSPEC.exists():
        return [str(NUMSPEC)]
    return [sys.executable, "-c", "import sys; from numspec.generator.cli import main; sys.exit(main())"]


@contextmanager
def emulator(folder: Path) -> Iterator[str]:
    """A fresh `numspec serve` on a free port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = folder / f"serve-{port}.db"
    proc = subprocess.Popen([*_numspec(), "serve", "--port", str(port), "--db", str(db)],
                            cwd=ROOT, env=_environment(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/apiserver/AvailablePhoneNumbers", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("numspec serve did not start") from None
                time.sleep(0.05)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_numspec(provider: str, base: str, max_examples: int | None) -> Result:
    user, password = ACCOUNTS[provider]
    command = [*_numspec(), "contract", "--provider", provider, "--url", base + PREFIX[provider],
               "--auth", f"{user}:{password}", "--seed", "1"]
    if max_examples:
        command += ["--max-examples", str(max_examples)]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True, text=True,
                         check=False)
    seconds = time.perf_counter() - start
    found = GENERATED.search(run.stdout)
    return Result("numspec contract", seconds, int(found.group(1)) if found else 0,
                  run.returncode == 0)


def run_plain(provider: str, base: str, max_examples: int | None, folder: Path) -> Result:
    """The same document and config through Schemathesis alone (no numspec hooks or checks)."""
    from numspec.generator.contract import config_toml, provider_document
    from numspec.generator.specload import load

    user, password = ACCOUNTS[provider]
    spec = folder / f"{provider}.json"
    spec.write_text(json.dumps(provider_document(load(), provider)), encoding="utf-8")
    config = folder / f"{provider}.toml"
    config.write_text(config_toml(provider, user), encoding="utf-8")
    report = folder / f"{provider}-plain.json"
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
               str(spec), "--url", base + PREFIX[provider], "--auth", f"{user}:{password}",
               "--seed", "1", "--generation-database", "none", "--request-timeout", "10",
               "--report", "json", "--report-json-path", str(report)]
    if max_examples:
        command += ["--max-examples", str(max_examples)]
    env = {k: v for k, v in _environment().items() if k != "SCHEMATHESIS_HOOKS"}
    start = time.perf_counter()
    run = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                         check=False)
    seconds = time.perf_counter() - start
    try:
        cases = int(json.loads(report.read_text(encoding="utf-8"))["test_cases"]["generated"])
    except (OSError, ValueError, KeyError, TypeError):
        cases = 0
    return Result("schemathesis alone", seconds, cases, run.returncode == 0)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_contract",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--provider", choices=sorted(ACCOUNTS), action="append")
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--no-baseline", action="store_true")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench the same args
    providers = args.provider or sorted(ACCOUNTS)
    examples = args.max_examples or "default"
    print(f"numspec contract against numspec serve: all phases, {examples} examples, seed 1, "
          f"{os.cpu_count()} CPUs")
    print(f"{'provider':10} {'run':20} {'wall s':>8} {'cases':>7} {'cases/s':>8}  verdict")
    status = 0
    with tempfile.TemporaryDirectory(prefix="numspec-bench-contract-") as tmp:
        folder = Path(tmp)
        for provider in providers:
            results = []
            with emulator(folder) as base:
                results.append(run_numspec(provider, base, args.max_examples))
            if not args.no_baseline:
                with emulator(folder) as base:
                    results.append(run_plain(provider, base, args.max_examples, folder))
            for r in results:
                print(f"{provider:10} {r.label:20} {r.seconds:8.1f} {r.cases:7d} {r.rate:8.1f}  "
                      f"{'passed' if r.passed else 'FAILED'}", flush=True)
            status = max(status, 0 if results[0].passed else 1)
            if len(results) == 2 and results[1].seconds and results[1].rate:
                ours, plain = results
                print(f"{provider:10} {'numspec / alone':20} {ours.seconds / plain.seconds:7.2f}x "
                      f"{'':7} {ours.rate / plain.rate:7.2f}x")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
