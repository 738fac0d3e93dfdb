"""The emulator as the network: numbers set up over the providers' own APIs, then rung and
texted through /_numspec; a real receiver (tests/webhook_receiver_app.py) on loopback gets
the requests, which are checked against the contract's webhook schemas, and the log says
what happened."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest
from numspec.emulator import accounts, network
from numspec.emulator.admin import admin_app
from numspec.emulator.app import create_app
from numspec.emulator.network import Limits, Network, checked_target
from numspec.emulator.store import Store, migrate
from numspec.generated.runtime import webhook_signature_problem

from tests.loopback_server import serve
from tests.webhook_receiver_app import Received, Receiver

FC = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
RC = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
CALLER = "+13125550123"
DOCUMENT = json.loads(resources.files("numspec.generated").joinpath("openapi.json").read_text())


def valid(schema: str, payload: dict[str, Any]) -> None:
    """``payload`` against the contract's component schema (its $refs resolved in place)."""
    jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": DOCUMENT["components"]}
    ).validate(payload)


class Env:
    def __init__(self, base: str, receiver: Receiver, rbase: str) -> None:
        self.base, self.receiver, self.rbase = base, receiver, rbase
        self.http = httpx.Client(base_url=base, timeout=30)
        pool = self.http.get("/apiserver/AvailablePhoneNumbers", auth=FC).json()
        self._pool = iter([n["phoneNumber"] for n in pool["availablePhoneNumbers"]])

    def url(self, path: str) -> str:
        return self.rbase + path

    def restcomm_number(self, **fields: str) -> str:
        number = next(self._pool)
        answer = self.http.post(f"/restcomm/2012-04-24/Accounts/{RC[0]}/IncomingPhoneNumbers.json",
                                auth=RC, data={"PhoneNumber": number, **fields})
        assert answer.status_code == 200, answer.text
        return number

    def freeclimb_number(self, app: dict[str, Any] | None) -> tuple[str, str | None, str]:
        """A number linked to a new application with these URLs (None: no application)."""
        app_id = None
        if app is not None:
            created = self.http.post(f"/apiserver/Accounts/{FC[0]}/Applications", auth=FC,
                                     json=app)
            assert created.status_code == 201, created.text
            app_id = created.json()["applicationId"]
        number = next(self._pool)
        body = {"phoneNumber": number, **({"applicationId": app_id} if app_id else {})}
        bought = self.http.post(f"/apiserver/Accounts/{FC[0]}/IncomingPhoneNumbers", auth=FC,
                                json=body)
        assert bought.status_code in (200, 201), bought.text
        return number, app_id, bought.json()["phoneNumberId"]

    def call(self, to: str, from_: str = CALLER) -> dict[str, Any]:
        self.receiver.clear()
        answer = self.http.post("/_numspec/calls", json={"from": from_, "to": to})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def sms(self, to: str, text: str) -> dict[str, Any]:
        self.receiver.clear()
        answer = self.http.post("/_numspec/messages", json={"from": CALLER, "to": to, "text": text})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    store = Store(tmp_path_factory.mktemp("delivery") / "numspec.db", inventory_size=200)
    accounts.ensure_demo_accounts(store)
    receiver = Receiver(slow_s=1.5)
    limits = Limits(reply_s=0.5, max_reply_bytes=8192)
    with serve(receiver, "/health") as rbase, \
            serve(create_app(store, network=Network(store, limits)), "/_numspec/events") as base:
        environment = Env(base, receiver, rbase)
        yield environment
        environment.http.close()
    store.close()


def form(request: Received) -> dict[str, str]:
    if request.method == "GET":
        assert request.body == b""
        return dict(request.query)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    return dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))


