"""Generated webhook receivers (generated/<provider>/receiver.py), over real HTTP on loopback.

The apps in tests/webhook_apps.py are built on the committed generated receivers and served by
uvicorn on port 0. FreeClimb events are sent signed, badly signed, stale and unsigned; Restcomm
events as a POST form and as a GET query, with the literal `null` Restcomm sends for a missing
caller name. Replies must pass the same RCML / PerCL checks the emulator applies. A third-party
3.1 fixture (tests/fixtures/thirdparty/webhooks31.yaml) shows the generator is not tied to our
contract: its receivers pass ruff and mypy --strict (with a typed handler module) and receive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from numspec.generated.freeclimb import models as fc_models
from numspec.generated.freeclimb import receiver as fc_receiver
from numspec.generated.restcomm import models as rc_models
from numspec.generated.restcomm import receiver as rc_receiver
from numspec.generated.runtime import sign_webhook
from numspec.generator.replies import check_percl, check_rcml

from tests import webhook_apps
from tests.loopback_server import serve
from tests.test_generate_thirdparty import BIN, FIXTURES, ROOT, load, run

CONTRACT = json.loads((ROOT / "generated" / "openapi.json").read_text(encoding="utf-8"))
SECRET = webhook_apps.FREECLIMB_SECRET
FC = "/hooks/freeclimb"
RC = "/hooks/restcomm"


def example(webhook: str, method: str = "post") -> dict[str, Any]:
    """The first example payload the contract gives for a webhook ($refs followed)."""
    content = CONTRACT["webhooks"][webhook][method]["requestBody"]["content"]
    value = next(iter(next(iter(content.values()))["examples"].values()))
    while "$ref" in value:
        value = CONTRACT["components"]["examples"][value["$ref"].rsplit("/", 1)[1]]
    return dict(value["value"])


INBOUND_CALL = example("freeclimb-inboundCall")
RESTCOMM_CALL = example("restcomm-inboundCall")


@pytest.fixture(scope="module")
def freeclimb() -> Iterator[tuple[str, webhook_apps.Seen]]:
    seen = webhook_apps.Seen()
    with serve(webhook_apps.freeclimb_app(seen)) as base:
        yield base + FC, seen


@pytest.fixture(scope="module")
def restcomm() -> Iterator[tuple[str, webhook_apps.Seen]]:
    seen = webhook_apps.Seen()
    with serve(webhook_apps.restcomm_app(seen)) as base:
        yield base + RC, seen


def post_signed(url: str, payload: Any, signature: str | None = "good",
                body: bytes | None = None) -> httpx.Response:
    raw = body if body is not None else json.dumps(payload).encode()
    header = sign_webhook(SECRET, raw) if signature == "good" else signature
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["FreeClimb-Signature"] = header
    return httpx.post(url, content=raw, headers=headers, timeout=10)


# -- FreeClimb: signatures ------------------------------------------------------------------

def test_freeclimb_signed_inbound_call_gets_valid_percl(freeclimb: tuple[str, webhook_apps.Seen]) -> None:
    url, seen = freeclimb
    before = len(seen.events)
    answer = post_signed(url + "/inbound-call", INBOUND_CALL)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    verdict = check_percl(answer.content)
    assert verdict.ok, verdict.problem
    assert verdict.verbs == ("Say", "Pause", "Hangup")
    name, event = seen.events[before]
    assert name == "inbound_call" and isinstance(event, fc_models.InboundCallEvent)
    assert (event.from_, event.to, event.call_status) == (INBOUND_CALL["from"], INBOUND_CALL["to"], "ringing")
    assert event.conference_id is None and event.parent_call_id is None


@pytest.mark.parametrize(("case", "status", "says"), [
    ("unsigned", 401, "no signature"),
    ("wrong secret", 403, "does not match"),
    ("stale", 403, "outside the 300 s tolerance"),
    ("from the future", 403, "outside the 300 s tolerance"),
    ("other body", 403, "does not match"),
    ("no v1", 403, "no t= or no v1="),
])
def test_freeclimb_refuses_bad_signatures(freeclimb: tuple[str, webhook_apps.Seen], case: str,
                                          status: int, says: str) -> None:
    url, seen = freeclimb
    raw = json.dumps(INBOUND_CALL).encode()
    now = int(time.time())
    header = {
        "unsigned": None,
        "wrong secret": sign_webhook("not-" + SECRET, raw),
        "stale": sign_webhook(SECRET, raw, now - 400),
        "from the future": sign_webhook(SECRET, raw, now + 400),
        "other body": sign_webhook(SECRET, raw.replace(b"ringing", b"queued")),
        "no v1": f"t={now}",
    }[case]
    before = len(seen.events)
    answer = post_signed(url + "/inbound-call", None, header, body=raw)
    assert answer.status_code == status, answer.text
    assert "FreeClimb-Signature" in answer.text and says in answer.text
    assert len(seen.events) == before, "the handler must not run for a refused event"


def test_freeclimb_accepts_a_rotated_secret_and_an_age_inside_the_tolerance(
        freeclimb: tuple[str, webhook_apps.Seen]) -> None:
    url, _ = freeclimb
    raw = json.dumps(INBOUND_CALL).encode()
    stamp = int(time.time()) - 250
    good = sign_webhook(SECRET, raw, stamp).split(",v1=")[1]
    header = f"t={stamp},v1={'0' * 64},v1={good}"  # an old secret's v1 first, as in a rotation
    assert post_signed(url + "/inbound-call", None, header, body=raw).status_code == 200


def test_freeclimb_keys_a_later_version_adds_are_accepted(freeclimb: tuple[str, webhook_apps.Seen]) -> None:
    url, seen = freeclimb
    answer = post_signed(url + "/inbound-call", {**INBOUND_CALL, "callerName": "Ann", "extra": {"a": 1}})
    assert answer.status_code == 200, answer.text
    assert seen.events[-1][1].call_id == INBOUND_CALL["callId"]


def test_freeclimb_notifications_are_received(freeclimb: tuple[str, webhook_apps.Seen]) -> None:
    url, seen = freeclimb
    for path, webhook, model in (
            ("/message-delivery", "freeclimb-messageDelivery", fc_models.MessageDeliveryEvent),
            ("/call-status", "freeclimb-callStatus", fc_models.CallStatusEvent)):
        payload = example(webhook)
        answer = post_signed(url + path, payload)
        assert answer.status_code == 204, answer.text
        assert answer.content == b""
        assert isinstance(seen.events[-1][1], model)
    assert seen.events[-1][1].call_ended_reason == "farEndHangup"


@pytest.mark.parametrize(("body", "content_type", "status", "says"), [
    (b"{not json", "application/json", 400, "not valid JSON"),
    (json.dumps({**INBOUND_CALL, "callId": "nope"}).encode(), "application/json", 400, "callId"),
    (json.dumps({k: v for k, v in INBOUND_CALL.items() if k != "to"}).encode(), "application/json",
     400, "to: Field required"),
    (json.dumps(INBOUND_CALL).encode(), "text/plain", 415, "application/json"),
])
def test_freeclimb_refuses_malformed_events_with_a_clear_line(
        freeclimb: tuple[str, webhook_apps.Seen], body: bytes, content_type: str, status: int,
        says: str) -> None:
    url, _ = freeclimb
    answer = httpx.post(url + "/inbound-call", content=body, timeout=10, headers={
        "content-type": content_type, "FreeClimb-Signature": sign_webhook(SECRET, body)})
    assert answer.status_code == status
    assert says in answer.text and answer.text.count("\n") == 1
    if status == 400 and says != "not valid JSON":
        assert "freeclimb-inboundCall" in answer.text


# -- Restcomm: POST form and GET query ------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "GET"])
def test_restcomm_inbound_call_both_encodings_with_literal_null(
        restcomm: tuple[str, webhook_apps.Seen], method: str) -> None:
    url, seen = restcomm
    fields = {**RESTCOMM_CALL, "CallerName": "null", "ForwardedFrom": "null"}
    headers = {"http.protocol.content-charset": "UTF-8"}
    if method == "POST":
        answer = httpx.post(url + "/inbound-call", data=fields, headers=headers, timeout=10)
    else:
        answer = httpx.get(url + "/inbound-call", params=fields, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/xml"
    verdict = check_rcml(answer.content)
    assert verdict.ok and verdict.verbs == ("Say", "Hangup"), verdict
    assert b"<Say>Thanks for calling numspec.</Say>" in answer.content  # "null" is no name
    name, event = seen.events[-1]
    assert name == "inbound_call" and isinstance(event, rc_models.RestcommCallEvent)
    assert event.caller_name == "null" and event.forwarded_from == "null"
    assert event.call_sid == RESTCOMM_CALL["CallSid"]


def test_restcomm_form_is_utf8_and_extra_sip_headers_pass(restcomm: tuple[str, webhook_apps.Seen]) -> None:
    url, seen = restcomm
    body = {**RESTCOMM_CALL, "CallerName": "Zoë <&>", "SipHeader_X-Trace": "abc"}
    answer = httpx.post(url + "/inbound-call", data=body, timeout=10)
    assert answer.status_code == 200, answer.text
    assert check_rcml(answer.content).ok  # the name is escaped in the XML
    assert "Zoë &lt;&amp;&gt;" in answer.content.decode("utf-8")
    assert seen.events[-1][1].caller_name == "Zoë <&>"


def test_restcomm_sms_reply_and_status_callbacks(restcomm: tuple[str, webhook_apps.Seen]) -> None:
    url, seen = restcomm
    sms = example("restcomm-inboundSms")
    answer = httpx.get(url + "/inbound-sms", params=sms, timeout=10)
    assert answer.status_code == 200 and check_rcml(answer.content).verbs == ("Sms",)
    assert isinstance(seen.events[-1][1], rc_models.RestcommSmsEvent)
    completed = example("restcomm-statusCallback")
    for send in (httpx.post, httpx.get):
        key = "data" if send is httpx.post else "params"
        answer = send(url + "/status-callback", timeout=10, **{key: completed})  # type: ignore[operator]
        assert answer.status_code == 204, answer.text
        assert seen.events[-1][0] == "status_callback"
        assert seen.events[-1][1].call_status == "completed"


def test_restcomm_refusals(restcomm: tuple[str, webhook_apps.Seen]) -> None:
    url, seen = restcomm
    before = len(seen.events)
    missing = {k: v for k, v in RESTCOMM_CALL.items() if k != "CallSid"}
    answer = httpx.get(url + "/inbound-call", params=missing, timeout=10)
    assert answer.status_code == 400
    assert answer.text == "invalid restcomm-inboundCall event: CallSid: Field required\n"
    answer = httpx.post(url + "/inbound-call", json=RESTCOMM_CALL, timeout=10)
    assert answer.status_code == 415 and "x-www-form-urlencoded" in answer.text
    answer = httpx.put(url + "/inbound-call", data=RESTCOMM_CALL, timeout=10)
    assert answer.status_code == 405
    answer = httpx.post(url + "/inbound-call", content=b"CallerName=%FF",
                        headers={"content-type": "application/x-www-form-urlencoded"}, timeout=10)
    assert answer.status_code == 400
    assert len(seen.events) == before


# -- create_receiver options ----------------------------------------------------------------

def test_signed_receiver_needs_secrets_unless_told_not_to_check() -> None:
    handler = webhook_apps.FreeClimbApp(webhook_apps.Seen())
    with pytest.raises(ValueError, match="signed: pass signing_secrets"):
        fc_receiver.create_receiver(handler)
    with pytest.raises(ValueError, match="non-empty"):
        fc_receiver.create_receiver(handler, signing_secrets=[""])
    with pytest.raises(ValueError, match="no event 'inboundCall'"):
        fc_receiver.create_receiver(handler, signing_secrets=SECRET, paths={"inboundCall": "/x"})
    with pytest.raises(ValueError, match="share a path"):
        fc_receiver.create_receiver(handler, signing_secrets=SECRET, paths={"inbound_call": "/call-status"})


def test_chosen_paths_unchecked_signatures_and_body_limit() -> None:
    seen = webhook_apps.Seen()
    app = FastAPI()
    app.include_router(fc_receiver.create_receiver(
        webhook_apps.FreeClimbApp(seen), verify_signatures=False,
        paths={"inbound_call": "/voice"}, body_limit=2000))
    app.include_router(rc_receiver.create_receiver(
        webhook_apps.RestcommApp(seen), paths={"inbound_call": "/rc-voice"}), prefix="/rc")
    with serve(app, probe="/voice") as base:
        assert post_signed(base + "/voice", INBOUND_CALL, signature=None).status_code == 200
        assert httpx.post(base + "/inbound-call", json=INBOUND_CALL).status_code == 404
        big = {**INBOUND_CALL, "from": "+1" * 1500}
        answer = post_signed(base + "/voice", big, signature=None)
        assert answer.status_code == 413 and "2000 bytes" in answer.text
        assert httpx.post(base + "/rc/rc-voice", data=RESTCOMM_CALL).status_code == 200


def test_handler_reply_is_checked_against_the_reply_schema() -> None:
    """A handler may return plain JSON; it is validated against the contract's PerCL schema."""
    class Plain(webhook_apps.FreeClimbApp):
        def inbound_call(self, event: fc_models.InboundCallEvent,  # type: ignore[override]
                         request: Any) -> fc_receiver.InboundCallReply:
            return [{"Say": {"text": "plain"}}, {"Hangup": {}}]

    app = FastAPI()
    app.include_router(fc_receiver.create_receiver(Plain(webhook_apps.Seen()), signing_secrets=SECRET))
    with serve(app, probe="/docs") as base:
        answer = post_signed(base + "/inbound-call", INBOUND_CALL)
        assert answer.status_code == 200 and check_percl(answer.content).verbs == ("Say", "Hangup")
        assert answer.json() == [{"Say": {"text": "plain"}}, {"Hangup": {}}]


