"""The Schemathesis hooks and checks of `numspec contract --webhooks` (see contract_webhooks).

Loaded in the Schemathesis child through SCHEMATHESIS_HOOKS, never with contract_checks (whose
hooks are for a provider's server). Settings come from NUMSPEC_WEBHOOKS_* variables.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import jsonschema
import requests
import schemathesis
from numspec.generated.runtime import sign_webhook
from numspec.generator.replies import check_percl, check_rcml
from numspec.generator.specload import resolve_pointer
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SIGNATURE = "FreeClimb-Signature"
# Shown in the run's curl lines in place of a real signature: one can only be made at send time.
UNSIGNED = "t=0,v1=" + "0" * 64
STALE_AGE = 3600  # seconds: far past any sensible tolerance (the generated receivers use 300)
WRONG_SECRET = "numspec-not-the-signing-secret"
REPLY_MEDIA = {"freeclimb": ("application/json",), "restcomm": ("application/xml", "text/xml")}
DOC_URI = "urn:numspec:webhooks"


def setting(name: str) -> str:
    return os.environ.get(f"NUMSPEC_WEBHOOKS_{name.upper()}", "")


def _targets() -> dict[str, str]:
    text = setting("targets")
    return dict(json.loads(text)) if text else {}


TARGETS = _targets()
_events_lock = threading.Lock()


def _event(case: Any, status: str) -> None:
    """One line per answer for the parent's progress (the operations mode's format)."""
    path = os.environ.get("NUMSPEC_CONTRACT_EVENTS")
    if not path:
        return
    phase = case.meta.phase.name if case.meta is not None else "other"
    with _events_lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{phase} {status}\n")


class _Sign(requests.auth.AuthBase):
    """Signs the body as prepared for the wire, as the provider signs it."""

    def __init__(self, secret: str, timestamp: int | None = None) -> None:
        self.secret, self.timestamp = secret, timestamp

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[SIGNATURE] = sign_webhook(self.secret, _bytes(request.body),
                                                  self.timestamp)
        return request


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _signed(case: Any) -> bool:
    return any(isinstance(p, dict) and p.get("in") == "header" and p.get("name") == SIGNATURE
               for p in case.operation.definition.raw.get("parameters", []))


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Send to the receiver's URL for the event; sign what the provider signs."""
    target = TARGETS.get(case.operation.path)
    if target:
        kwargs["url"] = target
    if _signed(case) and setting("secret"):
        case.headers = {**(case.headers or {}), SIGNATURE: UNSIGNED}
        kwargs["auth"] = _Sign(setting("secret"))


@schemathesis.hook
def after_call(ctx: Any, case: Any, response: Any) -> None:
    _event(case, str(response.status_code))
    sent = response.request.headers.get(SIGNATURE)
    if sent and _signed(case):
        # The run's curl lines then carry the signature really sent (good for a while).
        case.headers = {**(case.headers or {}), SIGNATURE: sent}


@schemathesis.hook
def after_network_error(ctx: Any, case: Any, request: Any) -> None:
    _event(case, "no-answer")


# -- what the provider could send ----------------------------------------------------------------

_validators: dict[tuple[int, str, str], jsonschema.Draft202012Validator | None] = {}
_validators_lock = threading.Lock()


def _payload_schema(case: Any) -> tuple[dict[str, Any] | None, Any]:
    """The event's schema, and the payload the case carries (body, or the exploded query)."""
    raw = case.operation.definition.raw
    for parameter in raw.get("parameters", []):
        if isinstance(parameter, dict) and parameter.get("in") == "query":
            name = parameter.get("name")
            query = case.query or {}
            # An exploded object arrives as its own fields; Schemathesis may keep it whole.
            value = query.get(name) if isinstance(query.get(name), dict) else query
            return parameter.get("schema"), value
    body = (raw.get("requestBody") or {}).get("content") or {}
    for media in body.values():
        return media.get("schema"), case.body
    return None, None


def _validator(case: Any) -> tuple[jsonschema.Draft202012Validator | None, Any]:
    schema, payload = _payload_schema(case)
    doc = case.operation.schema.raw_schema
    key = (id(doc), case.operation.path, case.method.upper())
    with _validators_lock:
        if key not in _validators:
            if schema is None:
                _validators[key] = None
            else:
                resource: Resource[Any] = DRAFT202012.create_resource(doc)
                registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
                if "$ref" in schema and schema["$ref"].startswith("#"):
                    schema = {"$ref": DOC_URI + schema["$ref"]}
                _validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return _validators[key], payload


