"""`numspec contract --webhooks` end to end: the real CLI in a subprocess against real receivers
(tests/receiver_mutants.py) served by uvicorn on loopback.

The correct receiver passes for both providers; every mutant fails, named by the check meant to
catch it (the mutant score is printed); bad options and a receiver that is not there end in
one clear line with exit 2.
"""

from __future__ import annotations

import json
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from numspec.generator.contract_webhooks import targets, webhook_document
from numspec.generator.specload import load

from tests.emulator_process import ROOT, _environment, numspec_command
from tests.loopback_server import serve
from tests.receiver_mutants import FREECLIMB_PATH, MUTANTS, RESTCOMM_PATHS, SECRET, create_app

# A few generated examples per event: the examples and coverage phases carry the edge cases.
QUICK = ("--max-examples", "5", "--seed", "1")


def receiver_args(provider: str, base: str) -> list[str]:
    """FreeClimb's events all to one URL; Restcomm's to a path each (--event-path)."""
    if provider == "freeclimb":
        return ["--url", base + FREECLIMB_PATH]
    args = ["--url", base + "/restcomm"]
    for event, path in RESTCOMM_PATHS.items():
        args += ["--event-path", f"{event}={path.removeprefix('/restcomm')}"]
    return args


def webhooks(provider: str, *args: str, secret: str | None = SECRET,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`numspec contract --webhooks`, the FreeClimb secret through its environment variable."""
    env = _environment()
    env.pop("NUMSPEC_SIGNING_SECRET", None)
    if secret is not None and provider == "freeclimb":
        env["NUMSPEC_SIGNING_SECRET"] = secret
    command = [*numspec_command(), "contract", "--webhooks", "--provider", provider, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def explain(run: subprocess.CompletedProcess[str]) -> str:
    return f"exit {run.returncode}\n--- stdout (tail)\n{run.stdout[-6000:]}\n--- stderr\n{run.stderr[-3000:]}"


def test_derived_document_has_the_webhooks_as_operations() -> None:
    document = webhook_document(load(ROOT / "spec"), "restcomm")
    assert sorted(document["paths"]) == ["/restcomm-inboundCall", "/restcomm-inboundSms",
                                         "/restcomm-statusCallback"]
    assert "webhooks" not in document and "servers" not in document
    query = document["paths"]["/restcomm-inboundCall"]["get"]["parameters"][1]
    # The GET variant carries the POST body's example, literal `null`s included.
    assert query["in"] == "query"
    assert query["examples"]["ringing"]["value"]["CallerName"] == "null"


def test_event_paths_join_the_url_before_its_query() -> None:
    names = ["restcomm-inboundCall", "restcomm-inboundSms"]
    where = targets("http://127.0.0.1:5000/hooks/?token=a%20b", "restcomm", names,
                    {"inboundCall": "/voice"})
    assert where == {"/restcomm-inboundCall": "http://127.0.0.1:5000/hooks/voice?token=a%20b",
                     "/restcomm-inboundSms": "http://127.0.0.1:5000/hooks/?token=a%20b"}


@pytest.mark.parametrize("provider", ["freeclimb", "restcomm"])
def test_correct_receiver_passes(provider: str, tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    with serve(create_app(), probe="/nothing") as base:
        run = webhooks(provider, *receiver_args(provider, base), *QUICK, "--junit", str(junit))
    assert run.returncode == 0, explain(run)
    assert f"numspec contract: PASSED ({provider} webhooks at" in run.stdout, explain(run)
    assert junit.is_file() and "<testsuite" in junit.read_text(encoding="utf-8")
    # Requests went to the receiver's own URLs, not to the derived document's paths.
    assert f"-{provider}-" not in run.stdout and "Reproduce" not in run.stdout


def _against(name: str) -> subprocess.CompletedProcess[str]:
    provider = MUTANTS[name].provider
    with serve(create_app(name), probe="/nothing") as base:
        return webhooks(provider, *receiver_args(provider, base), *QUICK, *MUTANTS[name].options)


def test_every_mutant_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    escaped, wrong_check = [], []
    with ThreadPoolExecutor(max_workers=2) as pool:  # each run waits on its child most of the time
        runs = dict(zip(MUTANTS, pool.map(_against, MUTANTS), strict=True))
    for name, run in runs.items():
        mutant = MUTANTS[name]
        if run.returncode != 1:
            escaped.append(f"{name} ({mutant.fault}): {explain(run)}")
        elif (f"Custom check failed: `{mutant.caught_by}`" not in run.stdout
              and f"error: {mutant.caught_by}" not in run.stdout):
            wrong_check.append(f"{name}: expected {mutant.caught_by}; {explain(run)}")
    caught = len(MUTANTS) - len(escaped)
    with capsys.disabled():
        print(f"\nreceiver mutant score: {caught}/{len(MUTANTS)} caught")
    assert not escaped, "\n\n".join(escaped)
    assert not wrong_check, "\n\n".join(wrong_check)


def test_wrong_secret_fails_every_signed_event() -> None:
    with serve(create_app(), probe="/nothing") as base:
        run = webhooks("freeclimb", *receiver_args("freeclimb", base), *QUICK,
                       "--phases", "examples", secret="not-the-receivers-secret")
    assert run.returncode == 1, explain(run)
    assert "failed 3x: Custom check failed: `event_accepted`" in run.stdout, explain(run)


def test_no_receiver_at_the_url_is_said() -> None:
    with serve(create_app(), probe="/nothing") as base:
        run = webhooks("restcomm", "--url", base + "/nowhere", *QUICK, "--phases", "examples")
    assert run.returncode == 1, explain(run)
    assert "every answer was 404 or 405" in run.stdout, explain(run)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(("args", "secret", "message"), [
    (["--provider", "freeclimb", "--url", "http://127.0.0.1:9/x"], None,
     "freeclimb signs its webhooks: give the receiver's secret with --signing-secret"),
    (["--provider", "restcomm", "--url", "http://127.0.0.1:9/x", "--signing-secret", "s"], None,
     "restcomm does not sign its webhooks"),
    (["--provider", "restcomm", "--url", "http://127.0.0.1:9/x", "--auth", "a:b"], None,
     "--auth is for testing a provider's server, not a webhook receiver"),
    (["--provider", "restcomm", "--url", "http://127.0.0.1:9/x", "--event-path", "ring=/r"], None,
     "--event-path: no event 'ring' (choose from inboundCall, inboundSms, statusCallback)"),
    (["--provider", "restcomm", "--url", "http://127.0.0.1:9/x", "--phases", "stateful"], None,
     "webhooks have no links, so no stateful phase"),
    (["--provider", "restcomm", "--url", "ftp://127.0.0.1/x"], None,
     "--url must be an http:// or https:// URL"),
    (["--provider", "freeclimb", "--url", "http://127.0.0.1:{port}/x"], SECRET, "cannot reach"),
])
def test_bad_input_is_one_clear_line(args: list[str], secret: str | None, message: str) -> None:
    args = [a.replace("{port}", str(_closed_port())) for a in args]
    run = webhooks(args[1], *args[2:], secret=secret, timeout=60)
    assert run.returncode == 2, explain(run)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], explain(run)
    assert "Traceback" not in run.stdout + run.stderr


def test_secret_never_reaches_the_schemathesis_command_line(tmp_path: Path) -> None:
    """The secret travels in the child's environment only (a `ps` listing shows no secret)."""
    seen = tmp_path / "argv.json"
    wrapper = tmp_path / "sitecustomize.py"
    wrapper.write_text(
        "import json, os, sys\n"
        f"if 'schemathesis.cli' in ' '.join(sys.argv) or sys.argv[0].endswith('-m'):\n"
        f"    open({str(seen)!r}, 'a').write(json.dumps(sys.argv) + '\\n')\n",
        encoding="utf-8")
    env = _environment()
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    env["NUMSPEC_SIGNING_SECRET"] = SECRET
    with serve(create_app(), probe="/nothing") as base:
        command = [*numspec_command(), "contract", "--webhooks", "--provider", "freeclimb",
                   *receiver_args("freeclimb", base), *QUICK, "--phases", "examples"]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600, check=False)
    assert run.returncode == 0, explain(run)
    argvs = [json.loads(line) for line in seen.read_text(encoding="utf-8").splitlines()]
    assert argvs and not any(SECRET in " ".join(argv) for argv in argvs)