# -- Restcomm ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_restcomm_call_sends_the_voice_request_and_each_state(env: Env, method: str) -> None:
    to = env.restcomm_number(VoiceUrl=env.url("/rcml"), VoiceMethod=method,
                             StatusCallback=env.url("/ok"), StatusCallbackMethod=method)
    outcome = env.call(to)
    assert outcome["result"] == "answered", outcome
    got = env.receiver.received
    assert [r.path for r in got] == ["/ok", "/rcml", "/ok", "/ok"]
    assert {r.method for r in got} == {method}
    fields = [form(r) for r in got]
    assert [f["CallStatus"] for f in fields] == ["ringing", "ringing", "in-progress", "completed"]
    for request, sent in zip(got, fields, strict=True):
        assert request.headers["http.protocol.content-charset"] == "UTF-8"
        valid("RestcommCallEvent", sent)
        assert sent["From"] == CALLER and sent["To"] == to and sent["AccountSid"] == RC[0]
        assert sent["CallerName"] == "null" and sent["ForwardedFrom"] == "null"
        assert sent["CallSid"] == outcome["id"]
    assert fields[-1]["CallDuration"] == "2"  # Say, Hangup: one simulated second each
    assert "CallDuration" not in fields[1]
    voice = next(e for e in outcome["events"] if e["step"] == "voice")
    assert voice["verdict"] == "valid" and voice["verbs"] == ["Say", "Hangup"]
    assert voice["status"] == 200 and voice["method"] == method


@pytest.mark.parametrize("broken", ["/fail", "/slow", "/malformed", "/big"])
def test_restcomm_falls_back_when_the_voice_url_fails(env: Env, broken: str) -> None:
    if broken == "/big":
        env.receiver.big_bytes = 50_000  # over the 8 KiB cap this emulator was given
    to = env.restcomm_number(VoiceUrl=env.url(broken), VoiceFallbackUrl=env.url("/rcml"),
                             VoiceFallbackMethod="GET")
    outcome = env.call(to)
    assert outcome["result"] == "answered"
    first, fallback = outcome["events"]
    assert (first["step"], first["verdict"]) == ("voice", "failed")
    expected = {"/fail": "answered 500", "/slow": "in time", "/big": "larger than 8192 bytes",
                "/malformed": "not well-formed"}[broken]
    assert expected in first["problem"]
    assert first["reply_truncated"] is (broken == "/big")
    assert (fallback["step"], fallback["verdict"], fallback["method"]) == \
        ("voice-fallback", "valid", "GET")
    assert [r.path for r in env.receiver.received][-1] == "/rcml"


def test_restcomm_every_url_failing_ends_the_call_failed(env: Env) -> None:
    to = env.restcomm_number(VoiceUrl=env.url("/fail"), StatusCallback=env.url("/ok"))
    outcome = env.call(to)
    assert outcome["result"] == "failed" and "voice answered 500" in outcome["reason"]
    states = [form(r)["CallStatus"] for r in env.receiver.at("/ok")]
    assert states == ["ringing", "failed"]


def test_restcomm_number_without_voice_url_is_not_called(env: Env) -> None:
    to = env.restcomm_number(StatusCallback=env.url("/ok"))
    outcome = env.call(to)
    assert outcome["result"] == "not-routed" and "SIP 404" in outcome["reason"]
    assert env.receiver.received == []  # no interpreter starts, so no callback either
    assert [e["step"] for e in outcome["events"]] == ["route"]


def test_restcomm_sms_goes_to_sms_url(env: Env) -> None:
    to = env.restcomm_number(SmsUrl=env.url("/rcml"), SmsMethod="GET")
    outcome = env.sms(to, "Is the shop open? ünïcode")
    assert outcome["result"] == "delivered"
    (request,) = env.receiver.received
    sent = form(request)
    valid("RestcommSmsEvent", sent)
    assert sent["Body"] == "Is the shop open? ünïcode" and sent["SmsSid"] == outcome["id"]
    assert "ApiVersion" not in sent
    assert outcome["events"][0]["verdict"] == "valid"


# -- FreeClimb --------------------------------------------------------------------------


