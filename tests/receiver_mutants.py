"""Webhook receivers for `numspec contract --webhooks`: a correct one, and mutants with one fault each.

The correct receiver is what a careful user would write by hand (Starlette, no numspec code but
the signature helper): FreeClimb's events all at one URL, told apart by `requestType`, signatures
checked with a 300 s tolerance; Restcomm's at /voice, /sms and /status, POST form or GET query,
`CallerName` / `ForwardedFrom` read as absent when they are the text `null`. Bad input gets a
4xx, never a 500. tests/test_contract_webhooks.py shows the correct one passes and every mutant
fails, named by the check that should catch it.

    app = create_app("fc-ignores-signature")   # None: the correct receiver
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from numspec.generated.runtime import webhook_signature_problem
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Provider = Literal["freeclimb", "restcomm"]
SECRET = "numspec-test-signing-secret"
TOLERANCE_S = 300.0
SLOW_S = 3.0  # the slow mutant's delay; tests run it with --request-timeout 2
FREECLIMB_PATH = "/freeclimb"
RESTCOMM_PATHS = {"inboundCall": "/restcomm/voice", "inboundSms": "/restcomm/sms",
                  "statusCallback": "/restcomm/status"}
MESSAGE_KEYS = frozenset({"requestType", "accountId", "from", "to", "text", "direction",
                          "applicationId", "status", "phoneNumberId", "uri"})
GREETING = [{"Say": {"text": "Thanks for calling."}}, {"Hangup": {}}]
RCML_CALL = b"<Response><Say>Thanks for calling.</Say><Hangup/></Response>"
RCML_FORWARDED = (b"<Response><Say>Thanks for calling.</Say><Say>You were forwarded.</Say>"
                  b"<Hangup/></Response>")
RCML_SMS = b"<Response><Sms>Thanks, we will call you back.</Sms></Response>"
XML = "application/xml"


@dataclass(frozen=True)
class Mutant:
    provider: Provider
    fault: str
    caught_by: str  # the check whose failure names it ("Network Error": no answer in time)
    options: tuple[str, ...] = ()  # the run's own options for this one


MUTANTS = {
    "fc-ignores-signature": Mutant("freeclimb", "never checks FreeClimb-Signature",
                                   "signature_enforced"),
    "fc-accepts-stale": Mutant("freeclimb", "checks the HMAC but not how old `t` is",
                               "signature_enforced"),
    "fc-signature-shape-only": Mutant("freeclimb", "accepts any header shaped t=..,v1=<64 hex>",
                                      "signature_enforced"),
    "fc-null-conference-crash": Mutant("freeclimb", "takes conferenceId for text: 500 on null",
                                       "event_accepted"),
    "fc-percl-object": Mutant("freeclimb", "answers one PerCL command, not an array",
                              "reply_runs"),
    "fc-percl-as-text": Mutant("freeclimb", "answers PerCL as text/plain", "reply_runs"),
    "fc-unknown-command": Mutant("freeclimb", "answers a command PerCL does not have",
                                 "reply_runs"),
    "fc-slow-call": Mutant("freeclimb", "answers inboundCall after 3 s, past the run's 2 s "
                           "(FreeClimb would have given up)", "Network Error",
                           ("--request-timeout", "2", "--phases", "examples")),
    "fc-status-refused": Mutant("freeclimb", "answers callStatus with 400", "event_accepted"),
    "fc-refuses-new-keys": Mutant("freeclimb", "refuses a messageDelivery with keys it does not "
                                  "know (FreeClimb adds keys, e.g. messageId)", "event_accepted"),
    "rc-null-callername-crash": Mutant("restcomm", "reads CallerName=null as no value, then "
                                       "uses it as text: 500", "event_accepted"),
    "rc-null-forwarded-crash": Mutant("restcomm", "reads ForwardedFrom=null as no value, then "
                                      "uses it as text: 500", "event_accepted"),
    "rc-malformed-rcml": Mutant("restcomm", "answers RCML with an unclosed element", "reply_runs"),
    "rc-rcml-as-html": Mutant("restcomm", "answers RCML as text/html", "reply_runs"),
    "rc-unknown-verb": Mutant("restcomm", "answers a verb RCML does not have", "reply_runs"),
    "rc-get-500": Mutant("restcomm", "500 on the GET variant of the voice request",
                         "event_accepted"),
    "rc-sms-empty-crash": Mutant("restcomm", "500 on a message with an empty Body",
                                 "event_accepted"),
    "rc-no-status-route": Mutant("restcomm", "has no route for the status callback (404)",
                                 "event_accepted"),
    "rc-refuses-charset-header": Mutant("restcomm", "refuses requests with a header it does not "
                                        "know (Restcomm's http.protocol.content-charset)",
                                        "event_accepted"),
}

_NULL_AS_JSON = {"null": None}


def _decoded(text: str) -> Any:
    """What the null-crash mutants do: read the text `null` as JSON would."""
    return _NULL_AS_JSON.get(text, text)


def _refuse(status: int, why: str) -> Response:
    return JSONResponse({"error": why}, status_code=status)


def _freeclimb(mutant: str | None) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("FreeClimb-Signature")
        if mutant == "fc-signature-shape-only":
            if not re.fullmatch(r"t=[0-9]+(,v1=[0-9a-f]{64})+", header or ""):
                return _refuse(401, "no signature")
        elif mutant != "fc-ignores-signature":
            tolerance = float("inf") if mutant == "fc-accepts-stale" else TOLERANCE_S
            problem = webhook_signature_problem(header, body, [SECRET], tolerance)
            if problem:
                return _refuse(401, problem)
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "the body is not JSON")
        if not isinstance(event, dict) or not isinstance(event.get("requestType"), str):
            return _refuse(400, "not an event")
        kind = event["requestType"]
        if kind == "inboundCall":
            if mutant == "fc-slow-call":
                await asyncio.sleep(SLOW_S)
            if mutant == "fc-null-conference-crash":
                event["conferenceId"].startswith("CF")  # the fault: null is allowed
            if mutant == "fc-percl-object":
                return JSONResponse(GREETING[0])
            if mutant == "fc-percl-as-text":
                return Response(json.dumps(GREETING), media_type="text/plain")
            if mutant == "fc-unknown-command":
                return JSONResponse([{"Speak": {"text": "Thanks for calling."}}])
            return JSONResponse(GREETING)
        if (kind == "messageDelivery" and mutant == "fc-refuses-new-keys"
                and not event.keys() <= MESSAGE_KEYS):
            return _refuse(400, "unknown keys")
        if kind == "callStatus" and mutant == "fc-status-refused":
            return _refuse(400, "unexpected event")
        return Response(status_code=204)  # messageDelivery, callStatus, events we do not use

    return receive


async def _fields(request: Request, mutant: str | None) -> dict[str, str] | Response:
    """A Restcomm event's fields: the query of a GET, the UTF-8 form of a POST."""
    if mutant == "rc-refuses-charset-header" and "http.protocol.content-charset" in request.headers:
        return _refuse(400, "unexpected header")
    if request.method == "GET":
        return dict(request.query_params)
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return _refuse(400, "the form is not UTF-8")
    return dict(parse_qsl(text, keep_blank_values=True))


