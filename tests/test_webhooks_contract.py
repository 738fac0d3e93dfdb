"""The contract's `webhooks` against the providers' own facts: FreeClimb's signature example is
a real signature of its example body, Restcomm's payload schemas take what its Downloader puts
on the wire (and refuse what it never sends), and the per-provider tools cut them right."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from jsonschema import Draft202012Validator
from numspec.generator import contract, docs_split, specload
from referencing import Registry
from referencing.jsonschema import DRAFT202012

# FreeClimb's Ruby SDK signature test (spec/utils/signature_information_spec.rb) signs its
# example inboundCall body with this secret.
SDK_SECRET = "sigsec_ead6d3b6904196c60835d039e91b3341c77a7793"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return specload.load().document


def validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource("urn:doc", DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": f"urn:doc#/components/schemas/{name}"}, registry=registry)


def test_freeclimb_signature_example_signs_the_example_body(document: dict[str, Any]) -> None:
    hook = document["webhooks"]["freeclimb-inboundCall"]["post"]
    header = document["components"]["parameters"]["FreeClimbSignature"]["example"]
    body = hook["requestBody"]["content"]["application/json"]["examples"]["signed"]["value"]
    # The SDK's body is compact JSON with its keys in alphabetical order.
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fields = dict(part.split("=", 1) for part in header.split(",")[:1])
    signatures = [part.removeprefix("v1=") for part in header.split(",")[1:]]
    expected = hmac.new(SDK_SECRET.encode(), f"{fields['t']}.{raw}".encode(),
                        hashlib.sha256).hexdigest()
    assert expected in signatures
    # and the schema requires every key the SDK's signed body carries
    required = document["components"]["schemas"]["InboundCallEvent"]["required"]
    assert set(required) == set(body)


def restcomm_form(**overrides: str) -> dict[str, str]:
    """A voice request as Restcomm's Downloader sends it: urlencoded, parsed back as text."""
    fields = {
        "CallSid": "ID" + "a" * 32 + "-CA" + "b" * 32, "InstanceId": "ID" + "a" * 32,
        "AccountSid": "AC" + "c" * 32, "From": "alice", "To": "+13125550100",
        "CallStatus": "ringing", "ApiVersion": "2012-04-24", "Direction": "inbound",
        "CallerName": "null", "ForwardedFrom": "null",
        "CallTimestamp": "2019-01-11T17:14:04.123+02:00",
        "SipHeader_X-Customer": "42",
    }
    fields.update(overrides)
    return dict(parse_qsl(urlencode(fields), keep_blank_values=True))


def test_restcomm_call_schema_takes_the_wire_and_refuses_what_is_never_sent(
        document: dict[str, Any]) -> None:
    check = validator(document, "RestcommCallEvent")
    assert list(check.iter_errors(restcomm_form())) == []
    assert list(check.iter_errors(restcomm_form(CallTimestamp="2019-01-11T15:14:04.123Z"))) == []
    for bad in ({"CallerName": ""},  # empty is sent as the text "null"
                {"CallStatus": "in_progress"}, {"CallSid": "CA" + "b" * 32},
                {"CallTimestamp": "Fri, 11 Jan 2019 17:14:04 +0200"}):
        assert list(check.iter_errors(restcomm_form(**bad))), bad
    missing = restcomm_form()
    del missing["ForwardedFrom"]
    assert list(check.iter_errors(missing))


def test_restcomm_sms_schema(document: dict[str, Any]) -> None:
    check = validator(document, "RestcommSmsEvent")
    sms = {"SmsSid": "SM" + "d" * 32, "AccountSid": "AC" + "c" * 32, "From": "+13125550123",
           "To": "+13125550100", "Body": "", "SipHeader_X-Tag": "t"}
    assert list(check.iter_errors(sms)) == []  # an empty text is still a message
    assert list(check.iter_errors({k: v for k, v in sms.items() if k != "Body"}))


def test_perCL_schema_takes_one_command_per_item(document: dict[str, Any]) -> None:
    check = validator(document, "PerclScript")
    assert list(check.iter_errors([{"Say": {"text": "Hi"}}, {"Pause": {"length": 500}},
                                   {"Hangup": {}}, {"OutDial": {"destination": "+1"}}])) == []
    for bad in ([{"Say": {"text": "Hi"}, "Hangup": {}}], [{"Say": {}}], {"commands": []}):
        assert list(check.iter_errors(bad)), bad


def test_each_provider_document_keeps_only_its_webhooks(document: dict[str, Any]) -> None:
    for tag in ("freeclimb", "restcomm"):
        cut = docs_split.provider_document(document, tag)
        hooks = cut["webhooks"]
        assert hooks and all(name.startswith(tag + "-") for name in hooks)
        ops = [op for item in hooks.values() for m, op in item.items() if m in specload.HTTP_METHODS]
        assert all(op["tags"] == [tag] for op in ops)
        # Swagger UI does not resolve refs under webhooks: none are left there.
        assert "$ref" not in json.dumps(hooks)
    # The contract runner tests servers, which receive no webhooks.
    loaded = specload.load()
    assert "webhooks" not in contract.provider_document(loaded, "restcomm")
