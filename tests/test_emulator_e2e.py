"""The emulator end to end: the real `numspec serve` process, real HTTP on loopback, real SQLite,
driven by the generated clients (and raw httpx where the wire itself is the point).

One server serves the whole module; each test works in accounts or numbers of its own, so the
order of the tests does not matter. The restart test stops and starts the same process type on
the same database file.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from numspec.emulator import accounts
from numspec.emulator.inventory import national_format
from numspec.generated.freeclimb import models as fcm
from numspec.generated.freeclimb.client import AsyncFreeClimbClient, FreeClimbClient
from numspec.generated.restcomm import models as rcm
from numspec.generated.restcomm.client import AsyncRestcommClient, RestcommClient
from numspec.generated.runtime import ApiError

from tests.emulator_process import ROOT, EmulatorProcess, _environment, free_port, numspec_command

Login = tuple[str, str]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


FC_DEMO: Login = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
FC_OTHER: Login = ("AC" + "1" * 40, "other-api-key")
FC_PAGER: Login = ("AC" + "2" * 40, "pager-api-key")
FC_FILTERS: Login = ("AC" + "3" * 40, "filters-api-key")
RC_DEMO = accounts.RESTCOMM_DEMO
RC_SUB1, RC_SUB2 = accounts.RESTCOMM_DEMO_SUBS
# Top-level Restcomm accounts of their own organisations.
RC_PAGER: Login = ("AC" + "p" * 32, "pager-password")
RC_ELSEWHERE: Login = ("AC" + "e" * 32, "elsewhere-password")
CONFIG = f"""
[[freeclimb.accounts]]
account_id = "{FC_OTHER[0]}"
api_key = "{FC_OTHER[1]}"
[[freeclimb.accounts]]
account_id = "{FC_PAGER[0]}"
api_key = "{FC_PAGER[1]}"
[[freeclimb.accounts]]
account_id = "{FC_FILTERS[0]}"
api_key = "{FC_FILTERS[1]}"
[[restcomm.accounts]]
sid = "{RC_PAGER[0]}"
auth_token = "{_md5(RC_PAGER[1])}"
organization_sid = "OR{"p" * 32}"
[[restcomm.accounts]]
sid = "{RC_ELSEWHERE[0]}"
email = "ops@elsewhere.example"
auth_token = "{_md5(RC_ELSEWHERE[1])}"
organization_sid = "OR{"e" * 32}"
"""
UNAVAILABLE = "21452"
RFC1123 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")
RFC2822 = re.compile(r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000")
XML_NUMBER_TAGS = [  # a fresh number: null URLs and application Sids are left out
    "Sid", "AccountSid", "FriendlyName", "PhoneNumber", "VoiceMethod", "VoiceFallbackMethod",
    "StatusCallbackMethod", "VoiceCallerIdLookup", "DateCreated", "DateUpdated", "SmsMethod",
    "SmsFallbackMethod", "UssdMethod", "UssdFallbackMethod", "ReferMethod", "Capabilities",
    "ApiVersion", "Uri",
]
XML_PAGE_ATTRIBUTES = [
    "page", "numpages", "pagesize", "total", "start", "end", "uri", "firstpageuri",
    "previouspageuri", "nextpageuri", "lastpageuri",
]


def rc_login(login: accounts.DemoLogin) -> Login:
    return (login.username, login.password)


RC_DEMO_LOGIN = rc_login(RC_DEMO)


@dataclass
class Env:
    server: EmulatorProcess
    handed_out: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fc_url(self) -> str:
        return self.server.base_url + "/apiserver"

    @property
    def rc_url(self) -> str:
        return self.server.base_url + "/restcomm"

    def fc(self, login: Login = FC_DEMO, account_id: str | None = None) -> FreeClimbClient:
        return FreeClimbClient(*login, account_id=account_id, base_url=self.fc_url)

    def rc(self, login: Login = RC_DEMO_LOGIN, account_sid: str | None = None) -> RestcommClient:
        return RestcommClient(*login, account_sid=account_sid, base_url=self.rc_url)

    def raw(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=30)

    def numbers(self, count: int, **filters: Any) -> list[str]:
        """Pool numbers no other test has been given, found through /AvailablePhoneNumbers."""
        found: list[str] = []
        with self._lock, self.fc() as fc:
            for line in fc.iter_available_numbers(**filters):
                if line.phone_number not in self.handed_out:
                    self.handed_out.add(line.phone_number)
                    found.append(line.phone_number)
                    if len(found) == count:
                        return found
        raise AssertionError(f"the pool has fewer than {count} numbers matching {filters}")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("emulator")
    config = folder / "accounts.toml"
    config.write_text(CONFIG, encoding="utf-8")
    server = EmulatorProcess(folder / "numspec.db", folder / "server.log", config=config)
    server.start()
    try:
        yield Env(server)
    finally:
        server.stop()
    log = server.log_text()
    assert "Traceback" not in log, f"the server logged an exception:\n{log}"


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def platform_code(error: ApiError) -> int:
    assert isinstance(error.body, fcm.PlatformError), error.body
    return error.body.code


def pattern_of(number: str) -> str:
    return "^" + re.escape(number) + "$"


def in_pool(env: Env, number: str) -> bool:
    with env.fc() as fc:
        return fc.list_available_numbers(phone_number=pattern_of(number)).total == 1


# -- FreeClimb -----------------------------------------------------------------------------------


def test_freeclimb_every_operation(env: Env) -> None:
    number, second = env.numbers(2, region="IL")
    account = FC_DEMO[0]
    with env.fc() as fc:
        app = fc.create_an_application(fcm.ApplicationRequest(alias="Front desk app")).application_id
        bought = fc.buy_a_phone_number(fcm.BuyIncomingNumberRequest(
            phone_number=number, alias="Front desk", application_id=app))
        pid = bought.phone_number_id or ""
        assert re.fullmatch(r"PN[0-9a-f]{40}", pid)
        assert (bought.phone_number, bought.alias, bought.application_id, bought.account_id,
                bought.region, bought.country, bought.revision) == (
            number, "Front desk", app, account, "IL", "US", 1)
        assert bought.uri == f"/Accounts/{account}/IncomingPhoneNumbers/{pid}"
        assert RFC1123.fullmatch(bought.date_created or "")
        assert bought.capabilities.voice is True and bought.capabilities.short_code is False
        assert fc.get_an_incoming_number(pid) == bought
        assert not in_pool(env, number)  # bought lines leave the pool

        later = fc.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phone_number=second))
        assert later.alias == national_format(second) and later.application_id is None
        listed = [n.phone_number_id for n in fc.list_incoming_numbers().incoming_phone_numbers]
        assert listed.index(later.phone_number_id) < listed.index(pid)  # newest first

        updated = fc.update_an_incoming_number(pid, fcm.IncomingNumberRequest(
            alias="Reception", campaign_id="CX56XX4"))
        assert (updated.alias, updated.campaign_id, updated.application_id, updated.revision) == (
            "Reception", "CX56XX4", app, 2)
        assert updated.campaign_assignment_time is not None
        assert updated.date_updated_iso and bought.date_updated_iso
        assert updated.date_updated_iso > bought.date_updated_iso
        assert updated.date_created == bought.date_created
        cleared = fc.update_an_incoming_number(pid, fcm.IncomingNumberRequest(campaign_id=None))
        assert (cleared.campaign_id, cleared.campaign_assignment_time, cleared.revision) == (
            None, None, 3)
        bare = fc.update_an_incoming_number(pid)  # no body: only revision and dateUpdated move
        assert (bare.alias, bare.revision) == ("Reception", 4)
        assert fc.get_an_incoming_number(pid) == bare

        fc.delete_an_incoming_number(pid)
        gone = refused(lambda: fc.get_an_incoming_number(pid))
        assert gone.status_code == 404 and platform_code(gone) == 1
        assert refused(lambda: fc.delete_an_incoming_number(pid)).status_code == 404
        assert refused(lambda: fc.update_an_incoming_number(pid)).status_code == 404
        assert in_pool(env, number)  # released lines go back
        fc.delete_an_incoming_number(later.phone_number_id or "")


def test_freeclimb_async_client_every_operation(env: Env) -> None:
    (number,) = env.numbers(1)

    async def scenario() -> None:
        async with AsyncFreeClimbClient(*FC_DEMO, base_url=env.fc_url) as fc:
            found = await fc.list_available_numbers(phone_number=pattern_of(number))
            assert [n.phone_number for n in found.available_phone_numbers] == [number]
            bought = await fc.buy_a_phone_number(
                fcm.BuyIncomingNumberRequest(phone_number=number, alias="async"))
            pid = bought.phone_number_id or ""
            assert (await fc.get_an_incoming_number(pid)) == bought
            mine = [n.phone_number_id async for n in fc.iter_incoming_numbers(
                phone_number=pattern_of(number))]
            assert mine == [pid]
            updated = await fc.update_an_incoming_number(
                pid, fcm.IncomingNumberRequest(alias="async 2"))
            assert (updated.alias, updated.revision) == ("async 2", 2)
            await fc.delete_an_incoming_number(pid)
            with pytest.raises(ApiError) as gone:
                await fc.get_an_incoming_number(pid)
            assert gone.value.status_code == 404

    asyncio.run(scenario())


def test_freeclimb_paging_follows_the_cursor_and_its_filter(env: Env) -> None:
    numbers = env.numbers(230)
    account = FC_PAGER[0]
    with env.fc(FC_PAGER) as fc:
        for number in numbers:
            fc.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phone_number=number))
        first = fc.list_incoming_numbers()
        assert (first.total, first.num_pages, first.page_size, first.page, first.start,
                first.end) == (230, 3, 100, 0, 0, 99)
        assert re.fullmatch(rf"/Accounts/{account}/IncomingPhoneNumbers\?cursor=[0-9a-zA-Z]+",
                            first.next_page_uri or "")
        everything = list(fc.iter_incoming_numbers())
        assert [n.phone_number for n in everything] == numbers[::-1]  # newest first, no gaps

        # A filter is sent once; the cursor in nextPageUri carries it to the later pages.
        expected = [n.phone_number for n in everything if n.capabilities.ten_dlc]
        assert 100 < len(expected) < 200
        filtered = fc.list_incoming_numbers(capabilities_ten_dlc=True)
        assert filtered.total == len(expected) and filtered.num_pages == 2
        link = filtered.next_page_uri or ""
        assert "tenDLC" not in link and "cursor=" in link
        got = [n.phone_number for n in fc.iter_incoming_numbers(capabilities_ten_dlc=True)]
        assert got == expected

    with env.raw() as http:
        # Filters sent next to a cursor are ignored: the cursor's own apply.
        second = http.get("/apiserver" + link + "&capabilities.tenDLC=false", auth=FC_PAGER)
        assert second.status_code == 200, second.text
        page = second.json()
        assert (page["page"], page["start"], page["nextPageUri"]) == (1, 100, None)
        assert [n["phoneNumber"] for n in page["incomingPhoneNumbers"]] == expected[100:]
        # A cursor works only for the listing and account it was issued for.
        cursor = link.split("cursor=")[1]
        for login, path, token in (
            (FC_PAGER, f"/apiserver/Accounts/{account}/IncomingPhoneNumbers", "0" * 40),
            (FC_OTHER, f"/apiserver/Accounts/{FC_OTHER[0]}/IncomingPhoneNumbers", cursor),
            (FC_PAGER, "/apiserver/AvailablePhoneNumbers", cursor),
        ):
            stale = http.get(path, params={"cursor": token}, auth=login)
            assert stale.status_code == 400 and stale.json()["code"] == 81

    # The pool pages the same way: a filter that spans several pages.
    with env.fc() as fc:
        toll_free = fc.list_available_numbers(capabilities_toll_free=True)
        assert toll_free.total > 200 and toll_free.next_page_uri
        lines = list(fc.iter_available_numbers(capabilities_toll_free=True))
        assert len(lines) == toll_free.total and all(n.capabilities.toll_free for n in lines)
        assert [n.phone_number for n in lines] == sorted(n.phone_number for n in lines)


def test_freeclimb_every_list_filter(env: Env) -> None:
    (ten_dlc,) = env.numbers(1, region="IL", capabilities_ten_dlc=True)
    (no_sms,) = env.numbers(1, capabilities_sms=False)
    (toll_free,) = env.numbers(1, capabilities_toll_free=True)
    (mobile,) = env.numbers(1, capabilities_sms=True, capabilities_ten_dlc=False,
                            capabilities_toll_free=False)
    tfn_campaign = "cmptfn_" + "0" * 40
    with env.fc(FC_FILTERS) as fc:
        for number in (ten_dlc, no_sms, toll_free, mobile):
            fc.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phone_number=number))
        ids = {n.phone_number: n.phone_number_id or "" for n in fc.iter_incoming_numbers()}
        app = fc.create_an_application().application_id
        fc.update_an_incoming_number(ids[ten_dlc], fcm.IncomingNumberRequest(
            alias="Front desk", application_id=app, campaign_id="CX56XX4"))
        fc.update_an_incoming_number(ids[toll_free],
                                     fcm.IncomingNumberRequest(campaign_id=tfn_campaign))
        everything = list(fc.iter_incoming_numbers())
        assert {n.phone_number for n in everything} == {ten_dlc, no_sms, toll_free, mobile}

        def listed(**filters: Any) -> set[str]:
            page = fc.list_incoming_numbers(**filters)
            assert page.total == len(page.incoming_phone_numbers)
            return {n.phone_number or "" for n in page.incoming_phone_numbers}

        all4 = {ten_dlc, no_sms, toll_free, mobile}
        regex = f"{ten_dlc[-4:]}$|^{re.escape(no_sms[:5])}"
        assert listed(phone_number=regex) == {n for n in all4 if re.search(regex, n)} >= {
            ten_dlc, no_sms}
        assert listed(phone_number=r"^\+1(800|833|844|855|866|877|888)") == {toll_free}
        assert listed(phone_number="(a+)+$") == set()  # linear-time engine: no blow-up
        for invalid in ("([", "(?=1)", r"(\d)\1"):
            with pytest.raises(ApiError) as caught:
                fc.list_incoming_numbers(phone_number=invalid)
            assert caught.value.status_code == 400 and platform_code(caught.value) == 81
            message = getattr(caught.value.body, "message", "") or ""
            assert "regular expression" in message and "b'" not in message, message
        assert listed(alias="Front desk") == {ten_dlc}
        assert listed(alias="front desk") == set()  # exact match
        assert listed(region="IL") == {n.phone_number for n in everything if n.region == "IL"}
        assert ten_dlc in listed(region="IL")
        assert listed(country="US") == all4 and listed(country="CA") == set()
        assert listed(application_id=app) == {ten_dlc}
        assert listed(has_application=True) == {ten_dlc}
        assert listed(has_application=False) == all4 - {ten_dlc}
        assert listed(has_campaign=True) == {ten_dlc, toll_free}
        assert listed(has_campaign=False) == {no_sms, mobile}
        assert listed(capabilities_voice=True) == all4 and listed(capabilities_voice=False) == set()
        assert listed(capabilities_sms=False) == {no_sms}
        assert listed(capabilities_toll_free=True) == {toll_free}
        assert listed(capabilities_ten_dlc=True) == {ten_dlc}
        assert listed(capabilities_short_code=True) == set()
        assert listed(capabilities_short_code=False) == all4
        assert listed(voice_enabled=True) == all4 and listed(sms_enabled=False) == {no_sms}
        assert listed(tfn_campaign_id=tfn_campaign) == {toll_free}
        assert listed(tfn_campaign_id="CX56XX4") == set()  # a 10DLC campaign is not a TFN one
        assert listed(offnet=False) == all4 and listed(offnet=True) == set()
        assert listed(capabilities_sms=True, has_application=False) == {toll_free, mobile}
        bad_app = refused(lambda: fc.list_incoming_numbers(application_id="AP123"))
        assert bad_app.status_code == 400

    with env.raw() as http:
        path = f"/apiserver/Accounts/{FC_FILTERS[0]}/IncomingPhoneNumbers"
        for name in ("hasApplication", "capabilities.sms", "offnet"):
            for value in ("yes", "1", ""):
                answer = http.get(path, params={name: value}, auth=FC_FILTERS)
                assert answer.status_code == 400, (name, value, answer.text)


def test_freeclimb_auth_matrix(env: Env) -> None:
    (number,) = env.numbers(1)
    demo = FC_DEMO[0]
    with env.fc() as own, env.fc(FC_OTHER, account_id=demo) as other:
        pid = own.buy_a_phone_number(
            fcm.BuyIncomingNumberRequest(phone_number=number)).phone_number_id or ""
        for call in (
            other.list_incoming_numbers,
            lambda: other.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phone_number=number)),
            lambda: other.get_an_incoming_number(pid),
            lambda: other.update_an_incoming_number(pid, fcm.IncomingNumberRequest(alias="x")),
            lambda: other.delete_an_incoming_number(pid),
        ):
            error = refused(call)
            assert error.status_code == 403 and platform_code(error) == 51
        with env.fc(FC_OTHER) as other_own:  # under its own path the number does not exist
            assert refused(lambda: other_own.get_an_incoming_number(pid)).status_code == 404
        assert own.get_an_incoming_number(pid).alias == national_format(number)  # untouched

    path = f"/apiserver/Accounts/{demo}/IncomingPhoneNumbers"
    with env.raw() as http:
        for auth in (None, (demo, "wrong key"), (FC_OTHER[0], FC_DEMO[1]),
                     (RC_DEMO.username, RC_DEMO.password), ("", "")):
            for method, url in (("GET", path), ("GET", f"{path}/{pid}"),
                                ("GET", "/apiserver/AvailablePhoneNumbers")):
                answer = http.request(method, url, auth=auth)
                assert answer.status_code == 401, (auth, url)
                assert answer.headers["www-authenticate"].startswith("Basic ")
                assert answer.json()["code"] == 50
        # FreeClimb credentials do not open Restcomm.
        answer = http.get(f"/restcomm/2012-04-24/Accounts/{RC_DEMO.username}/IncomingPhoneNumbers"
                          ".json", auth=FC_DEMO)
        assert answer.status_code == 401
        assert http.delete(f"{path}/{pid}", auth=FC_DEMO).status_code == 204


# -- Restcomm ------------------------------------------------------------------------------------


def test_restcomm_every_operation(env: Env) -> None:
    plain, local, toll_free, mobile = (
        env.numbers(1)[0], env.numbers(1, capabilities_ten_dlc=True)[0],
        env.numbers(1, capabilities_toll_free=True)[0],
        env.numbers(1, capabilities_sms=True, capabilities_ten_dlc=False,
                    capabilities_toll_free=False)[0])
    account = RC_DEMO.username
    with env.rc() as rc:
        # National digits are normalised to E.164; the default FriendlyName is the value sent.
        created = rc.create_incoming_phone_number(rcm.IncomingPhoneNumberCreateForm(
            phone_number=plain[2:]))
        sid = created.sid
        assert re.fullmatch(r"PN[0-9a-f]{32}", sid)
        assert (created.phone_number, created.friendly_name, created.account_sid,
                created.api_version, created.voice_method, created.voice_url) == (
            plain, plain[2:], account, "2012-04-24", "POST", None)
        assert created.uri == f"/2012-04-24/Accounts/{account}/IncomingPhoneNumbers/{sid}.json"
        assert RFC2822.fullmatch(created.date_created)
        assert not in_pool(env, plain)

        as_json = rc.get_incoming_phone_number(sid)
        as_xml = rc.get_incoming_phone_number(sid, format="xml")
        assert as_json == created
        assert as_xml.uri == created.uri.removesuffix(".json")
        assert as_xml.model_dump(exclude={"uri"}) == created.model_dump(exclude={"uri"})

        posted = rc.update_incoming_phone_number(sid, rcm.IncomingPhoneNumberUpdateForm(
            friendly_name="Main line", voice_url="https://example.com/voice", voice_method="GET",
            sms_capable=True))
        assert (posted.friendly_name, posted.voice_url, posted.voice_method,
                posted.capabilities.sms_capable) == (
            "Main line", "https://example.com/voice", "GET", True)
        # PUT does the same; an empty URL clears it; PhoneNumber and AccountSid are ignored.
        put = rc.update_incoming_phone_number_put(sid, rcm.IncomingPhoneNumberUpdateForm(
            voice_url="", phone_number="+15555550100", account_sid=RC_SUB1.username),
            format="xml")
        assert (put.voice_url, put.voice_method, put.friendly_name, put.phone_number,
                put.account_sid) == (None, "GET", "Main line", plain, account)
        assert rc.update_incoming_phone_number(sid).friendly_name == "Main line"  # empty body
        assert rc.get_incoming_phone_number(sid).voice_url is None

        # The typed routes create with their type; their lists do not filter (as the server).
        typed = [
            rc.create_local_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=local)),
            rc.create_toll_free_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=toll_free), format="xml"),
            rc.create_mobile_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=mobile, friendly_name="Cell")),
        ]
        assert [n.phone_number for n in typed] == [local, toll_free, mobile]
        assert typed[2].friendly_name == "Cell"
        mine = {sid, *(n.sid for n in typed)}
        base = f"/2012-04-24/Accounts/{account}/IncomingPhoneNumbers"
        whole = {n.sid for n in rc.iter_incoming_phone_numbers()}
        assert mine <= whole
        for lister, suffix in ((rc.list_local_incoming_phone_numbers, "/Local"),
                               (rc.list_toll_free_incoming_phone_numbers, "/TollFree"),
                               (rc.list_mobile_incoming_phone_numbers, "/Mobile")):
            for fmt in ("json", "xml"):
                page = lister(page_size=1000, format=fmt)
                assert page.uri == base + suffix
                assert {n.sid for n in page.incoming_phone_numbers} == whole
        assert {n.sid for n in rc.iter_local_incoming_phone_numbers(page_size=2)} == whole
        xml_page = rc.list_incoming_phone_numbers(page_size=1000, format="xml")
        assert {n.sid for n in xml_page.incoming_phone_numbers} == whole

        for number_sid in mine:
            rc.delete_incoming_phone_number(number_sid)
            with pytest.raises(ApiError) as gone:
                rc.get_incoming_phone_number(number_sid)
            assert gone.value.status_code == 404
        assert refused(lambda: rc.delete_incoming_phone_number(sid)).status_code == 404
        assert refused(lambda: rc.update_incoming_phone_number(sid)).status_code == 404
    assert all(in_pool(env, n) for n in (plain, local, toll_free, mobile))


def test_restcomm_async_client_every_operation(env: Env) -> None:
    (number,) = env.numbers(1)

    async def scenario() -> None:
        async with AsyncRestcommClient(*rc_login(RC_SUB2), base_url=env.rc_url) as rc:
            created = await rc.create_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=number), format="xml")
            assert created.uri.endswith(created.sid)  # XML: no .json
            assert (await rc.get_incoming_phone_number(created.sid)).phone_number == number
            listed = [n.sid async for n in rc.iter_incoming_phone_numbers(phone_number=number)]
            assert listed == [created.sid]
            put = await rc.update_incoming_phone_number_put(
                created.sid, rcm.IncomingPhoneNumberUpdateForm(friendly_name="async"))
            posted = await rc.update_incoming_phone_number(
                created.sid, rcm.IncomingPhoneNumberUpdateForm(sms_url="https://e.example/s"),
                format="xml")
            assert (put.friendly_name, posted.friendly_name, posted.sms_url) == (
                "async", "async", "https://e.example/s")
            await rc.delete_incoming_phone_number(created.sid)
            with pytest.raises(ApiError) as gone:
                await rc.get_incoming_phone_number(created.sid, format="xml")
            assert gone.value.status_code == 404

    asyncio.run(scenario())


def test_restcomm_json_and_xml_on_the_wire(env: Env) -> None:
    numbers = env.numbers(2)
    account = RC_SUB1.username
    auth = rc_login(RC_SUB1)
    with env.rc(auth) as rc:
        sids = [rc.create_incoming_phone_number(
            rcm.IncomingPhoneNumberCreateForm(phone_number=n)).sid for n in numbers]
    base = f"/restcomm/2012-04-24/Accounts/{account}/IncomingPhoneNumbers"
    uri = f"/2012-04-24/Accounts/{account}/IncomingPhoneNumbers"
    with env.raw() as http:
        def get(path: str, accept: str | None, **params: Any) -> httpx.Response:
            request = http.build_request("GET", path, params=params)
            if accept is None:
                del request.headers["Accept"]
            else:
                request.headers["Accept"] = accept
            return http.send(request, auth=auth)

        def kind(answer: httpx.Response) -> str:
            assert answer.status_code == 200, answer.text
            return answer.headers["content-type"].split(";")[0]

        one = f"{base}/{sids[0]}"
        # `.json` wins over Accept; without it XML is the default, and Accept naming json picks JSON.
        assert kind(get(one + ".json", "application/xml")) == "application/json"
        assert kind(get(one, None)) == "application/xml"
        assert kind(get(one, "*/*")) == "application/xml"
        assert kind(get(one, "application/json")) == "application/json"
        assert kind(get(one, "text/html, application/json;q=0.9")) == "application/json"
        assert kind(get(base + "/Local.json", "application/xml")) == "application/json"
        assert kind(get(base + "/TollFree", None)) == "application/xml"
        refusal = get(one, "text/plain")
        assert refusal.status_code == 406 and refusal.content == b""

        as_json = get(one + ".json", None).json()
        assert as_json["uri"] == f"{uri}/{sids[0]}.json"
        assert list(as_json)[:4] == ["sid", "account_sid", "friendly_name", "phone_number"]
        assert "voice_application_name" not in as_json
        assert as_json["capabilities"] == {"voice_capable": False, "sms_capable": False,
                                           "mms_capable": False, "fax_capable": False}

        text = get(one, None).text
        assert not text.startswith("<?xml")
        root = ET.fromstring(text)
        assert root.tag == "RestcommResponse" and [c.tag for c in root] == ["IncomingPhoneNumber"]
        number = root[0]
        assert [c.tag for c in number] == XML_NUMBER_TAGS
        assert number.findtext("Uri") == f"{uri}/{sids[0]}"  # no .json in XML
        assert number.findtext("Sid") == sids[0]
        assert number.findtext("VoiceMethod") == "POST"
        assert number.findtext("VoiceCallerIdLookup") == "false"
        assert [c.tag for c in number.find("Capabilities") or []] == ["Voice", "Sms", "Mms", "Fax"]

        listing = get(base, "application/xml", PageSize=1)
        root = ET.fromstring(listing.text)
        assert [c.tag for c in root] == ["IncomingPhoneNumbers"]
        page = root[0]
        assert list(page.attrib) == XML_PAGE_ATTRIBUTES
        assert (page.get("page"), page.get("pagesize"), page.get("start"), page.get("end")) == (
            "0", "1", "0", "0")
        assert page.get("total") == page.get("numpages")  # the server's XML quirk
        assert page.get("previouspageuri") == "null"
        assert page.get("nextpageuri") == f"{uri}?Page=1&PageSize=1&AfterSid={sids[0]}"
        assert "&amp;AfterSid=" in listing.text  # escaped on the wire
        assert [c.tag for c in page] == ["IncomingPhoneNumber"]

        as_json = get(base + ".json", None, PageSize=1).json()
        assert list(as_json) == ["page", "num_pages", "page_size", "total", "start", "end", "uri",
                                 "first_page_uri", "previous_page_uri", "next_page_uri",
                                 "last_page_uri", "incomingPhoneNumbers"]
        assert (as_json["start"], as_json["end"], as_json["total"]) == ("0", "0", 2)
        assert as_json["first_page_uri"] == f"{uri}?Page=0&PageSize=1"
        assert as_json["previous_page_uri"] == "null"
        assert as_json["next_page_uri"] == f"{uri}?Page=1&PageSize=1&AfterSid={sids[0]}"
        assert as_json["incomingPhoneNumbers"][0]["uri"].endswith(".json")

        missing = get(f"{base}/PN{'0' * 32}.json", None)
        assert (missing.status_code, missing.content) == (404, b"")
        for sid in sids:
            assert http.delete(f"{base}/{sid}", auth=auth).status_code == 204


def test_restcomm_paging_sorting_and_filters(env: Env) -> None:
    numbers = env.numbers(23)
    names = [f"Sales {i}" if i < 8 else f"Support {i}" for i in range(23)]
    with env.rc(RC_PAGER) as rc:
        for number, name in zip(numbers, names, strict=True):
            rc.create_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=number, friendly_name=name))
        uri = f"/2012-04-24/Accounts/{RC_PAGER[0]}/IncomingPhoneNumbers"
        pages = [rc.list_incoming_phone_numbers(page=p, page_size=10) for p in range(3)]
        assert [(p.page, p.num_pages, p.page_size, p.total, p.start, p.end) for p in pages] == [
            (0, 2, 10, 23, "0", "9"), (1, 2, 10, 23, "10", "19"), (2, 2, 10, 23, "20", "23")]
        assert [len(p.incoming_phone_numbers) for p in pages] == [10, 10, 3]
        ordered = [n.phone_number for p in pages for n in p.incoming_phone_numbers]
        assert ordered == sorted(numbers)  # PhoneNumber ascending by default
        first, middle, last = pages
        assert (first.previous_page_uri, last.next_page_uri) == ("null", "null")
        after = middle.incoming_phone_numbers[-1].sid
        assert middle.next_page_uri == f"{uri}?Page=2&PageSize=10&AfterSid={after}"
        assert middle.previous_page_uri == f"{uri}?Page=0&PageSize=10"
        assert first.last_page_uri == f"{uri}?Page=2&PageSize=10"
        past = refused(lambda: rc.list_incoming_phone_numbers(page=3, page_size=10))
        assert past.status_code == 400
        assert [n.phone_number for n in rc.iter_incoming_phone_numbers(page_size=10)] == ordered
        default = rc.list_incoming_phone_numbers()
        assert (default.page_size, len(default.incoming_phone_numbers)) == (50, 23)
        assert default.next_page_uri == "null"
        xml_page = rc.list_incoming_phone_numbers(page=1, page_size=10, format="xml")
        assert xml_page.total == 2 and len(xml_page.incoming_phone_numbers) == 10  # XML quirk
        local = rc.list_local_incoming_phone_numbers(page=2, page_size=10)
        assert [n.phone_number for n in local.incoming_phone_numbers] == ordered[20:]

        backwards = [n.phone_number for n in rc.iter_incoming_phone_numbers(reverse=True)]
        assert backwards == ordered[::-1]
        by_name = [n.friendly_name for n in rc.iter_incoming_phone_numbers(
            sort_by="FriendlyName", page_size=7)]
        assert by_name == sorted(names)

        def matching(**filters: Any) -> set[str]:
            return {n.phone_number for n in rc.iter_incoming_phone_numbers(**filters)}

        sales = set(numbers[:8])
        assert matching(friendly_name="Sales") == sales
        assert matching(friendly_name="sales") == set()  # case-sensitive, like HSQLDB
        assert matching(friendly_name="Sal_s") == sales  # `_` is LIKE's one-character wildcard
        assert matching(friendly_name="port 1") == set(numbers[10:20])
        assert matching(friendly_name="*") == set()  # `*` is not a wildcard
        digits = numbers[5][-7:]
        assert matching(phone_number=digits) == {n for n in numbers if digits in n}
        assert matching(phone_number=digits, friendly_name="Support") == {
            n for n in numbers[8:] if digits in n}
        count = rc.list_incoming_phone_numbers(friendly_name="Sales", page_size=5)
        assert (count.total, count.num_pages) == (8, 1)
        for sid in [n.sid for n in rc.iter_incoming_phone_numbers()]:
            rc.delete_incoming_phone_number(sid)


def test_restcomm_filter_with_a_control_character_is_refused(env: Env) -> None:
    """GLOB stops at a NUL, so `PhoneNumber=%00` matched every number; control characters in
    a filter are now refused with 400 and a short text."""
    (number,) = env.numbers(1)
    path = f"/restcomm/2012-04-24/Accounts/{RC_SUB1.username}/IncomingPhoneNumbers"
    with env.rc(rc_login(RC_SUB1)) as rc:
        made = rc.create_incoming_phone_number(rcm.IncomingPhoneNumberCreateForm(
            phone_number=number, friendly_name="Control"))
    try:
        with env.raw() as http:
            for name, value in (("PhoneNumber", "\x00"), ("PhoneNumber", number[-4:] + "\x00"),
                                ("FriendlyName", "\x00"), ("FriendlyName", "Con\ttrol"),
                                ("PhoneNumber", "\x1f"), ("FriendlyName", "\x7f")):
                for url in (path, path + ".json", path + "/Local.json"):
                    answer = http.get(url, params={name: value}, auth=rc_login(RC_SUB1))
                    assert answer.status_code == 400, (name, value, url, answer.text)
                    assert answer.text == f"{name} must not contain control characters"
            found = http.get(path + ".json", params={"PhoneNumber": number[-4:]},
                             auth=rc_login(RC_SUB1))
            assert [n["sid"] for n in found.json()["incomingPhoneNumbers"]] == [made.sid]
    finally:
        with env.rc(rc_login(RC_SUB1)) as rc:
            rc.delete_incoming_phone_number(made.sid)


def test_restcomm_auth_matrix(env: Env) -> None:
    own_number, child_number = env.numbers(2)
    parent, sub1, sub2 = (l.username for l in (RC_DEMO, RC_SUB1, RC_SUB2))
    # A parent manages its sub-account's numbers.
    with env.rc(RC_DEMO_LOGIN, account_sid=sub1) as on_child:
        made = on_child.create_incoming_phone_number(
            rcm.IncomingPhoneNumberCreateForm(phone_number=child_number))
        assert made.account_sid == sub1
        assert made.sid in {n.sid for n in on_child.iter_incoming_phone_numbers()}
        assert on_child.get_incoming_phone_number(made.sid).sid == made.sid
        assert on_child.update_incoming_phone_number(made.sid, rcm.IncomingPhoneNumberUpdateForm(
            friendly_name="by parent")).friendly_name == "by parent"
    with env.rc(RC_DEMO_LOGIN) as own:
        mine = own.create_incoming_phone_number(
            rcm.IncomingPhoneNumberCreateForm(phone_number=own_number))
        # The parent's list holds its own numbers only; the child's number is not under it.
        assert made.sid not in {n.sid for n in own.iter_incoming_phone_numbers()}
        assert refused(lambda: own.get_incoming_phone_number(made.sid)).status_code == 403

    def forbidden(login: Login, path_account: str, sid: str) -> None:
        with env.rc(login, account_sid=path_account) as rc:
            for call in (
                rc.list_incoming_phone_numbers,
                lambda: rc.create_incoming_phone_number(
                    rcm.IncomingPhoneNumberCreateForm(phone_number="+12025550199")),
                lambda: rc.get_incoming_phone_number(sid),
                lambda: rc.update_incoming_phone_number_put(sid),
                lambda: rc.delete_incoming_phone_number(sid),
                lambda: rc.list_mobile_incoming_phone_numbers(format="xml"),
            ):
                error = refused(call)
                assert (error.status_code, error.body) == (403, None), (login[0], path_account)

    forbidden(rc_login(RC_SUB1), parent, mine.sid)  # a sub-account on its parent
    forbidden(rc_login(RC_SUB2), sub1, made.sid)  # a sibling
    forbidden(RC_ELSEWHERE, parent, mine.sid)  # another organisation
    forbidden(RC_ELSEWHERE, sub1, made.sid)

    with env.rc(RC_DEMO_LOGIN, account_sid="AC" + "0" * 32) as nowhere:
        assert refused(nowhere.list_incoming_phone_numbers).status_code == 404

    # Logins: AccountSid or e-mail, with the auth token or a password whose MD5 is the token.
    assert RC_DEMO.auth_token == _md5(RC_DEMO.password)
    for user in (RC_DEMO.username, RC_DEMO.email or ""):
        for secret in (RC_DEMO.password, RC_DEMO.auth_token):
            with env.rc((user, secret), account_sid=parent) as rc:
                assert mine.sid in {n.sid for n in rc.iter_incoming_phone_numbers()}
    with env.rc(("ops@elsewhere.example", RC_ELSEWHERE[1]), account_sid=RC_ELSEWHERE[0]) as rc:
        assert rc.list_incoming_phone_numbers().total == 0

    path = f"/restcomm/2012-04-24/Accounts/{parent}/IncomingPhoneNumbers"
    with env.raw() as http:
        for auth in (None, (parent, "wrong"), (RC_DEMO.email or "", "wrong"),
                     (parent, _md5("wrong")), ("nobody@numspec.example", RC_DEMO.password),
                     (parent, RC_DEMO.auth_token.upper() + "0"), FC_DEMO):
            for url in (path, path + ".json", f"{path}/{mine.sid}.json"):
                answer = http.get(url, auth=auth)
                assert answer.status_code == 401, (auth, url)
                assert answer.headers["www-authenticate"] == 'Basic realm="Restcomm realm"'
                assert answer.content == b""
        assert http.delete(f"{path}/{mine.sid}.json", auth=RC_DEMO_LOGIN).status_code == 204
        assert http.delete(f"/restcomm/2012-04-24/Accounts/{sub1}/IncomingPhoneNumbers/"
                           f"{made.sid}", auth=RC_DEMO_LOGIN).status_code == 204
    assert sub2  # named for the matrix above


def test_malformed_path_account(env: Env) -> None:
    """Restcomm: a malformed AccountSid is an unknown account, 404 with no body, on every
    route (list, create, get, update, delete; XML and JSON). FreeClimb: 400, code 81."""
    sid = "PN" + "0" * 32
    with env.raw() as http:
        for bad in ("x", "AC123", "AC" + "-" * 32, "AC" + "0" * 33):
            base = f"/restcomm/2012-04-24/Accounts/{bad}/IncomingPhoneNumbers"
            for method, path, data in (
                ("GET", base, None), ("GET", base + ".json", None),
                ("GET", base + "/Local", None), ("GET", base + "/TollFree.json", None),
                ("POST", base, {"PhoneNumber": "+13125550100"}),
                ("POST", base + "/Mobile.json", {}),
                ("GET", f"{base}/{sid}", None), ("GET", f"{base}/{sid}.json", None),
                ("POST", f"{base}/{sid}", {"FriendlyName": "x"}),
                ("PUT", f"{base}/{sid}.json", {"FriendlyName": "x"}),
                ("DELETE", f"{base}/{sid}", None),
            ):
                answer = http.request(method, path, data=data, auth=RC_DEMO_LOGIN)
                assert (answer.status_code, answer.content) == (404, b""), (method, path)
            # Without credentials it is 401 first, as for any other path account.
            assert http.get(base + ".json").status_code == 401
        fc_bad = http.get("/apiserver/Accounts/AC123/IncomingPhoneNumbers", auth=FC_DEMO)
        assert fc_bad.status_code == 400 and fc_bad.json()["code"] == 81


# -- both providers, one network -------------------------------------------------------------------


def test_a_number_has_one_owner_across_providers(env: Env) -> None:
    (number,) = env.numbers(1)
    with env.fc() as fc, env.fc(FC_OTHER) as other, env.rc() as rc, \
            env.rc(rc_login(RC_SUB1)) as sub1:
        buy = fcm.BuyIncomingNumberRequest(phone_number=number)
        create = rcm.IncomingPhoneNumberCreateForm(phone_number=number)
        pid = fc.buy_a_phone_number(buy).phone_number_id or ""
        for who in (fc, other):
            with pytest.raises(ApiError) as taken:
                who.buy_a_phone_number(buy)
            assert taken.value.status_code == 409 and platform_code(taken.value) == 108
            assert isinstance(taken.value.body, fcm.PlatformError)
            assert taken.value.body.call == "ResourceConflict"
        for form in (create, rcm.IncomingPhoneNumberCreateForm(phone_number=number[2:])):
            with pytest.raises(ApiError) as taken:
                rc.create_incoming_phone_number(form)
            assert (taken.value.status_code, taken.value.body) == (400, UNAVAILABLE)

        # Released through FreeClimb, it can be provisioned through Restcomm, and not bought back.
        fc.delete_an_incoming_number(pid)
        assert in_pool(env, number)
        sid = rc.create_incoming_phone_number(create).sid
        assert not in_pool(env, number)
        assert refused(lambda: fc.buy_a_phone_number(buy)).status_code == 409
        assert refused(lambda: sub1.create_incoming_phone_number(create)).body == UNAVAILABLE
        rc.delete_incoming_phone_number(sid)
        assert in_pool(env, number)
        again = fc.buy_a_phone_number(buy)
        assert again.phone_number == number and again.phone_number_id != pid
        fc.delete_an_incoming_number(again.phone_number_id or "")

        # A number the network does not have (555 lines are fictional) cannot be had at all.
        ghost = "+12025550100"
        assert refused(lambda: fc.buy_a_phone_number(
            fcm.BuyIncomingNumberRequest(phone_number=ghost))).status_code == 409
        assert refused(lambda: rc.create_incoming_phone_number(
            rcm.IncomingPhoneNumberCreateForm(phone_number=ghost))).body == UNAVAILABLE

        # SIP numbers are virtual: unique per organisation only, and never from the pool.
        sip = rcm.IncomingPhoneNumberCreateForm(phone_number="1001", is_sip=True)
        first = rc.create_incoming_phone_number(sip)
        assert first.phone_number == "1001"  # not normalised
        assert refused(lambda: sub1.create_incoming_phone_number(sip)).body == UNAVAILABLE
        with env.rc(RC_ELSEWHERE) as elsewhere:
            other_org = elsewhere.create_incoming_phone_number(sip)
            elsewhere.delete_incoming_phone_number(other_org.sid)
        rc.delete_incoming_phone_number(first.sid)


def _race(env: Env, number: str) -> list[tuple[str, int, object]]:
    """Eight buyers of one number at the same instant, four through each provider."""
    fc_logins = [FC_DEMO, FC_OTHER, FC_PAGER, FC_FILTERS]
    rc_logins = [RC_DEMO_LOGIN, rc_login(RC_SUB1), rc_login(RC_SUB2), RC_ELSEWHERE]
    barrier = threading.Barrier(8)
    results: list[tuple[str, int, object]] = []
    lock = threading.Lock()

    def attempt(provider: str, act: Callable[[], object]) -> None:
        barrier.wait()
        try:
            outcome: tuple[str, int, object] = (provider, 200, act())
        except ApiError as error:
            outcome = (provider, error.status_code, error.body)
        with lock:
            results.append(outcome)

    def fc_buyer(login: Login) -> None:
        with env.fc(login) as client:
            client.list_available_numbers(phone_number="^$")  # connect before the barrier
            attempt("freeclimb", lambda: client.buy_a_phone_number(
                fcm.BuyIncomingNumberRequest(phone_number=number)))

    def rc_buyer(login: Login) -> None:
        with env.rc(login) as client:
            client.list_incoming_phone_numbers(page_size=1)
            attempt("restcomm", lambda: client.create_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=number)))

    threads = [threading.Thread(target=fc_buyer, args=(login,)) for login in fc_logins]
    threads += [threading.Thread(target=rc_buyer, args=(login,)) for login in rc_logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 8
    return results


def _release(env: Env, winner: object) -> None:
    if isinstance(winner, fcm.IncomingNumber):
        login = {FC_DEMO[0]: FC_DEMO, FC_OTHER[0]: FC_OTHER, FC_PAGER[0]: FC_PAGER,
                 FC_FILTERS[0]: FC_FILTERS}[winner.account_id or ""]
        with env.fc(login) as fc:
            fc.delete_an_incoming_number(winner.phone_number_id or "")
    else:
        assert isinstance(winner, rcm.IncomingPhoneNumber)
        # The demo parent manages its own and its sub-accounts' numbers; the other org its own.
        login = RC_ELSEWHERE if winner.account_sid == RC_ELSEWHERE[0] else RC_DEMO_LOGIN
        with env.rc(login, account_sid=winner.account_sid) as rc:
            rc.delete_incoming_phone_number(winner.sid)


def test_concurrent_buys_of_one_number_have_one_winner(env: Env) -> None:
    for number in env.numbers(3):
        results = _race(env, number)
        winners = [r for r in results if r[1] == 200]
        assert len(winners) == 1, results
        for provider, status, body in results:
            if status == 200:
                continue
            if provider == "freeclimb":  # the loser's own provider's answer
                assert status == 409 and isinstance(body, fcm.PlatformError), results
                assert body.code == 108
            else:
                assert (status, body) == (400, UNAVAILABLE), results
        _release(env, winners[0][2])
        assert in_pool(env, number)


def test_concurrent_async_buys_and_updates(env: Env) -> None:
    (number,) = env.numbers(1)

    async def scenario() -> list[object]:
        async with AsyncExitStack() as stack:
            fcs = [await stack.enter_async_context(AsyncFreeClimbClient(*login, base_url=env.fc_url))
                   for login in (FC_DEMO, FC_OTHER, FC_PAGER, FC_FILTERS)]
            rcs = [await stack.enter_async_context(AsyncRestcommClient(*login, base_url=env.rc_url))
                   for login in (RC_DEMO_LOGIN, rc_login(RC_SUB1), rc_login(RC_SUB2),
                                 RC_ELSEWHERE)]
            calls: list[Coroutine[Any, Any, object]] = [
                c.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phone_number=number))
                for c in fcs]
            calls += [c.create_incoming_phone_number(
                rcm.IncomingPhoneNumberCreateForm(phone_number=number)) for c in rcs]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    outcomes = asyncio.run(scenario())
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ApiError) and o.status_code in (400, 409)
               for o in outcomes if o is not winners[0])
    _release(env, winners[0])

    # Concurrent updates of one number lose nothing: every one adds to revision.
    (target,) = env.numbers(1)
    with env.fc() as fc:
        pid = fc.buy_a_phone_number(
            fcm.BuyIncomingNumberRequest(phone_number=target)).phone_number_id or ""

    def updater(worker: int) -> None:
        with env.fc() as client:
            for step in range(5):
                client.update_an_incoming_number(
                    pid, fcm.IncomingNumberRequest(alias=f"w{worker} s{step}"))

    threads = [threading.Thread(target=updater, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with env.fc() as fc:
        final = fc.get_an_incoming_number(pid)
        assert final.revision == 1 + 8 * 5
        assert re.fullmatch(r"w[0-7] s4", final.alias or "")
        fc.delete_an_incoming_number(pid)


# -- limits and hostile input ----------------------------------------------------------------------


def test_a_body_over_the_limit_is_413(env: Env) -> None:
    fc_path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    rc_path = f"/restcomm/2012-04-24/Accounts/{RC_DEMO.username}/IncomingPhoneNumbers"
    big = "x" * 70_000

    def chunks(head: bytes) -> Iterator[bytes]:  # no Content-Length: the stub must count
        yield head
        for _ in range(70):
            yield b"x" * 1000

    with env.raw() as http:
        for answer in (
            http.post(fc_path, json={"phoneNumber": "+13125550100", "alias": big}, auth=FC_DEMO),
            http.post(fc_path, content=chunks(b'{"alias": "'), auth=FC_DEMO,
                      headers={"Content-Type": "application/json"}),
            http.post(f"{fc_path}/PN{'0' * 40}", json={"alias": big}, auth=FC_DEMO),
        ):
            assert answer.status_code == 413, answer.text
            assert answer.json()["code"] == 3
        for answer in (
            http.post(rc_path, data={"PhoneNumber": "1", "FriendlyName": big},
                      auth=RC_DEMO_LOGIN),
            http.post(rc_path + ".json", content=chunks(b"PhoneNumber=1&FriendlyName="),
                      auth=RC_DEMO_LOGIN,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}),
            http.put(f"{rc_path}/PN{'0' * 32}", data={"FriendlyName": big},
                     auth=RC_DEMO_LOGIN),
        ):
            assert answer.status_code == 413, answer.text
        # Just under the limit is read (and refused for what it says, not for its size).
        fine = http.post(fc_path, json={"phoneNumber": "+1", "alias": "x" * 60_000}, auth=FC_DEMO)
        assert fine.status_code == 400


def test_freeclimb_body_that_is_not_a_json_object_is_invalid_json(env: Env) -> None:
    """Code 9 "Invalid JSON" for a body that does not parse or is not an object; 81 stays for
    a JSON object with a bad value."""
    path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    json_type = {"Content-Type": "application/json"}
    with env.raw() as http:
        for content in (b"{", b"[1, 2]", b"null", b'"+13125550100"', b'{"a": 1,}',
                        b"[" * 30000 + b"]" * 30000):
            for url in (path, f"{path}/PN{'0' * 40}"):
                answer = http.post(url, content=content, headers=json_type, auth=FC_DEMO)
                assert answer.status_code == 400, (content[:20], url, answer.text)
                body = answer.json()
                assert (body["code"], body["call"]) == (9, "Invalid JSON"), (content[:20], body)
                assert body["url"].endswith("#9")
        bad_value = http.post(path, json={"phoneNumber": "555"}, auth=FC_DEMO)
        assert (bad_value.status_code, bad_value.json()["code"]) == (400, 81)
        missing = http.post(path, json={}, auth=FC_DEMO)
        assert (missing.status_code, missing.json()["code"]) == (400, 80)


def test_freeclimb_method_not_allowed_is_code_2(env: Env) -> None:
    path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    with env.raw() as http:
        for method, url in (("PATCH", path), ("PUT", f"{path}/PN{'0' * 40}"),
                            ("DELETE", "/apiserver/AvailablePhoneNumbers")):
            answer = http.request(method, url, auth=FC_DEMO)
            assert answer.status_code == 405, (method, url)
            assert (answer.json()["code"], answer.json()["call"]) == (2, "Method Not Allowed")


NASTY: list[tuple[str, str, str, dict[str, Any], int]] = [
    # (what, method, path (FC = FreeClimb list, RC = Restcomm list), httpx kwargs, status)
    ("JSON array body", "POST", "FC", {"json": [1, 2]}, 400),
    ("JSON null body", "POST", "FC", {"content": b"null", "headers": {"Content-Type": "application/json"}}, 400),
    ("truncated JSON", "POST", "FC", {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400),
    ("deeply nested JSON", "POST", "FC", {"content": b"[" * 30000 + b"]" * 30000,
                                          "headers": {"Content-Type": "application/json"}}, 400),
    ("JSON NaN", "POST", "FC", {"content": b'{"phoneNumber": NaN}',
                                "headers": {"Content-Type": "application/json"}}, 400),
    ("JSON lone surrogate", "POST", "FC", {"content": b'{"phoneNumber": "\\ud800"}',
                                           "headers": {"Content-Type": "application/json"}}, 400),
    ("JSON invalid UTF-8", "POST", "FC", {"content": b'{"alias": "\xff"}',
                                          "headers": {"Content-Type": "application/json"}}, 400),
    ("JSON huge number", "POST", "FC", {"content": b'{"phoneNumber": ' + b"9" * 5000 + b"}",
                                        "headers": {"Content-Type": "application/json"}}, 400),
    ("text body to FreeClimb", "POST", "FC", {"content": b"phoneNumber=1",
                                              "headers": {"Content-Type": "text/plain"}}, 415),
    ("invalid UTF-8 form", "POST", "RC", {"content": b"PhoneNumber=%2B1\xff\xfe", "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}, 400),
    ("percent-encoded invalid UTF-8 form", "POST", "RC", {"content": b"PhoneNumber=%ff%fe",
                                                          "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400),
    ("JSON to Restcomm", "POST", "RC", {"json": {"PhoneNumber": "1"}}, 415),
    ("AreaCode alone", "POST", "RC", {"data": {"AreaCode": "312"}}, 400),
    ("bad boolean", "POST", "RC", {"data": {"PhoneNumber": "1", "isSIP": "yes"}}, 400),
    ("method not GET/POST", "POST", "RC", {"data": {"PhoneNumber": "1", "VoiceMethod": "DELETE"}}, 400),
    ("control character name", "POST", "RC", {"data": {"PhoneNumber": "1", "FriendlyName": "a\x01"}}, 400),
    ("huge regex", "GET", "FC", {"params": {"phoneNumber": "1" * 60_000}}, 400),
    ("huge repetition", "GET", "FC", {"params": {"phoneNumber": "a{1000}{1000}"}}, 400),
    ("NUL in regex", "GET", "FC", {"params": {"phoneNumber": "\x00"}}, 200),
    ("invalid UTF-8 in query", "GET", "FC?phoneNumber=%ff%fe&alias=%c3", {}, 200),
    ("huge cursor", "GET", "FC", {"params": {"cursor": "z" * 60_000}}, 400),
    ("huge filter", "GET", "RC", {"params": {"PhoneNumber": "1" * 60_000}}, 400),
    ("NUL in filter", "GET", "RC.json?PhoneNumber=%00", {}, 400),
    ("NUL in name filter", "GET", "RC?FriendlyName=a%00", {}, 400),
    ("huge Page", "GET", "RC", {"params": {"Page": "9" * 4000}}, 400),
    ("negative Page", "GET", "RC", {"params": {"Page": "-1"}}, 400),
    ("PageSize 0", "GET", "RC", {"params": {"PageSize": "0"}}, 400),
    ("Page not a number", "GET", "RC", {"params": {"Page": "abc"}}, 400),
    ("Page in Arabic digits", "GET", "RC", {"params": {"Page": "١"}}, 400),
    ("unknown SortBy", "GET", "RC", {"params": {"SortBy": "Sid"}}, 400),
    ("short Sid", "GET", "RC/xyz.json", {}, 404),
    ("non-ASCII Sid", "GET", "RC/PN" + "é" * 32, {}, 404),
    ("NUL in Sid", "GET", "RC/PN%00" + "a" * 31 + ".json", {}, 404),
    ("slash in Sid", "DELETE", "RC/PN%2F" + "a" * 31, {}, 404),
    ("huge Sid", "GET", "RC/PN" + "a" * 20_000, {}, 404),
    ("bad number id", "GET", "FC/PN123", {}, 400),
    ("dot segments", "GET", "FC/..%2F..%2Fx", {}, 404),
    ("unknown path", "GET", "/apiserver/Accounts", {}, 404),
    ("unknown Restcomm path", "GET", "/restcomm/2012-04-24/Accounts", {}, 404),
    ("malformed AccountSid", "GET", "/restcomm/2012-04-24/Accounts/x/IncomingPhoneNumbers.json", {}, 404),
    ("unsupported method", "PATCH", "FC", {}, 405),
    ("unsupported Restcomm method", "DELETE", "RC", {}, 405),
]


def test_no_input_gets_a_500(env: Env) -> None:
    paths = {
        "FC": f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers",
        "RC": f"/restcomm/2012-04-24/Accounts/{RC_DEMO.username}/IncomingPhoneNumbers",
    }
    failures: list[tuple[object, int, str]] = []
    with env.raw() as http:
        def check(what: object, expected: int, method: str, path: str, **kwargs: Any) -> None:
            try:
                answer = http.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # the server dropped the connection
                failures.append((what, 0, repr(exc)))
                return
            if answer.status_code != expected or "Traceback" in answer.text:
                failures.append((what, answer.status_code, answer.text[:200]))
            elif path.startswith("/apiserver") and expected != 200:
                assert "code" in answer.json(), what  # FreeClimb errors are PlatformErrors

        for what, method, where, kwargs, expected in NASTY:
            prefix = where[:2]
            path = paths[prefix] + where[2:] if prefix in paths else where
            auth = FC_DEMO if path.startswith("/apiserver") else RC_DEMO_LOGIN
            check(what, expected, method, path, auth=auth, **kwargs)
        # Credentials that cannot be decoded are no credentials.
        for header in (b"Basic \xff\xfe", b"Basic %%%", b"Basic " + b"QUJD" * 5000,
                       b"Bearer abc", b"Basic " + base64.b64encode(b"\xff:\xfe")):
            for path in paths.values():
                check(header[:20], 401, "GET", path, headers={"Authorization": header})
        check("still serving", 200, "GET", paths["FC"], auth=FC_DEMO)
    assert failures == []


# -- durability ------------------------------------------------------------------------------------


def test_restart_keeps_the_data(env: Env) -> None:
    fc_number, rc_number = env.numbers(2)
    with env.fc() as fc, env.rc(RC_DEMO_LOGIN, account_sid=RC_SUB2.username) as rc:
        bought = fc.buy_a_phone_number(
            fcm.BuyIncomingNumberRequest(phone_number=fc_number, alias="kept"))
        bought = fc.update_an_incoming_number(
            bought.phone_number_id or "", fcm.IncomingNumberRequest(campaign_id="CX1"))
        created = rc.create_incoming_phone_number(
            rcm.IncomingPhoneNumberCreateForm(phone_number=rc_number, friendly_name="kept too"))
    env.server.stop()
    env.server.start()
    assert accounts.describe_demo_logins() in env.server.log_text()
    with env.fc() as fc, env.rc(rc_login(RC_SUB2)) as rc:
        assert fc.get_an_incoming_number(bought.phone_number_id or "") == bought
        assert rc.get_incoming_phone_number(created.sid) == created
        assert not in_pool(env, fc_number) and not in_pool(env, rc_number)
        # Still one owner per line after the restart.
        assert refused(lambda: rc.create_incoming_phone_number(
            rcm.IncomingPhoneNumberCreateForm(phone_number=fc_number))).body == UNAVAILABLE
        fc.delete_an_incoming_number(bought.phone_number_id or "")
        rc.delete_incoming_phone_number(created.sid)
    assert in_pool(env, fc_number) and in_pool(env, rc_number)



def test_null_is_refused_where_the_contract_allows_no_null(env: Env) -> None:
    """alias/applicationId are strings; campaignId alone may be null (it removes the campaign)."""
    (number,) = env.numbers(1)
    fc_path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    with env.raw() as http:
        refused_buy = http.post(fc_path, json={"phoneNumber": number, "applicationId": None},
                                auth=FC_DEMO)
        assert refused_buy.status_code == 400, refused_buy.text
        assert "applicationId" in refused_buy.json()["message"]
        assert in_pool(env, number)  # nothing was bought
        bought = http.post(fc_path, json={"phoneNumber": number}, auth=FC_DEMO)
        assert bought.status_code == 200, bought.text
        own = f"{fc_path}/{bought.json()['phoneNumberId']}"
        assert http.post(own, json={"alias": None}, auth=FC_DEMO).status_code == 400
        cleared = http.post(own, json={"campaignId": None}, auth=FC_DEMO)
        assert cleared.status_code == 200 and cleared.json()["campaignId"] is None
        assert http.delete(own, auth=FC_DEMO).status_code == 204


# -- `numspec serve` that cannot start ---------------------------------------------------------------


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`numspec serve ARGS` to its end (each of these refuses to start, so it ends at once)."""
    return subprocess.run([*numspec_command(), "serve", *args], check=False, cwd=ROOT,
                          env=_environment(), capture_output=True, text=True, timeout=120)