# -- reply builders -------------------------------------------------------------------------

def test_rcml_builder_covers_every_verb_and_passes_the_check() -> None:
    reply = (rc_receiver.Rcml().say("Hi & bye").play("http://127.0.0.1/a.wav").pause(length=2)
             .gather(action="/digits", num_digits=4, say="Your PIN?").dial("+13125550100")
             .record(action="/rec").redirect("/next").reject().hangup().sms("Sorry <3"))
    verdict = check_rcml(reply.render())
    assert verdict.ok, verdict.problem
    assert verdict.verbs == ("Say", "Play", "Pause", "Gather", "Dial", "Record", "Redirect",
                             "Reject", "Hangup", "Sms")
    text = reply.render().decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    assert '<Gather action="/digits" numDigits="4"><Say>Your PIN?</Say></Gather>' in text
    assert '<Pause length="2" />' in text and "Hi &amp; bye" in text
    assert check_rcml(rc_receiver.Rcml().render()).verbs == ()


def test_percl_builder_covers_every_command_and_passes_the_check() -> None:
    script = (fc_receiver.PerclScript().say("Hello", loop=2).play("http://127.0.0.1/a.wav")
              .pause(300).get_digits("http://127.0.0.1/digits", max_digits=4,
                                     prompts=[{"Say": {"text": "PIN?"}}])
              .redirect("http://127.0.0.1/next").reject(reason="busy").hangup())
    verdict = check_percl(script.render())
    assert verdict.ok, verdict.problem
    assert verdict.verbs == ("Say", "Play", "Pause", "GetDigits", "Redirect", "Reject", "Hangup")
    commands = json.loads(script.render())
    assert commands[0] == {"Say": {"text": "Hello", "loop": 2}}
    assert commands[3]["GetDigits"] == {"actionUrl": "http://127.0.0.1/digits", "maxDigits": 4,
                                        "prompts": [{"Say": {"text": "PIN?"}}]}
    assert commands[-1] == {"Hangup": {}}  # unset options are left out, not sent as null
    fc_models.PerclScript.model_validate(commands)  # and it fits the contract's schema