def signed(request: Received) -> dict[str, Any]:
    problem = webhook_signature_problem(request.headers.get("freeclimb-signature"), request.body,
                                        [accounts.FREECLIMB_DEMO_SIGNING_SECRET], 30)
    assert problem is None, problem
    assert request.headers["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_freeclimb_call_is_signed_json_then_one_call_status(env: Env) -> None:
    to, _, _ = env.freeclimb_number({"voiceUrl": env.url("/percl"),
                                     "statusCallbackUrl": env.url("/ok")})
    outcome = env.call(to)
    assert outcome["result"] == "answered" and outcome["accountSid"] == FC[0]
    voice, status = env.receiver.received
    assert (voice.path, status.path) == ("/percl", "/ok")
    event = signed(voice)
    valid("InboundCallEvent", event)
    assert event["callId"] == outcome["id"] and event["to"] == to and event["from"] == CALLER
    ended = signed(status)
    valid("CallStatusEvent", ended)
    assert (ended["callStatus"], ended["callEndedReason"]) == ("completed", "appHangup")
    assert outcome["events"][0]["verbs"] == ["Say", "Hangup"]


def test_a_tampered_body_does_not_verify(env: Env) -> None:
    to, _, _ = env.freeclimb_number({"voiceUrl": env.url("/percl")})
    env.call(to)
    (voice,) = env.receiver.received
    tampered = voice.body.replace(CALLER.encode(), b"+19995550000")
    assert webhook_signature_problem(voice.headers["freeclimb-signature"], tampered,
                                     [accounts.FREECLIMB_DEMO_SIGNING_SECRET], 30) is not None


def test_freeclimb_fallback_then_invalid_percl(env: Env) -> None:
    to, _, _ = env.freeclimb_number({"voiceUrl": env.url("/fail"),
                                     "voiceFallbackUrl": env.url("/notpercl"),
                                     "statusCallbackUrl": env.url("/ok")})
    outcome = env.call(to)
    assert outcome["result"] == "failed"
    assert [e["step"] for e in outcome["events"]] == ["voice", "voice-fallback", "status"]
    assert "array" in outcome["events"][1]["problem"]
    ended = signed(env.receiver.at("/ok")[0])
    assert (ended["callStatus"], ended["callEndedReason"]) == ("failed", "appInvalidPercl")


def test_freeclimb_timeout_everywhere_is_webhook_failed(env: Env) -> None:
    to, _, _ = env.freeclimb_number({"voiceUrl": env.url("/slow"),
                                     "statusCallbackUrl": env.url("/ok")})
    outcome = env.call(to)
    assert outcome["result"] == "failed"
    ended = signed(env.receiver.at("/ok")[0])
    assert ended["callEndedReason"] == "webhookFailed"


def test_freeclimb_no_application_and_no_voice_url(env: Env) -> None:
    bare, _, _ = env.freeclimb_number(None)
    outcome = env.call(bare)
    assert outcome["result"] == "not-routed"
    assert outcome["events"][0]["problem"] == "configErrorNoApplication"
    assert env.receiver.received == []
    silent, _, _ = env.freeclimb_number({"statusCallbackUrl": env.url("/ok")})
    outcome = env.call(silent)
    assert outcome["result"] == "not-routed"
    (status,) = env.receiver.received
    ended = signed(status)
    valid("CallStatusEvent", ended)
    assert ended["callEndedReason"] == "configErrorNoVoiceUrl"


def test_freeclimb_message_delivery(env: Env) -> None:
    to, app_id, number_id = env.freeclimb_number({"smsUrl": env.url("/fail"),
                                                  "smsFallbackUrl": env.url("/ok")})
    outcome = env.sms(to, "hello")
    assert outcome["result"] == "delivered" and "sms-fallback" in outcome["reason"]
    first, second = env.receiver.received
    assert first.body == second.body  # the same event, to the fallback
    event = signed(second)
    valid("MessageDeliveryEvent", event)
    assert (event["applicationId"], event["phoneNumberId"], event["text"]) == \
        (app_id, number_id, "hello")
    assert event["messageId"] == outcome["id"] and event["uri"].endswith(outcome["id"])


# -- refusals and safety ----------------------------------------------------------------


def test_unknown_to_and_bad_numbers_are_one_clear_error(env: Env) -> None:
    nobody = env.http.post("/_numspec/calls", json={"from": CALLER, "to": "+19998887777"})
    assert nobody.status_code == 404 and "no account" in nobody.json()["error"]
    bad = env.http.post("/_numspec/calls", json={"from": "me", "to": "+19998887777"})
    assert bad.status_code == 400 and "FROM 'me' is not an E.164" in bad.json()["error"]
    extra = env.http.post("/_numspec/messages", json={"from": CALLER, "to": "+1", "txt": "x"})
    assert extra.status_code == 400 and "'text' is required" in extra.json()["error"]
    cli = numspec("call", CALLER, "+19998887777", "--server", env.base)
    assert cli.returncode == 2 and cli.stderr.startswith("error: TO +19998887777: no account")
    assert "Traceback" not in cli.stderr and cli.stderr.count("\n") == 1


def test_a_host_that_is_not_allowed_gets_nothing(env: Env) -> None:
    to = env.restcomm_number(VoiceUrl="http://192.0.2.10:9/voice",
                             VoiceFallbackUrl=env.url("/rcml"))
    outcome = env.call(to)
    refused = outcome["events"][0]
    assert refused["status"] is None and refused["verdict"] == "failed"
    assert "192.0.2.10 is 192.0.2.10, not loopback and not allowed" in refused["problem"]
    assert refused["elapsed_ms"] < 1000  # refused before any connection attempt
    assert outcome["result"] == "answered"  # the loopback fallback still answered


def test_allowed_hosts_are_checked_by_address() -> None:
    async def problems() -> list[str | None]:
        allowed = Limits.allowing(["192.0.2.0/24", "fd00::1", "receiver.internal"])
        urls = ["http://127.0.0.1:1/", "http://[::1]:1/", "http://192.0.2.7/",
                "http://[fd00::1]/", "http://receiver.internal/", "http://198.51.100.1/",
                "ftp://127.0.0.1/", "http://[::ffff:127.0.0.1]/"]
        return [(await checked_target(url, allowed)).problem for url in urls]

    found = asyncio.run(problems())
    assert found[:5] == [None] * 5 and found[7] is None
    assert found[5] is not None and "not allowed" in found[5]
    assert found[6] == "not an absolute http or https URL"
    with pytest.raises(ValueError, match="not a host name"):
        Limits.allowing(["bad host/"])


def test_a_name_is_looked_up_once_and_the_checked_address_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the first answer is loopback (checked, allowed), every later one an
    address that is not. The delivery must still go to the address that was checked."""
    answers: list[str] = []
    real_lookup = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.numspec.test":
            return real_lookup(host, port, *args, **kwargs)
        answers.append("127.0.0.1" if not answers else "192.0.2.10")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (answers[-1], int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    receiver = Receiver()
    store = Store(tmp_path / "n.db", inventory_size=10)
    delivery = Network(store, Limits(connect_s=1.0, reply_s=1.0))
    with serve(receiver, "/health") as rbase:
        port = rbase.rsplit(":", 1)[1]
        receiver.clear()
        attempt = asyncio.run(delivery.send("status", "GET",
                                            f"http://rebind.numspec.test:{port}/ok?a=1"))
    store.close()
    assert attempt.problem is None and attempt.status == 200, attempt
    assert answers == ["127.0.0.1"]  # looked up once, by the check
    assert attempt.url == f"http://rebind.numspec.test:{port}/ok?a=1"  # logged as configured
    (got,) = receiver.received
    assert got.headers["host"] == f"rebind.numspec.test:{port}" and got.query == [("a", "1")]


def test_admin_endpoints_refuse_clients_not_on_loopback(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db", inventory_size=10)

    async def ask(client: tuple[str, int]) -> int:
        transport = httpx.ASGITransport(admin_app(Network(store)), client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
            return (await http.get("/events")).status_code

    assert asyncio.run(ask(("10.1.2.3", 5000))) == 403
    assert asyncio.run(ask(("127.0.0.1", 5000))) == 200
    store.close()


# -- the log ----------------------------------------------------------------------------


def numspec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numspec.generator.cli", *args],
                          check=False, capture_output=True, text=True, timeout=120)


def test_events_are_listed_by_endpoint_and_cli(env: Env) -> None:
    to = env.restcomm_number(VoiceUrl=env.url("/rcml"), StatusCallback=env.url("/ok"))
    placed = numspec("call", CALLER, to, "--server", env.base)
    assert placed.returncode == 0, placed.stderr
    lines = placed.stdout.splitlines()
    assert lines[0].startswith(f"call {CALLER} -> {to}: restcomm account {RC[0]}")
    assert [line.split()[0] for line in lines[1:5]] == \
        ["status:ringing", "voice", "status:in-progress", "status:completed"]
    assert "valid: Say, Hangup" in lines[2] and lines[-1].startswith("answered: ")
    call_id = lines[0].rsplit("id ", 1)[1]
    listed = numspec("events", "--call", call_id, "--json", "--server", env.base)
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)
    assert [e["step"] for e in events] == ["status:ringing", "voice", "status:in-progress",
                                           "status:completed"]
    assert events[1]["request_headers"]["http.protocol.content-charset"] == "UTF-8"
    assert "CallStatus=ringing" in events[1]["request_body"]
    assert events[1]["reply_body"].endswith("</Response>")
    endpoint = env.http.get("/_numspec/events", params={"call": call_id}).json()["events"]
    assert endpoint == events
    text = numspec("events", "--limit", "4", "--server", env.base)
    assert text.returncode == 0 and text.stdout.startswith(f"call {call_id} (restcomm")


def test_sms_command_exit_status_follows_the_outcome(env: Env) -> None:
    to = env.restcomm_number()  # no SmsUrl
    dropped = numspec("sms", CALLER, to, "hi", "--server", env.base)
    assert dropped.returncode == 1 and "no SmsUrl: the message is dropped" in dropped.stdout


def test_the_log_keeps_only_the_newest_events(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "MAX_EVENTS", 3)
    store = Store(tmp_path / "n.db", inventory_size=10)
    with store.write() as conn:
        conn.execute("INSERT INTO accounts (sid, provider, secret, created_at) "
                     "VALUES (?, 'restcomm', 'x', 0)", ("AC" + "1" * 32,))
        conn.execute("INSERT INTO numbers (provider, sid, account_sid, phone_number, created_at, "
                     "updated_at) VALUES ('restcomm', ?, ?, '+13125550100', 0, 0)",
                     ("PN" + "1" * 32, "AC" + "1" * 32))
    net = Network(store)
    for _ in range(5):  # no SmsUrl: one "route" event each
        asyncio.run(net.message(CALLER, "+13125550100", "x"))
    assert len(net.events(100)) == 3
    store.close()


# -- signing secrets --------------------------------------------------------------------


def test_signing_secrets_demo_fixed_config_given_others_random(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, 5)
    old.execute("INSERT INTO meta VALUES ('inventory_seed', '1'), ('inventory_size', '1')")
    older = "AC" + "8" * 40
    old.execute("INSERT INTO accounts (sid, provider, secret, created_at) "
                "VALUES (?, 'freeclimb', 'key', 0)", (older,))
    old.close()
    store = Store(path)
    accounts.ensure_demo_accounts(store)
    config = tmp_path / "accounts.toml"
    given, random_one = "AC" + "9" * 40, "AC" + "a" * 40
    config.write_text(f'[[freeclimb.accounts]]\naccount_id = "{given}"\napi_key = "k"\n'
                      'signing_secret = "from-config"\n'
                      f'[[freeclimb.accounts]]\naccount_id = "{random_one}"\napi_key = "k"\n')
    accounts.load_accounts_file(store, config)
    secret = accounts.signing_secret
    assert secret(store, FC[0]) == accounts.FREECLIMB_DEMO_SIGNING_SECRET
    assert secret(store, given) == "from-config"
    first = secret(store, random_one)
    assert first is not None and len(first) == 40 and first == secret(store, random_one)
    migrated = secret(store, older)
    assert migrated is not None and len(migrated) == 40
    assert secret(store, RC[0]) is None  # Restcomm signs nothing
    accounts.load_accounts_file(store, config)  # again: a random secret stays what it was
    assert secret(store, random_one) == first
    assert accounts.FREECLIMB_DEMO_SIGNING_SECRET in accounts.describe_demo_logins()
    store.close()


def test_docs_page_documents_the_network_endpoints_for_this_contract_only() -> None:
    from numspec.generator.docs import build_html

    page = build_html(DOCUMENT)
    assert 'id="network"' in page and "POST /_numspec/calls" in page
    assert "numspec events [--json]" in page and "--allow-webhook-host" in page
    other = {"openapi": "3.1.0", "info": {"title": "Pets", "version": "1"},
             "paths": {"/pets": {"get": {"tags": ["pets"], "operationId": "list-pets",
                                         "responses": {"200": {"description": "ok"}}}}}}
    assert "/_numspec" not in build_html(other)