def _missing(fields: dict[str, str], names: tuple[str, ...]) -> Response | None:
    absent = [name for name in names if name not in fields]
    return _refuse(400, f"missing {', '.join(absent)}") if absent else None


def _restcomm_voice(mutant: str | None) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        if mutant == "rc-get-500" and request.method == "GET":
            return Response("internal error", status_code=500)
        fields = await _fields(request, mutant)
        if isinstance(fields, Response):
            return fields
        refused = _missing(fields, ("CallSid", "From", "To", "CallerName", "ForwardedFrom"))
        if refused:
            return refused
        if mutant == "rc-null-callername-crash":
            _decoded(fields["CallerName"]).strip()
        if mutant == "rc-null-forwarded-crash":
            _decoded(fields["ForwardedFrom"]).strip()
        forwarded = fields["ForwardedFrom"] != "null"  # the text null: not forwarded
        reply = RCML_FORWARDED if forwarded else RCML_CALL
        if mutant == "rc-malformed-rcml":
            reply = b"<Response><Say>Thanks for calling.</Response>"
        if mutant == "rc-unknown-verb":
            reply = b"<Response><Speak>Thanks for calling.</Speak></Response>"
        media = "text/html" if mutant == "rc-rcml-as-html" else XML
        return Response(reply, media_type=media)

    return receive


def _restcomm_sms(mutant: str | None) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        fields = await _fields(request, mutant)
        if isinstance(fields, Response):
            return fields
        refused = _missing(fields, ("SmsSid", "From", "To", "Body"))
        if refused:
            return refused
        if mutant == "rc-sms-empty-crash":
            fields["Body"][0]  # the fault: an empty message is a message
        return Response(RCML_SMS, media_type=XML)

    return receive


def _restcomm_status(mutant: str | None) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        fields = await _fields(request, mutant)
        if isinstance(fields, Response):
            return fields
        refused = _missing(fields, ("CallSid", "CallStatus"))
        return refused or Response(status_code=204)

    return receive


def create_app(mutant: str | None = None) -> Starlette:
    """The correct receiver (None), or the named mutant; both providers in one app."""
    if mutant is not None and mutant not in MUTANTS:
        raise KeyError(f"no receiver mutant {mutant!r}")
    both = ["GET", "POST"]
    routes = [
        Route(FREECLIMB_PATH, _freeclimb(mutant), methods=["POST"]),
        Route(RESTCOMM_PATHS["inboundCall"], _restcomm_voice(mutant), methods=both),
        Route(RESTCOMM_PATHS["inboundSms"], _restcomm_sms(mutant), methods=both),
    ]
    if mutant != "rc-no-status-route":
        routes.append(Route(RESTCOMM_PATHS["statusCallback"], _restcomm_status(mutant),
                            methods=both))
    return Starlette(routes=routes)
