"""FreeClimb Applications: the real `numspec serve` on loopback, driven by the generated clients
(raw httpx where the wire is the point), and the store migration that brings them to older files.

A number's `applicationId` is a reference: it must name an application of the same account,
the `hasApplication` filter follows it, and deleting the application unlinks its numbers.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from numspec.emulator import accounts
from numspec.emulator.freeclimb_applications import Applications
from numspec.emulator.freeclimb_logic import FreeClimb
from numspec.emulator.store import SCHEMA_VERSION, Store, migrate
from numspec.generated.freeclimb import models as fcm
from numspec.generated.freeclimb.client import AsyncFreeClimbClient, FreeClimbClient
from numspec.generated.runtime import ApiError

from tests.emulator_process import EmulatorProcess

DEMO = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
OTHER = ("AC" + "4" * 40, "apps-other-key")
PAGER = ("AC" + "5" * 40, "apps-pager-key")
CONFIG = "".join(
    f'[[freeclimb.accounts]]\naccount_id = "{user}"\napi_key = "{key}"\n' for user, key in (OTHER, PAGER)
)
WIRE_KEYS = [
    "uri", "dateCreated", "dateUpdated", "revision", "accountId", "applicationId", "alias",
    "voiceUrl", "voiceFallbackUrl", "callConnectUrl", "statusCallbackUrl", "smsUrl",
    "smsFallbackUrl",
]
RFC1123 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")


class Env:
    def __init__(self, server: EmulatorProcess) -> None:
        self.server = server
        self.url = server.base_url + "/apiserver"
        self._pool: Iterator[str] | None = None

    def fc(self, login: tuple[str, str] = DEMO) -> FreeClimbClient:
        return FreeClimbClient(*login, base_url=self.url)

    def number(self) -> str:
        """A pool number this module has not used yet (the pool is shared by the accounts)."""
        if self._pool is None:
            with self.fc() as fc:
                self._pool = iter([n.phone_number for n in fc.iter_available_numbers()][:200])
        return next(self._pool)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("applications")
    (folder / "accounts.toml").write_text(CONFIG, encoding="utf-8")
    server = EmulatorProcess(folder / "numspec.db", folder / "server.log",
                             config=folder / "accounts.toml")
    server.start()
    try:
        yield Env(server)
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_text()


def refused(call: Callable[[], object]) -> tuple[int, int]:
    with pytest.raises(ApiError) as caught:
        call()
    body = caught.value.body
    assert isinstance(body, fcm.PlatformError), body
    return caught.value.status_code, body.code


def test_create_get_update_list_delete_over_the_wire(env: Env) -> None:
    account = DEMO[0]
    with httpx.Client(base_url=env.url, auth=DEMO, timeout=30) as http:
        answer = http.post(f"/Accounts/{account}/Applications",
                           json={"alias": "Front desk app", "voiceUrl": "https://app.example.com/voice",
                                 "smsUrl": "http://127.0.0.1:9/sms?x=1"})
        assert answer.status_code == 201, answer.text  # 201, unlike a bought number's 200
        created = answer.json()
        assert list(created) == WIRE_KEYS  # every key, in the contract's order
        app_id = created["applicationId"]
        assert re.fullmatch(r"AP[0-9a-f]{40}", app_id)
        assert created["uri"] == f"/Accounts/{account}/Applications/{app_id}"
        assert created["accountId"] == account and created["revision"] == 1
        assert RFC1123.fullmatch(created["dateCreated"])
        assert created["smsUrl"] == "http://127.0.0.1:9/sms?x=1"  # kept exactly as sent
        assert created["statusCallbackUrl"] is None and created["voiceFallbackUrl"] is None
        # No body at all is a valid create: an application to fill in later.
        bare = http.post(f"/Accounts/{account}/Applications")
        assert bare.status_code == 201 and bare.json()["alias"] is None

    with env.fc() as fc:
        got = fc.get_an_application(app_id)
        assert got.model_dump(by_alias=True) == created
        updated = fc.update_an_application(app_id, fcm.ApplicationRequest(
            voiceUrl=None, statusCallbackUrl="https://app.example.com/status"))
        assert (updated.voice_url, updated.status_callback_url, updated.alias, updated.revision) == (
            None, "https://app.example.com/status", "Front desk app", 2)
        assert fc.update_an_application(app_id).revision == 3  # the body is optional
        listed = fc.list_applications(alias="Front desk app")
        assert [a.application_id for a in listed.applications] == [app_id]
        assert (listed.total, listed.page, listed.next_page_uri) == (1, 0, None)
        assert fc.delete_an_application(app_id) is None
        assert refused(lambda: fc.get_an_application(app_id)) == (404, 1)
        assert refused(lambda: fc.update_an_application(app_id)) == (404, 1)
        assert refused(lambda: fc.delete_an_application(app_id)) == (404, 1)


def test_async_client_round_trip(env: Env) -> None:
    async def scenario() -> None:
        async with AsyncFreeClimbClient(*OTHER, base_url=env.url) as fc:
            made = await fc.create_an_application(fcm.ApplicationRequest(alias="async"))
            assert made.application_id is not None
            assert (await fc.get_an_application(made.application_id)).alias == "async"
            mine = [a.application_id async for a in fc.iter_applications()]
            assert made.application_id in mine
            await fc.delete_an_application(made.application_id)

    asyncio.run(scenario())


def test_bad_input_gets_freeclimbs_400(env: Env) -> None:
    account = DEMO[0]
    with httpx.Client(base_url=env.url, auth=DEMO, timeout=30) as http:
        for body in ({"voiceUrl": "ftp://example.com/x"}, {"smsUrl": "/relative"},
                     {"voiceUrl": "https://" + "a" * 2050}, {"alias": "x" * 65},
                     {"alias": None}, {"callConnectUrl": 7}):
            answer = http.post(f"/Accounts/{account}/Applications", json=body)
            assert answer.status_code == 400, (body, answer.text)
            assert answer.json()["code"] in (80, 81), answer.text
        bad_id = http.get(f"/Accounts/{account}/Applications/AP123")
        assert bad_id.status_code == 400 and bad_id.json()["code"] == 81
        not_json = http.post(f"/Accounts/{account}/Applications", content=b"alias=x",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert not_json.status_code == 415


def test_applications_belong_to_one_account(env: Env) -> None:
    with env.fc() as demo, env.fc(OTHER) as other:
        theirs = other.create_an_application(fcm.ApplicationRequest(alias="theirs"))
        app_id = theirs.application_id or ""
        assert refused(lambda: demo.get_an_application(app_id)) == (404, 1)
        assert app_id not in [a.application_id for a in demo.iter_applications()]
        with httpx.Client(base_url=env.url, auth=DEMO, timeout=30) as http:
            answer = http.get(f"/Accounts/{OTHER[0]}/Applications/{app_id}")
            assert answer.status_code == 403 and answer.json()["code"] == 51
        # A number cannot be linked to another account's application.
        number = env.number()
        assert refused(lambda: demo.buy_a_phone_number(fcm.BuyIncomingNumberRequest(
            phoneNumber=number, applicationId=app_id))) == (400, 81)


def test_a_numbers_application_is_a_real_reference(env: Env) -> None:
    unknown = "AP" + "0" * 40
    with env.fc() as fc:
        number = env.number()
        with pytest.raises(ApiError) as caught:
            fc.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phoneNumber=number,
                                                               applicationId=unknown))
        assert caught.value.status_code == 400
        assert isinstance(caught.value.body, fcm.PlatformError)
        assert unknown in (caught.value.body.message or "")
        # The refused buy took nothing: the number is still in the pool.
        assert fc.list_available_numbers(phone_number=f"^\\{number}$").total == 1

        app = fc.create_an_application(fcm.ApplicationRequest(
            alias="reception", voiceUrl="https://app.example.com/voice")).application_id or ""
        bought = fc.buy_a_phone_number(fcm.BuyIncomingNumberRequest(phoneNumber=number,
                                                                    applicationId=app))
        pid = bought.phone_number_id or ""
        assert bought.application_id == app

        def linked(**filters: object) -> bool:
            return pid in [n.phone_number_id for n in fc.iter_incoming_numbers(**filters)]

        assert linked(has_application=True) and not linked(has_application=False)
        assert linked(application_id=app)
        assert refused(lambda: fc.update_an_incoming_number(
            pid, fcm.IncomingNumberRequest(applicationId=unknown))) == (400, 81)
        assert fc.get_an_incoming_number(pid).application_id == app  # the refusal changed nothing

        second = fc.create_an_application().application_id or ""
        moved = fc.update_an_incoming_number(pid, fcm.IncomingNumberRequest(applicationId=second))
        assert moved.application_id == second and moved.revision == 2
        fc.delete_an_application(second)
        after = fc.get_an_incoming_number(pid)
        # Deleting the application unlinks the number, and that counts as an update of it.
        assert after.application_id is None and after.revision == 3
        assert linked(has_application=False) and not linked(has_application=True)
        fc.get_an_application(app)  # the other application is untouched
        fc.delete_an_incoming_number(pid)


def test_paging_follows_the_cursor(env: Env) -> None:
    with env.fc(PAGER) as fc:
        made = [fc.create_an_application(fcm.ApplicationRequest(alias=f"a{i % 2}")).application_id
                for i in range(103)]
        first = fc.list_applications()
        assert (first.total, first.num_pages, first.page_size, len(first.applications)) == (
            103, 2, 100, 100)
        assert [a.application_id for a in first.applications] == made[::-1][:100]  # newest first
        assert first.next_page_uri is not None and "cursor=" in first.next_page_uri
        assert [a.application_id for a in fc.iter_applications()] == made[::-1]
        # The cursor remembers the alias filter.
        odd = [a.application_id for a in fc.iter_applications(alias="a1")]
        assert odd == [m for i, m in enumerate(made) if i % 2][::-1]
        with httpx.Client(base_url=env.url, auth=PAGER, timeout=30) as http:
            answer = http.get(f"/Accounts/{PAGER[0]}/Applications", params={"cursor": "nope0"})
            assert answer.status_code == 400


def test_applications_survive_a_restart(tmp_path: Path) -> None:
    server = EmulatorProcess(tmp_path / "numspec.db", tmp_path / "server.log")
    server.start()
    try:
        with FreeClimbClient(*DEMO, base_url=server.base_url + "/apiserver") as fc:
            app = fc.create_an_application(fcm.ApplicationRequest(alias="kept")).application_id
    finally:
        server.stop()
    server.start()
    try:
        with FreeClimbClient(*DEMO, base_url=server.base_url + "/apiserver") as fc:
            assert fc.get_an_application(app or "").alias == "kept"
    finally:
        server.stop()


# -- the store migration ------------------------------------------------------------------


def test_older_file_gains_applications_for_the_links_it_holds(tmp_path: Path) -> None:
    """A file at the version before applications existed: the ids its numbers carry become
    applications of the account of the oldest number naming each, with no URLs yet."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    assert migrate(old, 4) == 4  # v5 added applications
    first, second = "AC" + "6" * 40, "AC" + "7" * 40
    shared, own = "AP" + "1" * 40, "AP" + "2" * 40
    old.execute("INSERT INTO meta VALUES ('inventory_seed', '1'), ('inventory_size', '1')")
    for sid in (first, second):
        old.execute("INSERT INTO accounts (sid, provider, secret, created_at) "
                    "VALUES (?, 'freeclimb', 'key', 0)", (sid,))
    rows = [  # (number id, account, application, created ms)
        ("PN" + "a" * 40, second, shared, 5_000), ("PN" + "b" * 40, first, shared, 1_000),
        ("PN" + "c" * 40, first, own, 2_000), ("PN" + "d" * 40, first, None, 3_000),
    ]
    for i, (sid, account, app, created) in enumerate(rows):
        old.execute(
            "INSERT INTO numbers (provider, sid, account_sid, phone_number, created_at, "
            "updated_at, application_id) VALUES ('freeclimb', ?, ?, ?, ?, ?, ?)",
            (sid, account, f"+1312555{i:04d}", created, created, app))
    old.close()

    store = Store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        apps = Applications(store)
        me = accounts.get_account(store, first)
        assert me is not None
        listed = apps.list_applications(me, first)["applications"]
        assert {a["applicationId"] for a in listed} == {shared, own}
        made = apps.get_an_application(me, first, shared)
        assert made["dateCreated"] == "Thu, 01 Jan 1970 00:00:01 GMT"  # the oldest number's date
        assert made["voiceUrl"] is None and made["alias"] is None and made["revision"] == 1
        # The numbers keep their links, and the links now name real applications.
        fc = FreeClimb(store)
        number = fc.get_an_incoming_number(me, first, "PN" + "c" * 40)
        assert number["applicationId"] == own
        apps.delete_an_application(me, first, own)
        assert fc.get_an_incoming_number(me, first, "PN" + "c" * 40)["applicationId"] is None
        # The later account keeps its text link; the application is the first account's.
        them = accounts.get_account(store, second)
        assert them is not None
        assert apps.list_applications(them, second)["total"] == 0
        assert fc.get_an_incoming_number(them, second, "PN" + "a" * 40)["applicationId"] == shared
    finally:
        store.close()
