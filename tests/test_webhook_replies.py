"""The shared pieces of webhook delivery: reply checks (RCML, PerCL) and signatures."""

from __future__ import annotations

import pytest
from numspec.generated.runtime import sign_webhook, webhook_signature_problem
from numspec.generator.replies import check_percl, check_rcml


@pytest.mark.parametrize("body, verbs", [
    (b"", ()),
    (b"  \n", ()),
    (b"<Response><Say>Hi</Say><Hangup/></Response>", ("Say", "Hangup")),
    (b"<?xml version='1.0'?><Response><Gather numDigits='1'><Say>Press 1</Say></Gather></Response>", ("Gather",)),
    (b"<Response><Dial><Number>+13125550100</Number></Dial></Response>", ("Dial",)),
])
def test_rcml_accepted(body: bytes, verbs: tuple[str, ...]) -> None:
    check = check_rcml(body)
    assert check.ok, check.problem
    assert check.verbs == verbs


@pytest.mark.parametrize("body, problem", [
    (b"<Response><Say>Hi</Response>", "not well-formed"),
    (b"<Reply><Say>Hi</Say></Reply>", "<Reply>"),
    (b"<Response><Speak>Hi</Speak></Response>", "<Speak> is not a Restcomm verb"),
    (b"<Response><Say><Number>1</Number></Say></Response>", "cannot be inside <Say>"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Response><Say>&a;</Say></Response>', "DOCTYPE"),
])
def test_rcml_refused(body: bytes, problem: str) -> None:
    check = check_rcml(body)
    assert not check.ok
    assert problem in (check.problem or "")


def test_percl_accepted() -> None:
    check = check_percl(b'[{"Say": {"text": "Hi"}}, {"Hangup": {}}]')
    assert check.ok and check.verbs == ("Say", "Hangup")
    assert check_percl(b"[]").ok


@pytest.mark.parametrize("body, problem", [
    (b"[{", "not JSON"),
    (b'{"Say": {"text": "Hi"}}', "array"),
    (b'[{"Say": {"text": "Hi"}, "Hangup": {}}]', "exactly one key"),
    (b'[{"Speak": {"text": "Hi"}}]', "'Speak' is not a PerCL command"),
    (b'[{"Say": "Hi"}]', "not an object"),
])
def test_percl_refused(body: bytes, problem: str) -> None:
    check = check_percl(body)
    assert not check.ok
    assert problem in (check.problem or "")


def test_signature_round_trip_rotation_and_tolerance() -> None:
    body = b'{"requestType": "inboundCall"}'
    header = sign_webhook("secret-a", body, timestamp=1_000)
    assert header.startswith("t=1000,v1=") and len(header.split("v1=")[1]) == 64
    assert webhook_signature_problem(header, body, ["secret-a"], 300, now=1_100) is None
    # A rotation: two v1 values, either secret works.
    rotated = header + "," + sign_webhook("secret-b", body, timestamp=1_000).split(",")[1]
    assert webhook_signature_problem(rotated, body, ["secret-b"], 300, now=1_000) is None
    assert webhook_signature_problem(header, body + b" ", ["secret-a"], 300, now=1_000) == "signature does not match"
    assert webhook_signature_problem(header, body, ["secret-b"], 300, now=1_000) == "signature does not match"
    assert "tolerance" in (webhook_signature_problem(header, body, ["secret-a"], 300, now=1_301) or "")
    assert webhook_signature_problem(None, body, ["secret-a"], 300) == "no signature"
    assert webhook_signature_problem("v1=ab", body, ["secret-a"], 300) == "signature has no t= or no v1="