def one_line_error(run: subprocess.CompletedProcess[str], *, warned: bool = False) -> str:
    """The run ended with exit 1 and one `error:` line on stderr (after the public-demo
    warning when `warned`); returns that line."""
    lines = run.stderr.splitlines()
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    assert len(lines) == 1 + warned, run.stderr
    assert lines[0].startswith("warning: ") == warned, run.stderr
    assert lines[-1].startswith("error: "), run.stderr
    return lines[-1]


@pytest.mark.parametrize("content", [b"this is not a database" * 300, b"SQLite format 3\x00" + b"\xff" * 5000])
def test_serve_refuses_a_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "notadb.db"
    db.write_bytes(content)
    line = one_line_error(serve("--db", str(db), "--port", str(free_port())))
    assert line.startswith(f"error: cannot open {db}: ")
    assert db.read_bytes() == content  # left as it was


def test_serve_refuses_a_database_it_cannot_create() -> None:
    line = one_line_error(serve("--db", "/proc/numspec-x.db", "--port", str(free_port())))
    assert line.startswith("error: cannot open /proc/numspec-x.db: ")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_serve_on_a_busy_port_is_one_line(host: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(serve("--db", ":memory:", "--host", host, "--port", str(port)))
    assert line.startswith(f"error: cannot listen on {host}:{port}: ")


def test_serve_warns_that_demo_accounts_are_public_off_loopback() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning comes, then the bind
    # fails, so nothing is ever exposed by the test.
    port = free_port()
    run = serve("--db", ":memory:", "--host", "192.0.2.1", "--port", str(port))
    one_line_error(run, warned=True)
    warning = run.stderr.splitlines()[0]
    assert "192.0.2.1" in warning and "demo accounts" in warning and str(port) in warning
    assert "anyone" in warning


def test_serve_on_loopback_does_not_warn(env: Env) -> None:
    log = env.server.log_text()
    assert "numspec emulator: state" in log and "warning" not in log.lower()