# -- a document that is not ours ------------------------------------------------------------

TYPED_HANDLER = '''\
"""A user's handlers, type-checked against the generated Protocol (sync and async)."""

from starlette.requests import Request

from {pkg}.parcels import models, receiver


class Parcels:
    async def parcel_scanned(self, event: models.ScanEvent,
                             request: Request) -> receiver.ParcelScannedReply:
        return models.ParcelScannedResponse200(hold=event.depot == "ORD", note="checked")

    def parcel_delivered(self, event: models.ParcelDeliveredEvent, request: Request) -> None:
        SEEN.append(event)


SEEN: list[models.ParcelDeliveredEvent] = []
ROUTER = receiver.create_receiver(Parcels(), signing_secrets=["s3cret"], tolerance_s=60)
'''


@pytest.fixture(scope="module")
def parcels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parcels") / "parcels_gen"
    result = run(BIN / "numspec", "generate", "--spec", FIXTURES / "webhooks31.yaml", "--out", out)
    assert result.returncode == 0, result.stderr
    assert ("skipped POST webhook manifestUploaded (manifestUploaded): only JSON and form "
            "bodies can be received") in result.stderr
    (out.parent / "parcels_user.py").write_text(TYPED_HANDLER.format(pkg=out.name), encoding="utf-8")
    return out


