"""The whole loop: the emulator rings apps built on the generated receivers (tests/webhook_apps.py).

A number is set up over the providers' own APIs to point at the app, /_numspec rings or texts
it, the app's typed handlers see the payloads (FreeClimb's signed with the account's secret,
which the app checks), and the emulator's log records a valid reply and the status callbacks.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from numspec.emulator import accounts
from numspec.emulator.app import create_app
from numspec.emulator.network import Network
from numspec.emulator.store import Store

from tests.loopback_server import serve
from tests.webhook_apps import Seen, freeclimb_app, restcomm_app

FC = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
RC = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
CALLER = "+13125550123"


class Loop:
    def __init__(self, base: str, fc_base: str, rc_base: str, fc_seen: Seen, rc_seen: Seen) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self.fc_base, self.rc_base, self.fc_seen, self.rc_seen = fc_base, rc_base, fc_seen, rc_seen
        pool = self.http.get("/apiserver/AvailablePhoneNumbers", auth=FC).json()
        self.pool = iter([n["phoneNumber"] for n in pool["availablePhoneNumbers"]])


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    store = Store(tmp_path_factory.mktemp("ring") / "numspec.db", inventory_size=50)
    accounts.ensure_demo_accounts(store)
    fc_seen, rc_seen = Seen(), Seen()
    fc_app = freeclimb_app(fc_seen, secrets=(accounts.FREECLIMB_DEMO_SIGNING_SECRET,))
    with serve(fc_app) as fc_base, serve(restcomm_app(rc_seen)) as rc_base, \
            serve(create_app(store, network=Network(store)), "/_numspec/events") as base:
        environment = Loop(base, fc_base, rc_base, fc_seen, rc_seen)
        yield environment
        environment.http.close()
    store.close()


def test_freeclimb_call_reaches_the_generated_receiver_signed(loop: Loop) -> None:
    hooks = loop.fc_base + "/hooks/freeclimb"
    created = loop.http.post(f"/apiserver/Accounts/{FC[0]}/Applications", auth=FC, json={
        "alias": "ring test", "voiceUrl": hooks + "/inbound-call",
        "statusCallbackUrl": hooks + "/call-status"})
    assert created.status_code == 201, created.text
    number = next(loop.pool)
    bought = loop.http.post(f"/apiserver/Accounts/{FC[0]}/IncomingPhoneNumbers", auth=FC,
                            json={"phoneNumber": number, "applicationId": created.json()["applicationId"]})
    assert bought.status_code in (200, 201), bought.text

    outcome = loop.http.post("/_numspec/calls", json={"from": CALLER, "to": number}).json()

    assert outcome["result"] == "answered", outcome
    names = [name for name, _ in loop.fc_seen.events]
    assert names[0] == "inbound_call" and names[-1] == "call_status", names
    call = loop.fc_seen.events[0][1]
    assert (call.from_, call.to, call.account_id) == (CALLER, number, FC[0])
    voice = next(e for e in outcome["events"] if e["step"] == "voice")
    assert voice["status"] == 200 and voice["verdict"] == "valid"
    assert voice["verbs"] == ["Say", "Pause", "Hangup"]


def test_restcomm_call_and_sms_reach_the_generated_receiver(loop: Loop) -> None:
    hooks = loop.rc_base + "/hooks/restcomm"
    number = next(loop.pool)
    created = loop.http.post(f"/restcomm/2012-04-24/Accounts/{RC[0]}/IncomingPhoneNumbers.json",
                             auth=RC, data={"PhoneNumber": number, "VoiceUrl": hooks + "/inbound-call",
                                            "StatusCallback": hooks + "/status-callback",
                                            "SmsUrl": hooks + "/inbound-sms"})
    assert created.status_code == 200, created.text

    outcome = loop.http.post("/_numspec/calls", json={"from": CALLER, "to": number}).json()
    assert outcome["result"] == "answered", outcome
    voice = next(e for e in outcome["events"] if e["step"] == "voice")
    assert voice["verdict"] == "valid" and voice["verbs"] == ["Say", "Hangup"]
    calls = [event for name, event in loop.rc_seen.events if name == "inbound_call"]
    assert calls and calls[0].caller_name == "null" and calls[0].to == number
    states = [event.call_status for name, event in loop.rc_seen.events if name == "status_callback"]
    assert states[-1] == "completed", states

    sent = loop.http.post("/_numspec/messages", json={"from": CALLER, "to": number, "text": "hello"})
    assert sent.status_code == 200, sent.text
    texts = [event for name, event in loop.rc_seen.events if name == "inbound_sms"]
    assert texts and texts[-1].body == "hello"
    sms = next(e for e in sent.json()["events"] if e["step"] == "sms")
    assert sms["verdict"] == "valid" and sms["verbs"] == ["Sms"]