def _headers_sendable(case: Any) -> bool:
    """The provider's own headers as it sends them (Restcomm's charset header); the signature
    is made at send time, so whatever was generated for it does not count."""
    sent = {str(k).lower(): v for k, v in (case.headers or {}).items()}
    for parameter in case.operation.definition.raw.get("parameters", []):
        if not isinstance(parameter, dict) or parameter.get("in") != "header":
            continue
        name = str(parameter.get("name", "")).lower()
        if name == SIGNATURE.lower():
            continue
        if name not in sent:
            if parameter.get("required"):
                return False
            continue
        schema = parameter.get("schema") or {}
        if not jsonschema.Draft202012Validator(schema).is_valid(sent[name]):
            return False
    return True


def sendable(case: Any) -> bool:
    """Whether the provider could send this request: its method, its own headers, and a
    payload valid per the contract's schema."""
    if case.method.upper() != case.operation.method.upper():
        return False  # another method to the same URL: not how the provider calls
    if not _headers_sendable(case):
        return False
    validator, payload = _validator(case)
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(payload))
    except (jsonschema.exceptions.SchemaError, TypeError, ValueError):
        return False


def _media(response: Any) -> str:
    values = response.headers.get("content-type") or [""]
    return str(values[0]).split(";")[0].strip().lower()


def _reads_reply(case: Any) -> bool:
    """Whether the provider runs what this event's receiver answers (the contract gives the
    200 a body), rather than ignoring it."""
    reply = case.operation.definition.raw.get("responses", {}).get("200")
    document = case.operation.schema.raw_schema
    while isinstance(reply, dict) and "$ref" in reply:
        reply = resolve_pointer(document, reply["$ref"][1:])
    return isinstance(reply, dict) and bool(reply.get("content"))


# -- checks --------------------------------------------------------------------------------------

@schemathesis.check
def event_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """An event the provider could send gets a 2xx: anything else is a failed delivery
    (FreeClimb and Restcomm then try the fallback URL, or drop the call)."""
    if not sendable(case):
        return None
    if not 200 <= response.status_code < 300:
        raise AssertionError(f"the receiver answered {response.status_code} to an event "
                             f"{setting('provider')} could send (valid per the contract)")
    return True


@schemathesis.check
def reply_runs(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 2xx reply to an event whose reply is run (a call's script, a message's RCML) is one
    the provider can run: its media type, then well-formed RCML or PerCL of known verbs.
    Only for events the provider could send: what a receiver answers to others never runs."""
    if not 200 <= response.status_code < 300 or not _reads_reply(case) or not sendable(case):
        return None
    provider = setting("provider")
    body = response.content or b""
    if provider == "restcomm" and not body.strip():
        return True  # Restcomm does nothing on an empty answer
    media = _media(response)
    if media not in REPLY_MEDIA[provider]:
        raise AssertionError(f"the reply's Content-Type is {media or 'missing'!r}; "
                             f"{provider} reads {' or '.join(REPLY_MEDIA[provider])}")
    verdict = check_percl(body) if provider == "freeclimb" else check_rcml(body)
    if not verdict.ok:
        raise AssertionError(f"the reply cannot run: {verdict.problem}")
    return True


def _resend(response: Any, signer: _Sign | None) -> requests.Response:
    """The request just sent, same bytes, with another signature (or none)."""
    sent = response.request
    headers = {k: v for k, v in sent.headers.items() if k.lower() != SIGNATURE.lower()}
    timeout = float(setting("timeout") or 10)
    return requests.request(str(sent.method), str(sent.url), data=sent.body, headers=headers,
                            auth=signer, timeout=timeout, allow_redirects=False)


@schemathesis.check
def signature_enforced(ctx: Any, response: Any, case: Any) -> bool | None:
    """An event the receiver accepted when signed is refused (4xx) unsigned, signed with
    another secret, and signed long ago (a replay)."""
    secret = setting("secret")
    if not secret or not _signed(case) or not 200 <= response.status_code < 300:
        return None
    if not sendable(case):
        return None
    tries = (("with no FreeClimb-Signature", None),
             ("signed with another secret", _Sign(WRONG_SECRET)),
             (f"signed {STALE_AGE} s ago (a replay)", _Sign(secret, int(time.time()) - STALE_AGE)))
    for what, signer in tries:
        answer = _resend(response, signer)
        _event(case, str(answer.status_code))
        if not 400 <= answer.status_code < 500:
            raise AssertionError(f"the same event {what} was answered {answer.status_code}, "
                                 "not refused with a 4xx")
    return True