def test_other_document_receivers_pass_ruff_and_mypy_strict(parcels: Path) -> None:
    assert (parcels / "receiving.py").is_file()
    assert sorted(p.name for p in (parcels / "billing_events").iterdir() if p.suffix == ".py") == [
        "__init__.py", "models.py", "receiver.py"]  # webhooks only: no client, no stubs
    ruff = run(BIN / "ruff", "check", "--no-cache", "--config", ROOT / "pyproject.toml", parcels)
    assert ruff.returncode == 0, ruff.stdout
    mypy = run(BIN / "mypy", "--strict", "--no-incremental", parcels.name, "parcels_user.py",
               cwd=parcels.parent)
    assert mypy.returncode == 0, mypy.stdout


def test_other_document_receives_json_form_query_and_signed(parcels: Path) -> None:
    import sys
    sys.path.insert(0, str(parcels.parent))
    try:
        import parcels_user  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(parcels.parent))
    billing = load(parcels, "billing_events.receiver")["billing_events.receiver"]
    invoices: list[Any] = []

    class Billing:
        def invoice_issued(self, event: Any, request: Any) -> None:
            invoices.append(event)

    app = FastAPI()
    app.include_router(parcels_user.ROUTER)
    app.include_router(billing.create_receiver(Billing()))
    with serve(app, probe="/docs") as base:
        scan = {"parcelId": "P000123", "depot": "ORD", "at": 1767225600, "weightGrams": None}
        answer = httpx.post(base + "/parcel-scanned", json=scan, headers={"X-Depot": "ORD"})
        assert answer.status_code == 200 and answer.json() == {"hold": True, "note": "checked"}
        assert httpx.post(base + "/parcel-scanned", json={**scan, "at": "soon"}).status_code == 400
        form = b"parcelId=P000123&signedBy=Ann&pieces=2"
        signed = {"content-type": "application/x-www-form-urlencoded",
                  "Parcel-Signature": sign_webhook("s3cret", form)}
        assert httpx.post(base + "/parcel-delivered", content=form, headers=signed).status_code == 204
        assert parcels_user.SEEN[-1].pieces == 2 and parcels_user.SEEN[-1].signed_by == "Ann"
        unsigned = {"content-type": "application/x-www-form-urlencoded"}
        assert httpx.post(base + "/parcel-delivered", content=form, headers=unsigned).status_code == 401
        query = {"parcelId": "P000124", "signedBy": "Bo"}
        answer = httpx.get(base + "/parcel-delivered", params=query,
                           headers={"Parcel-Signature": sign_webhook("s3cret", b"")})
        assert answer.status_code == 204 and parcels_user.SEEN[-1].parcel_id == "P000124"
        answer = httpx.post(base + "/invoice-issued", json={"invoice": "I-1", "total": 12.5})
        assert answer.status_code == 204 and invoices[-1].total == 12.5
