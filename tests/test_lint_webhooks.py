"""`numspec lint` over the contract's `webhooks`: a copy of the real spec with one fault
planted each time, located in the provider file the author edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from numspec.generator import cli

SPEC = Path(__file__).resolve().parent.parent / "spec"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    dest = tmp_path / "spec"
    shutil.copytree(SPEC, dest)
    return dest


def plant(spec: Path, file: str, old: str, new: str) -> None:
    path = spec / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def findings(spec: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    # --strict: webhook rules and example checks are warnings, the bar for our own contract.
    code = cli.main(["lint", str(spec / "openapi.yaml"), "--quiet", "--strict"])
    err = capsys.readouterr().err
    assert code == 1, err
    return [line for line in err.splitlines() if line.startswith(("error:", "warning:"))]


def found(lines: list[str], file: str, pointer: str, *words: str) -> bool:
    return any(f"{file} {pointer}:" in line and all(w in line for w in words) for line in lines)


def test_the_real_webhooks_lint_clean(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lint", str(spec / "openapi.yaml"), "--quiet", "--strict"]) == 0, \
        capsys.readouterr().err


def test_a_webhook_example_must_match_its_schema(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Restcomm sends the text "null", never an empty CallerName.
    plant(spec, "restcomm.yaml", "        CallerName: 'null'\n        ForwardedFrom: 'null'\n"
          "        CallTimestamp: '2026-12-02T15:52:01.000Z'\n    RestcommSmsEventValue:",
          "        CallerName: ''\n        ForwardedFrom: 'null'\n"
          "        CallTimestamp: '2026-12-02T15:52:01.000Z'\n    RestcommSmsEventValue:")
    lines = findings(spec, capsys)
    assert found(lines, "restcomm.yaml", "/components/examples/RestcommCallEventValue/value/CallerName",
                 "example does not match"), lines


def test_the_payload_a_provider_always_sends_is_required(
        spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "freeclimb.yaml", "        - $ref: '#/components/parameters/FreeClimbSignature'\n"
          "      requestBody:\n        required: true\n        content:\n          application/json:\n"
          "            schema: {$ref: '#/components/schemas/MessageDeliveryEvent'}",
          "        - $ref: '#/components/parameters/FreeClimbSignature'\n"
          "      requestBody:\n        content:\n          application/json:\n"
          "            schema: {$ref: '#/components/schemas/MessageDeliveryEvent'}")
    plant(spec, "restcomm.yaml", "      required: [SmsSid, AccountSid, From, To, Body]\n", "")
    plant(spec, "restcomm.yaml", "    RestcommCallEventQuery:\n      name: event\n      in: query\n"
          "      required: true\n", "    RestcommCallEventQuery:\n      name: event\n      in: query\n")
    lines = findings(spec, capsys)
    assert found(lines, "freeclimb.yaml", "/webhooks/messageDelivery/post/requestBody",
                 "always sends its body"), lines
    assert found(lines, "restcomm.yaml", "/webhooks/inboundSms/post/requestBody/content/"
                 "application~1x-www-form-urlencoded", "names no field"), lines
    assert found(lines, "restcomm.yaml", "/webhooks/statusCallback/get/parameters/1",
                 "query payload is always sent"), lines


def test_each_webhook_names_its_provider_and_an_id_of_its_own(
        spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "freeclimb.yaml", "      operationId: freeclimb-call-status\n      tags: [freeclimb]\n",
          "      operationId: get-an-application\n      tags: [freeclimb, restcomm]\n")
    plant(spec, "restcomm.yaml", "      operationId: restcomm-inbound-sms-get\n      tags: [restcomm]\n",
          "      operationId: restcomm-inbound-sms-get\n")
    lines = findings(spec, capsys)
    assert found(lines, "freeclimb.yaml", "/webhooks/callStatus/post/tags", "exactly one provider tag")
    assert found(lines, "freeclimb.yaml", "/webhooks/callStatus/post", "operationId of its own"), lines
    assert found(lines, "restcomm.yaml", "/webhooks/inboundSms/get/tags", "exactly one provider tag")


def test_a_webhook_documents_its_answer(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "freeclimb.yaml", "      responses:\n        '200':\n          description: The PerCL script",
          "      responses:\n        '500':\n          description: The PerCL script")
    lines = findings(spec, capsys)
    assert found(lines, "freeclimb.yaml", "/webhooks/inboundCall/post/responses", "no 2xx"), lines
