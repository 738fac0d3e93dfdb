"""The emulator's storage and provider logic, on real SQLite files (no HTTP yet)."""

from __future__ import annotations

import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from numspec.emulator import accounts, inventory
from numspec.emulator.accounts import Account
from numspec.emulator.errors import ProviderError
from numspec.emulator.freeclimb_applications import Applications
from numspec.emulator.freeclimb_logic import FreeClimb
from numspec.emulator.restcomm_logic import Restcomm, like_to_glob
from numspec.emulator.store import SCHEMA_VERSION, SchemaTooNew, Store, compile_pattern

RFC1123 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
RFC2822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [1-9]\d? [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
NEXT_PAGE = re.compile(r"^/Accounts/AC[0-9a-f]{40}/IncomingPhoneNumbers\?cursor=[0-9a-zA-Z]{1,128}$")


class Clock:
    """A clock the test moves by hand, so dates are known and can be made to differ."""

    def __init__(self, ms: int = 1_478_532_318_000) -> None:  # Mon, 07 Nov 2016 15:25:18 GMT
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def open_store(path: str | Path, **options: Any) -> Store:
    """A store with the demo accounts, as `numspec serve` opens one."""
    store = Store(path, **options)
    accounts.ensure_demo_accounts(store)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = open_store(tmp_path / "numspec.db", inventory_size=600)
    yield db
    db.close()


@pytest.fixture
def fc(store: Store) -> FreeClimb:
    return FreeClimb(store)


@pytest.fixture
def rc(store: Store) -> Restcomm:
    return Restcomm(store)


def fc_demo(store: Store) -> Account:
    account = accounts.get_account(store, accounts.FREECLIMB_DEMO.username)
    assert account is not None
    return account


def rc_account(store: Store, login: accounts.DemoLogin = accounts.RESTCOMM_DEMO) -> Account:
    account = accounts.get_account(store, login.username)
    assert account is not None
    return account


def pool(store: Store, kind: str | None = None, limit: int = 1000) -> list[str]:
    with store.read() as conn:
        rows = conn.execute(
            "SELECT phone_number FROM inventory WHERE ? IS NULL OR kind = ? "
            "ORDER BY phone_number LIMIT ?", (kind, kind, limit),
        ).fetchall()
    return [row[0] for row in rows]


def refused(call: Any, *args: Any, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call(*args, **kwargs)
    return info.value


# -- files, versions, restart -------------------------------------------------------------


def test_file_database_uses_wal_and_keeps_data_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "keep.db"
    first = open_store(path, inventory_size=50)
    me = fc_demo(first)
    number = pool(first)[0]
    bought = FreeClimb(first).buy_a_phone_number(me, me.sid, {"phoneNumber": number})
    assert first.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first.close()

    again = open_store(path, inventory_size=9999)  # an existing pool is never re-seeded
    assert again.schema_version == SCHEMA_VERSION
    assert again.pool_size() == 49
    got = FreeClimb(again).get_an_incoming_number(me, me.sid, bought["phoneNumberId"])
    assert got == bought
    again.close()


# What schema v1 looked like when it shipped: frozen here, never edited, so an old file is
# really old even if MIGRATIONS changes by mistake.
V1_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE accounts (sid TEXT PRIMARY KEY,
        provider TEXT NOT NULL CHECK (provider IN ('freeclimb', 'restcomm')),
        secret TEXT NOT NULL, email TEXT, parent_sid TEXT REFERENCES accounts(sid),
        organization_sid TEXT, friendly_name TEXT, created_at INTEGER NOT NULL)""",
    "CREATE UNIQUE INDEX accounts_email ON accounts(provider, email) WHERE email IS NOT NULL",
    """CREATE TABLE inventory (phone_number TEXT PRIMARY KEY, country TEXT NOT NULL,
        region TEXT, kind TEXT NOT NULL CHECK (kind IN ('local', 'tollfree', 'mobile')),
        voice INTEGER NOT NULL, sms INTEGER NOT NULL, toll_free INTEGER NOT NULL,
        ten_dlc INTEGER NOT NULL, short_code INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE numbers (id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL CHECK (provider IN ('freeclimb', 'restcomm')),
        sid TEXT NOT NULL UNIQUE, account_sid TEXT NOT NULL REFERENCES accounts(sid),
        phone_number TEXT NOT NULL, is_sip INTEGER NOT NULL DEFAULT 0, organization_sid TEXT,
        country TEXT, region TEXT, kind TEXT, voice INTEGER, sms INTEGER, toll_free INTEGER,
        ten_dlc INTEGER, short_code INTEGER, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, alias TEXT, application_id TEXT, campaign_id TEXT,
        tfn_campaign_id TEXT, offnet INTEGER NOT NULL DEFAULT 0,
        revision INTEGER NOT NULL DEFAULT 1, friendly_name TEXT, number_type TEXT,
        api_version TEXT, uri TEXT, voice_url TEXT, voice_method TEXT,
        voice_fallback_url TEXT, voice_fallback_method TEXT, status_callback TEXT,
        status_callback_method TEXT, voice_caller_id_lookup INTEGER NOT NULL DEFAULT 0,
        voice_application_sid TEXT, sms_url TEXT, sms_method TEXT, sms_fallback_url TEXT,
        sms_fallback_method TEXT, sms_application_sid TEXT, ussd_url TEXT, ussd_method TEXT,
        ussd_fallback_url TEXT, ussd_fallback_method TEXT, ussd_application_sid TEXT,
        refer_url TEXT, refer_method TEXT, refer_application_sid TEXT, voice_capable INTEGER,
        sms_capable INTEGER, mms_capable INTEGER, fax_capable INTEGER)""",
    "CREATE UNIQUE INDEX numbers_line ON numbers(phone_number) WHERE is_sip = 0",
    """CREATE UNIQUE INDEX numbers_sip ON numbers(organization_sid, phone_number)
        WHERE is_sip = 1""",
    "CREATE INDEX numbers_newest ON numbers(account_sid, id)",
    "PRAGMA user_version = 1",
]


def test_v1_database_file_opens_and_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    account_id = "AC" + "1" * 40
    old = sqlite3.connect(path)
    for statement in V1_SCHEMA:
        old.execute(statement)
    old.execute("INSERT INTO meta VALUES ('inventory_seed', '1'), ('inventory_size', '1')")
    old.execute("INSERT INTO accounts VALUES (?, 'freeclimb', 'key-1', NULL, NULL, NULL, NULL, 0)",
                (account_id,))
    old.execute("INSERT INTO inventory VALUES ('+13125550100', 'US', 'IL', 'local', 1, 1, 0, 1, 0)")
    old.execute(
        "INSERT INTO numbers (provider, sid, account_sid, phone_number, country, region, kind, "
        "voice, sms, toll_free, ten_dlc, short_code, created_at, updated_at, alias) VALUES "
        "('freeclimb', ?, ?, '+13125550199', 'US', 'IL', 'local', 1, 1, 0, 1, 0, 0, 0, 'old')",
        ("PN" + "2" * 40, account_id),
    )
    old.commit()
    old.close()

    store = open_store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        me = accounts.authenticate(store, "freeclimb", account_id, "key-1")
        assert me is not None and me.status == "active"
        fc = FreeClimb(store)
        listed = fc.list_incoming_numbers(me, account_id)
        assert [n["alias"] for n in listed["incomingPhoneNumbers"]] == ["old"]
        assert listed["total"] == 1  # v3 counted the rows that were already there
        assert listed["incomingPhoneNumbers"][0]["campaignAssignmentTime"] is None
        assert store.pool_size() == 1  # the old pool is kept, not re-seeded
        fc.buy_a_phone_number(me, account_id, {"phoneNumber": "+13125550100"})
        assert fc.list_incoming_numbers(me, account_id)["total"] == 2
        assert accounts.get_account(store, accounts.RESTCOMM_DEMO.username) is not None
    finally:
        store.close()


def test_database_from_a_newer_numspec_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew):
        Store(path)


def test_memory_database_works_and_is_shared_between_threads() -> None:
    store = open_store(":memory:", inventory_size=20)
    me = fc_demo(store)
    fc = FreeClimb(store)
    numbers = pool(store)
    errors: list[BaseException] = []

    def buy(number: str) -> None:
        try:
            fc.buy_a_phone_number(me, me.sid, {"phoneNumber": number})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=buy, args=(n,)) for n in numbers[:10]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fc.list_incoming_numbers(me, me.sid)["total"] == 10
    store.close()


# -- inventory ------------------------------------------------------------------------------


def test_pool_is_deterministic_and_mixed(tmp_path: Path) -> None:
    a = open_store(tmp_path / "a.db", inventory_size=300)
    b = open_store(tmp_path / "b.db", inventory_size=300)
    try:
        assert pool(a) == pool(b)
        with a.read() as conn:
            kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM inventory GROUP BY kind"))
            regions = {r[0] for r in conn.execute("SELECT DISTINCT region FROM inventory")}
            toll_free = conn.execute(
                "SELECT phone_number, region, toll_free FROM inventory WHERE kind = 'tollfree'"
            ).fetchall()
        assert set(kinds) == {"local", "tollfree", "mobile"} and sum(kinds.values()) == 300
        assert regions - {None} <= set(inventory.AREA_CODES.values())
        assert all(row[0][2:5] in inventory.TOLL_FREE_CODES and row[1] is None and row[2]
                   for row in toll_free)
        assert all(inventory.AREA_CODES[n[2:5]] for n in pool(a, "local"))
    finally:
        a.close()
        b.close()


def test_default_pool_size_is_a_few_thousand() -> None:
    store = open_store(":memory:")
    assert store.pool_size() == inventory.DEFAULT_SIZE >= 5000
    store.close()


def test_bulk_seeding_100k_owned_numbers(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    assert fc.seed_numbers(me.sid, 100_000) == 100_000
    page = fc.list_incoming_numbers(me, me.sid)
    assert page["total"] == 10_000  # FreeClimb caps every listing at 10 000 items
    assert page["numPages"] == 100 and len(page["incomingPhoneNumbers"]) == 100
    seeded = {n["phoneNumber"] for n in page["incomingPhoneNumbers"]}
    assert not seeded & set(pool(store))  # seeded numbers never come from the pool
    rc = Restcomm(store)
    sub = rc_account(store, accounts.RESTCOMM_DEMO_SUBS[0])
    assert rc.seed_numbers(sub.sid, 1_000) == 1_000
    assert rc.list_incoming_phone_numbers(sub, sub.sid)["total"] == 1_000


# -- one owner per number, under concurrency -----------------------------------------------


def test_unique_index_refuses_a_second_owner(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    bought = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": pool(store)[0]})
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        conn.execute(
            "INSERT INTO numbers (provider, sid, account_sid, phone_number, created_at, "
            "updated_at) VALUES ('freeclimb', ?, ?, ?, 0, 0)",
            ("PN" + "f" * 40, me.sid, bought["phoneNumber"]),
        )


def test_concurrent_buys_of_one_number_have_exactly_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    stores = [open_store(path, inventory_size=100), open_store(path)]  # two "processes" on one file
    try:
        fc_me = fc_demo(stores[0])
        rc_me = rc_account(stores[0])
        for number in pool(stores[0])[:5]:
            barrier = threading.Barrier(8)
            wins: list[str] = []
            losses: list[int] = []

            def attempt(i: int, number: str = number, barrier: threading.Barrier = barrier,
                        wins: list[str] = wins, losses: list[int] = losses) -> None:
                store = stores[i % 2]
                barrier.wait()
                try:
                    if i % 4 < 2:
                        FreeClimb(store).buy_a_phone_number(fc_me, fc_me.sid,
                                                            {"phoneNumber": number})
                        wins.append("freeclimb")
                    else:
                        Restcomm(store).create_incoming_phone_number(
                            rc_me, rc_me.sid, {"PhoneNumber": number})
                        wins.append("restcomm")
                except ProviderError as exc:
                    losses.append(exc.status)

            threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(wins) == 1, (number, wins, losses)
            # Each provider's own refusal: FreeClimb 409, Restcomm 400 "21452".
            assert len(losses) == 7 and set(losses) <= {400, 409}
            with stores[1].read() as conn:
                owners = conn.execute("SELECT COUNT(*) FROM numbers WHERE phone_number = ?",
                                      (number,)).fetchone()[0]
                in_pool = conn.execute("SELECT COUNT(*) FROM inventory WHERE phone_number = ?",
                                       (number,)).fetchone()[0]
            assert (owners, in_pool) == (1, 0)
    finally:
        for store in stores:
            store.close()


def test_concurrent_updates_lose_nothing(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    number = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": pool(store)[0]})
    barrier = threading.Barrier(8)

    def update(i: int) -> None:
        barrier.wait()
        for j in range(5):
            fc.update_an_incoming_number(me, me.sid, number["phoneNumberId"],
                                         {"alias": f"t{i}-{j}"})

    threads = [threading.Thread(target=update, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fc.get_an_incoming_number(me, me.sid, number["phoneNumberId"])["revision"] == 41


def test_a_number_moves_between_providers_only_through_the_pool(
    store: Store, fc: FreeClimb, rc: Restcomm
) -> None:
    me, rme = fc_demo(store), rc_account(store)
    number = pool(store)[0]
    bought = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": number})
    assert refused(rc.create_incoming_phone_number, rme, rme.sid,
                   {"PhoneNumber": number}).body == "21452"
    fc.delete_an_incoming_number(me, me.sid, bought["phoneNumberId"])
    created = rc.create_incoming_phone_number(rme, rme.sid, {"PhoneNumber": number})
    assert created["phone_number"] == number
    assert refused(fc.buy_a_phone_number, me, me.sid, {"phoneNumber": number}).status == 409


# -- regular expressions ----------------------------------------------------------------------


def test_catastrophic_pattern_runs_in_linear_time(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    fc.seed_numbers(me.sid, 500)
    started = time.monotonic()
    assert compile_pattern(r"(a+)+$").search("a" * 1_000_000 + "!") is None
    page = fc.list_incoming_numbers(me, me.sid, {"phoneNumber": r"^(\+|1+)+(1+)+$"})
    elapsed = time.monotonic() - started
    # Python's backtracking `re` would need longer than the age of the universe here.
    assert elapsed < 5, elapsed
    assert page["total"] == 0


@pytest.mark.parametrize("pattern", ["[", "(?=1)", r"(1)\1", "a{1001}", "(" * 300])
def test_invalid_or_backtracking_patterns_get_400(store: Store, fc: FreeClimb,
                                                  pattern: str) -> None:
    me = fc_demo(store)
    error = refused(fc.list_incoming_numbers, me, me.sid, {"phoneNumber": pattern})
    assert error.status == 400 and isinstance(error.body, dict) and error.body["code"] == 81
    assert refused(fc.list_available_numbers, me, {"phoneNumber": pattern}).status == 400
    assert "b'" not in error.body["message"]  # re2's reason as text, not a bytes repr


def test_pattern_error_names_re2s_reason(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    error = refused(fc.list_incoming_numbers, me, me.sid, {"phoneNumber": "\u00ff("})
    assert isinstance(error.body, dict)
    assert error.body["message"] == "phoneNumber is not a valid regular expression: missing ): \u00ff("


# -- FreeClimb ------------------------------------------------------------------------------


def test_freeclimb_buy_get_update_delete(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(tmp_path / "fc.db", inventory_size=200, clock=clock)
    fc = FreeClimb(store)
    me = fc_demo(store)
    number = pool(store, "tollfree")[0]
    app = Applications(store).create_an_application(me, me.sid, {})["applicationId"]
    bought = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": number, "applicationId": app})
    assert list(bought) == [
        "uri", "dateCreated", "dateUpdated", "dateCreatedISO", "dateUpdatedISO", "revision",
        "capabilities", "campaignId", "campaignAssignmentTime", "phoneNumberId", "accountId",
        "applicationId", "phoneNumber", "alias", "region", "country", "voiceEnabled",
        "smsEnabled", "offnet", "tfn",
    ]
    pn = bought["phoneNumberId"]
    assert re.fullmatch(r"PN[0-9a-f]{40}", pn)
    assert bought["uri"] == f"/Accounts/{me.sid}/IncomingPhoneNumbers/{pn}"
    assert bought["dateCreated"] == "Mon, 07 Nov 2016 15:25:18 GMT"
    assert bought["dateCreatedISO"] == "2016-11-07T15:25:18.000Z"
    assert bought["revision"] == 1 and bought["applicationId"] == app
    assert bought["alias"] == f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    assert bought["capabilities"]["tollFree"] is True and bought["region"] is None
    assert bought["tfn"] is None and bought["offnet"] is False
    assert number not in pool(store)

    clock.ms += 61_000
    updated = fc.update_an_incoming_number(me, me.sid, pn, {"alias": "Desk", "campaignId": "CX1"})
    assert updated["revision"] == 2 and updated["alias"] == "Desk"
    assert updated["dateUpdated"] == "Mon, 07 Nov 2016 15:26:19 GMT"
    assert updated["dateCreated"] == bought["dateCreated"]
    assert updated["campaignId"] == "CX1" and updated["tfn"] == {"campaignId": "CX1"}
    assert updated["campaignAssignmentTime"] == "Mon, 07 Nov 2016 15:26:19 GMT"
    same_instant = fc.update_an_incoming_number(me, me.sid, pn, None)
    assert same_instant["revision"] == 3
    assert same_instant["dateUpdatedISO"] > updated["dateUpdatedISO"]  # moves even within 1 ms
    assert same_instant["campaignAssignmentTime"] == updated["campaignAssignmentTime"]
    cleared = fc.update_an_incoming_number(me, me.sid, pn, {"campaignId": None})
    assert (cleared["campaignId"], cleared["campaignAssignmentTime"], cleared["tfn"]) == (
        None, None, None)
    assert cleared["alias"] == "Desk" and cleared["applicationId"] == app
    assert fc.get_an_incoming_number(me, me.sid, pn) == cleared

    assert refused(fc.update_an_incoming_number, me, me.sid, pn,
                   {"applicationId": "nope"}).status == 400
    assert refused(fc.update_an_incoming_number, me, me.sid, pn, {"alias": "x" * 65}).status == 400
    assert fc.delete_an_incoming_number(me, me.sid, pn) is None
    assert refused(fc.get_an_incoming_number, me, me.sid, pn).status == 404
    assert refused(fc.delete_an_incoming_number, me, me.sid, pn).status == 404
    assert number in pool(store)  # back in the pool, with its facts
    again = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": number})
    assert again["capabilities"] == bought["capabilities"] and again["phoneNumberId"] != pn
    store.close()


def test_freeclimb_buy_refusals(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    missing = refused(fc.buy_a_phone_number, me, me.sid, {})
    assert missing.status == 400 and isinstance(missing.body, dict) and missing.body["code"] == 80
    assert refused(fc.buy_a_phone_number, me, me.sid, {"phoneNumber": "555"}).status == 400
    not_in_pool = refused(fc.buy_a_phone_number, me, me.sid, {"phoneNumber": "+19995550100"})
    assert not_in_pool.status == 409
    assert not_in_pool.body == {
        "code": 108, "call": "ResourceConflict",
        "message": "The phone number is not available for purchase",
        "url": "https://docs.freeclimb.com/reference/error-and-warning-dictionary#108",
        "details": {},
    }


def test_freeclimb_auth(store: Store, fc: FreeClimb) -> None:
    login = accounts.FREECLIMB_DEMO
    assert fc.login((login.username, login.password)).sid == login.username
    for credentials in (None, ("", ""), (login.username, "wrong"), (login.username, ""),
                        ("AC" + "0" * 40, login.password)):
        error = refused(fc.login, credentials)
        assert error.status == 401 and error.headers["WWW-Authenticate"].startswith("Basic")
    me = fc_demo(store)
    other = accounts.add_freeclimb_account(store, "AC" + "e" * 40, "other-key")
    number = fc.buy_a_phone_number(other, other.sid, {"phoneNumber": pool(store)[0]})
    assert refused(fc.list_incoming_numbers, me, other.sid).status == 403
    assert refused(fc.get_an_incoming_number, me, me.sid, number["phoneNumberId"]).status == 404
    assert fc.list_incoming_numbers(me, me.sid)["total"] == 0


def test_freeclimb_paging_across_pages(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(tmp_path / "pages.db", inventory_size=400, clock=clock)
    fc = FreeClimb(store)
    me = fc_demo(store)
    empty = fc.list_incoming_numbers(me, me.sid)
    assert {k: v for k, v in empty.items() if k != "incomingPhoneNumbers"} == {
        "total": 0, "start": 0, "end": -1, "page": 0, "numPages": 0, "pageSize": 100,
        "nextPageUri": None}
    numbers = pool(store, limit=250)
    for number in numbers:
        clock.ms += 1000
        fc.buy_a_phone_number(me, me.sid, {"phoneNumber": number})

    seen: list[str] = []
    expected = [(0, 0, 99), (1, 100, 199), (2, 200, 249)]
    page = fc.list_incoming_numbers(me, me.sid)
    for index, (number, start, end) in enumerate(expected):
        assert (page["page"], page["start"], page["end"]) == (number, start, end)
        assert (page["total"], page["numPages"], page["pageSize"]) == (250, 3, 100)
        seen += [n["phoneNumber"] for n in page["incomingPhoneNumbers"]]
        if index == len(expected) - 1:
            assert page["nextPageUri"] is None
            break
        assert NEXT_PAGE.match(page["nextPageUri"])
        cursor = page["nextPageUri"].split("cursor=")[1]
        # Filters sent next to a cursor are ignored: the cursor carries the listing's own.
        page = fc.list_incoming_numbers(me, me.sid, {"region": "ZZ"}, cursor=cursor)
    assert seen == numbers[::-1]  # newest first, nothing repeated or skipped

    # A filtered listing keeps its filter on later pages.
    local = fc.list_incoming_numbers(me, me.sid, {"capabilities.sms": True})
    filtered_total = local["total"]
    assert 100 < filtered_total < 250
    rest = local
    collected = len(local["incomingPhoneNumbers"])
    while rest["nextPageUri"]:
        rest = fc.list_incoming_numbers(me, me.sid,
                                        cursor=rest["nextPageUri"].split("cursor=")[1])
        assert all(n["capabilities"]["sms"] for n in rest["incomingPhoneNumbers"])
        collected += len(rest["incomingPhoneNumbers"])
    assert collected == filtered_total

    cursor = page_cursor = fc.list_incoming_numbers(me, me.sid)["nextPageUri"].split("=")[1]
    assert refused(fc.list_incoming_numbers, me, me.sid, cursor="nope-!").status == 400
    assert refused(fc.list_incoming_numbers, me, me.sid, cursor="abc123").status == 400
    other = accounts.add_freeclimb_account(store, "AC" + "d" * 40, "k")
    assert refused(fc.list_incoming_numbers, other, other.sid, cursor=page_cursor).status == 400
    clock.ms += 2 * 24 * 3600 * 1000
    assert refused(fc.list_incoming_numbers, me, me.sid, cursor=cursor).status == 400  # expired
    store.close()


def test_freeclimb_later_page_emptied_by_releases(store: Store, fc: FreeClimb) -> None:
    """Numbers released between cursor follows: the later page is empty, its ``end`` is -1
    (not start - 1) and ``numPages`` counts what is left."""
    me = fc_demo(store)
    fc.seed_numbers(me.sid, 150)
    first = fc.list_incoming_numbers(me, me.sid)
    assert (first["total"], first["numPages"], first["end"]) == (150, 2, 99)
    cursor = first["nextPageUri"].split("cursor=")[1]
    shown = {n["phoneNumberId"] for n in first["incomingPhoneNumbers"]}
    with store.read() as conn:
        rest = [r[0] for r in conn.execute("SELECT sid FROM numbers WHERE account_sid = ?",
                                           (me.sid,)) if r[0] not in shown]
    for sid in rest:
        fc.delete_an_incoming_number(me, me.sid, sid)
    later = fc.list_incoming_numbers(me, me.sid, cursor=cursor)
    assert later["incomingPhoneNumbers"] == []
    assert {k: v for k, v in later.items() if k != "incomingPhoneNumbers"} == {
        "total": 100, "start": 100, "end": -1, "page": 1, "numPages": 1, "pageSize": 100,
        "nextPageUri": None}


def test_freeclimb_every_list_filter(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    local = pool(store, "local", 3)
    toll_free = pool(store, "tollfree", 1)[0]
    app = Applications(store).create_an_application(me, me.sid, {})["applicationId"]
    a = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": local[0], "alias": "front",
                                           "applicationId": app})
    b = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": local[1]})
    c = fc.buy_a_phone_number(me, me.sid, {"phoneNumber": toll_free})
    fc.update_an_incoming_number(me, me.sid, b["phoneNumberId"], {"campaignId": "CX9"})
    fc.update_an_incoming_number(me, me.sid, c["phoneNumberId"], {"campaignId": "TF1"})
    with store.write() as conn:  # no API makes a number offnet; plant one
        conn.execute("UPDATE numbers SET offnet = 1 WHERE sid = ?", (b["phoneNumberId"],))

    def ids(filters: dict[str, Any]) -> set[str]:
        page = fc.list_incoming_numbers(me, me.sid, filters)
        return {n["phoneNumberId"] for n in page["incomingPhoneNumbers"]}

    pa, pb, pc = a["phoneNumberId"], b["phoneNumberId"], c["phoneNumberId"]
    assert ids({}) == {pa, pb, pc}
    assert ids({"phoneNumber": f"^\\{local[0]}$"}) == {pa}
    assert ids({"phoneNumber": local[1][-4:]}) == {pb}  # matches anywhere
    assert ids({"alias": "front"}) == {pa} and ids({"alias": "fron"}) == set()
    assert ids({"region": a["region"], "applicationId": app}) == {pa}
    assert ids({"country": "US"}) == {pa, pb, pc} and ids({"country": "CA"}) == set()
    assert ids({"hasApplication": True}) == {pa}
    assert ids({"hasApplication": "false"}) == {pb, pc}
    assert ids({"hasCampaign": True}) == {pb, pc}
    assert ids({"tfn.campaignId": "TF1"}) == {pc}
    assert ids({"capabilities.tollFree": True}) == {pc}
    assert ids({"voiceEnabled": True, "capabilities.voice": True}) == {pa, pb, pc}
    assert ids({"capabilities.tenDLC": True}) == {
        n for n, row in ((pa, a), (pb, b)) if row["capabilities"]["tenDLC"]}
    assert ids({"smsEnabled": False}) == {
        n for n, row in ((pa, a), (pb, b), (pc, c)) if not row["smsEnabled"]}
    assert ids({"capabilities.sms": True}) == ids({"smsEnabled": True})
    assert ids({"capabilities.shortCode": True}) == set()
    assert ids({"offnet": True}) == {pb}
    assert refused(fc.list_incoming_numbers, me, me.sid, {"hasApplication": "yes"}).status == 400
    assert refused(fc.list_incoming_numbers, me, me.sid, {"applicationId": "AP1"}).status == 400


def test_freeclimb_available_numbers(store: Store, fc: FreeClimb) -> None:
    me = fc_demo(store)
    first = fc.list_available_numbers(me)
    assert first["total"] == 600 and first["numPages"] == 6
    assert list(first["availablePhoneNumbers"][0]) == [
        "phoneNumber", "campaignId", "region", "country", "voiceEnabled", "smsEnabled",
        "capabilities"]
    assert first["nextPageUri"].startswith("/AvailablePhoneNumbers?cursor=")
    walked = [n["phoneNumber"] for n in first["availablePhoneNumbers"]]
    page = first
    while page["nextPageUri"]:
        page = fc.list_available_numbers(me, cursor=page["nextPageUri"].split("=")[1])
        walked += [n["phoneNumber"] for n in page["availablePhoneNumbers"]]
    assert walked == pool(store) and (page["page"], page["end"]) == (5, 599)
    toll_free = fc.list_available_numbers(me, {"capabilities.tollFree": "true"})
    assert toll_free["total"] == len(pool(store, "tollfree"))
    region = fc.list_available_numbers(me, {"region": "IL", "phoneNumber": "^\\+1312"})
    assert all(n["phoneNumber"].startswith("+1312") and n["region"] == "IL"
               for n in region["availablePhoneNumbers"])
    fc.buy_a_phone_number(me, me.sid, {"phoneNumber": walked[0]})
    assert fc.list_available_numbers(me)["total"] == 599


# -- Restcomm -------------------------------------------------------------------------------


def test_restcomm_create_shapes_and_defaults(tmp_path: Path) -> None:
    clock = Clock(1_443_023_747_000)  # Wed, 23 Sep 2015 15:55:47 +0000
    store = open_store(tmp_path / "rc.db", inventory_size=200, clock=clock)
    rc = Restcomm(store)
    me = rc_account(store)
    number = pool(store, "local")[0]
    created = rc.create_incoming_phone_number(
        me, me.sid, {"PhoneNumber": number[2:], "VoiceUrl": "http://example.com/rcml",
                     "VoiceMethod": "GET", "SmsCapable": "true"})
    assert re.fullmatch(r"PN[0-9a-f]{32}", created["sid"])
    assert created["phone_number"] == number  # normalised to E.164 with region US
    assert created["friendly_name"] == number[2:]  # the value as sent
    assert created["voice_method"] == "GET" and created["sms_method"] == "POST"
    assert all(created[k] == "POST" for k in created if k.endswith("_method") and k != "voice_method")
    assert created["capabilities"] == {"voice_capable": False, "sms_capable": True,
                                       "mms_capable": False, "fax_capable": False}
    assert created["date_created"] == "Wed, 23 Sep 2015 15:55:47 +0000"
    assert RFC2822.match(created["date_updated"])
    assert created["uri"] == f"/2012-04-24/Accounts/{me.sid}/IncomingPhoneNumbers/{created['sid']}.json"
    assert "voice_application_name" not in created
    as_xml = rc.get_incoming_phone_number(me, me.sid, created["sid"], fmt="xml")
    assert as_xml["uri"] == created["uri"].removesuffix(".json")

    for route in ("Local", "TollFree", "Mobile"):
        rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": pool(store, "local")[0]},
                                        number_type=route)
    with store.read() as conn:
        types = [r[0] for r in conn.execute(
            "SELECT number_type FROM numbers WHERE provider = 'restcomm' ORDER BY id")]
    assert types == ["Global", "Local", "TollFree", "Mobile"]
    store.close()


def test_restcomm_create_refusals_and_sip(store: Store, rc: Restcomm) -> None:
    me = rc_account(store)
    sub = rc_account(store, accounts.RESTCOMM_DEMO_SUBS[0])
    number = pool(store)[0]
    rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": number})
    for form, text in (
        ({"PhoneNumber": number}, "21452"),  # taken
        ({"PhoneNumber": "1" + number[2:]}, "21452"),  # taken, written another way
        ({"PhoneNumber": "+19995550100"}, "21452"),  # not in the pool
        ({}, "Phone number can not be null."),
    ):
        error = refused(rc.create_incoming_phone_number, sub, sub.sid, form)
        assert (error.status, error.body) == (400, text)
    area_code = refused(rc.create_incoming_phone_number, me, me.sid, {"AreaCode": "312"})
    assert area_code.status == 400 and "AreaCode" in str(area_code.body)
    assert refused(rc.create_incoming_phone_number, me, me.sid,
                   {"PhoneNumber": "+13125550100", "VoiceUrl": "not a url"}).status == 400

    sip = rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": "1234", "isSIP": "true"})
    assert sip["phone_number"] == "1234"  # not normalised, not from the pool
    same_org = refused(rc.create_incoming_phone_number, sub, sub.sid,
                       {"PhoneNumber": "1234", "isSIP": True})
    assert same_org.body == "21452"
    elsewhere = accounts.add_restcomm_account(store, "AC" + "9" * 32, "tok",
                                              organization_sid="OR" + "9" * 32)
    other = rc.create_incoming_phone_number(elsewhere, elsewhere.sid,
                                            {"PhoneNumber": "1234", "isSIP": "true"})
    assert other["phone_number"] == "1234"
    rc.delete_incoming_phone_number(me, me.sid, sip["sid"])
    assert "1234" not in pool(store)  # SIP numbers never enter the pool


def test_restcomm_filters_refuse_control_characters(store: Store, rc: Restcomm) -> None:
    me = rc_account(store)
    rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": pool(store)[0]})
    assert rc.list_incoming_phone_numbers(me, me.sid, {"PhoneNumber": "1"})["total"] == 1
    for name in ("PhoneNumber", "FriendlyName"):
        for value in ("\x00", "1\x00", "\t", "a\nb", "\x7f"):
            error = refused(rc.list_incoming_phone_numbers, me, me.sid, {name: value})
            assert (error.status, error.body) == (
                400, f"{name} must not contain control characters")


def test_restcomm_auth_matrix(store: Store, rc: Restcomm) -> None:
    demo, (sub1, sub2) = accounts.RESTCOMM_DEMO, accounts.RESTCOMM_DEMO_SUBS
    parent = rc.login((demo.username, demo.auth_token or ""))
    assert rc.login((demo.email or "", demo.password)).sid == parent.sid
    assert rc.login((demo.username, demo.password)).sid == parent.sid
    for credentials in (None, (demo.username, "wrong"), ("nobody@x", demo.password),
                        (demo.email or "", md5_of(demo.auth_token or ""))):
        error = refused(rc.login, credentials)
        assert (error.status, error.body) == (401, None)
        assert error.headers == {"WWW-Authenticate": 'Basic realm="Restcomm realm"'}
    child = rc_account(store, sub1)
    sibling = rc_account(store, sub2)
    own = rc.create_incoming_phone_number(child, child.sid, {"PhoneNumber": pool(store)[0]})
    # The parent manages its sub-account's numbers through the sub-account's path.
    assert rc.get_incoming_phone_number(parent, child.sid, own["sid"])["sid"] == own["sid"]
    rc.update_incoming_phone_number(parent, child.sid, own["sid"], {"FriendlyName": "by parent"})
    assert rc.list_incoming_phone_numbers(parent, child.sid)["total"] == 1
    assert rc.list_incoming_phone_numbers(parent, parent.sid)["total"] == 0  # own numbers only
    # The child may not act for its parent, nor a sibling for another.
    for caller, path in ((child, parent.sid), (sibling, child.sid)):
        assert refused(rc.list_incoming_phone_numbers, caller, path).status == 403
        assert refused(rc.get_incoming_phone_number, caller, path, own["sid"]).status == 403
        assert refused(rc.create_incoming_phone_number, caller, path,
                       {"PhoneNumber": pool(store)[1]}).status == 403
    # A number of another account under one's own path: 403, not the real server's 500.
    assert refused(rc.get_incoming_phone_number, parent, parent.sid, own["sid"]).status == 403
    assert refused(rc.delete_incoming_phone_number, sibling, sibling.sid, own["sid"]).status == 403
    assert refused(rc.get_incoming_phone_number, parent, child.sid, "PN-bad").status == 404
    assert refused(rc.get_incoming_phone_number, parent, child.sid, "PN" + "0" * 32).status == 404
    assert refused(rc.list_incoming_phone_numbers, parent, "AC" + "7" * 32).status == 404
    fc_account = accounts.FREECLIMB_DEMO
    assert refused(rc.login, (fc_account.username, fc_account.password)).status == 401
    accounts.add_restcomm_account(store, "AC" + "5" * 32, "t", status="suspended")
    assert refused(rc.login, ("AC" + "5" * 32, "t")).status == 403


def md5_of(text: str) -> str:
    return accounts.md5_hex(text)


def test_restcomm_update_and_delete(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(tmp_path / "upd.db", inventory_size=50, clock=clock)
    rc = Restcomm(store)
    me = rc_account(store)
    number = pool(store)[0]
    created = rc.create_incoming_phone_number(me, me.sid, {
        "PhoneNumber": number, "VoiceUrl": "http://a.example/v", "SmsApplicationSid": "AP" + "1" * 32,
    })
    clock.ms += 5000
    updated = rc.update_incoming_phone_number(me, me.sid, created["sid"], {
        "VoiceUrl": "", "SmsApplicationSid": "", "FriendlyName": "Support", "PhoneNumber": "+1999",
        "AreaCode": "999", "AccountSid": "AC" + "3" * 32, "isSIP": "true", "FaxCapable": "TRUE",
    })
    assert updated["voice_url"] is None and updated["sms_application_sid"] is None
    assert updated["friendly_name"] == "Support" and updated["phone_number"] == number
    assert updated["account_sid"] == me.sid and updated["capabilities"]["fax_capable"] is True
    assert updated["date_updated"] != created["date_updated"]
    assert updated["date_created"] == created["date_created"]
    assert rc.get_incoming_phone_number(me, me.sid, created["sid"]) == updated
    untouched = rc.update_incoming_phone_number(me, me.sid, created["sid"], {})
    assert {k: v for k, v in untouched.items() if k != "date_updated"} == {
        k: v for k, v in updated.items() if k != "date_updated"}
    assert refused(rc.update_incoming_phone_number, me, me.sid, created["sid"],
                   {"VoiceMethod": "DELETE"}).status == 400
    assert rc.delete_incoming_phone_number(me, me.sid, created["sid"]) is None
    assert refused(rc.get_incoming_phone_number, me, me.sid, created["sid"]).status == 404
    assert number in pool(store)
    store.close()


def test_restcomm_paging_math(store: Store, rc: Restcomm) -> None:
    me = rc_account(store)
    numbers = pool(store, limit=101)
    for number in numbers:
        rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": number})
    base = f"/2012-04-24/Accounts/{me.sid}/IncomingPhoneNumbers"
    pages = [rc.list_incoming_phone_numbers(me, me.sid, {"Page": p, "PageSize": "50"})
             for p in range(3)]
    assert [(p["num_pages"], p["total"], p["start"], p["end"]) for p in pages] == [
        (2, 101, "0", "49"), (2, 101, "50", "99"), (2, 101, "100", "101")]
    assert [len(p["incomingPhoneNumbers"]) for p in pages] == [50, 50, 1]
    assert [n["phone_number"] for p in pages for n in p["incomingPhoneNumbers"]] == numbers
    first, middle, last = pages
    assert first["previous_page_uri"] == "null"
    assert first["first_page_uri"] == f"{base}?Page=0&PageSize=50"
    assert first["last_page_uri"] == f"{base}?Page=2&PageSize=50"
    assert middle["previous_page_uri"] == f"{base}?Page=0&PageSize=50"
    last_sid = middle["incomingPhoneNumbers"][-1]["sid"]
    assert middle["next_page_uri"] == f"{base}?Page=2&PageSize=50&AfterSid={last_sid}"
    assert last["next_page_uri"] == "null" and first["uri"] == base
    assert list(first)[:11] == ["page", "num_pages", "page_size", "total", "start", "end", "uri",
                                "first_page_uri", "previous_page_uri", "next_page_uri",
                                "last_page_uri"]
    past_end = refused(rc.list_incoming_phone_numbers, me, me.sid, {"Page": 3, "PageSize": 50})
    assert (past_end.status, past_end.body) == (400, "")  # no text, as the real server
    for bad in ({"PageSize": 0}, {"Page": -1}, {"Page": "x"}, {"SortBy": "Sid"}):
        assert refused(rc.list_incoming_phone_numbers, me, me.sid, bad).status == 400

    as_xml = rc.list_incoming_phone_numbers(me, me.sid, {"PageSize": 50}, fmt="xml")
    assert as_xml["total"] == 2  # the real server's XML puts the page count there
    assert not as_xml["incomingPhoneNumbers"][0]["uri"].endswith(".json")

    exact = rc.list_incoming_phone_numbers(me, me.sid, {"PageSize": 101})
    # 101 items in pages of 101: page 0 is not the "last" page (num_pages is 1), so its end
    # is inclusive and it links to an empty page 1.
    assert (exact["num_pages"], exact["end"]) == (1, "100")
    assert exact["next_page_uri"].startswith(f"{base}?Page=1&PageSize=101&AfterSid=PN")
    tail = rc.list_incoming_phone_numbers(me, me.sid, {"Page": 1, "PageSize": 101})
    assert (tail["start"], tail["end"], tail["incomingPhoneNumbers"]) == ("101", "101", [])
    empty = rc.list_incoming_phone_numbers(me, me.sid, {"PhoneNumber": "no-such"})
    assert (empty["total"], empty["num_pages"], empty["start"], empty["end"]) == (0, 0, "0", "0")
    local = rc.list_incoming_phone_numbers(me, me.sid, {"PageSize": 5}, number_type="Local")
    assert local["uri"] == f"{base}/Local" and local["total"] == 101  # not filtered by type
    reverse = rc.list_incoming_phone_numbers(me, me.sid, {"PageSize": 101, "Reverse": "true"})
    assert [n["phone_number"] for n in reverse["incomingPhoneNumbers"]] == numbers[::-1]


def test_restcomm_filters_are_like_substrings(store: Store, rc: Restcomm) -> None:
    me = rc_account(store)
    a, b, c = pool(store, "local", 3)
    app = "AP" + "4" * 32
    rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": a, "FriendlyName": "Sales_1",
                                                 "VoiceApplicationSid": app})
    rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": b, "FriendlyName": "Sales-2"})
    rc.create_incoming_phone_number(me, me.sid, {"PhoneNumber": c, "FriendlyName": "sales*3"})

    def names(params: dict[str, Any]) -> list[str]:
        page = rc.list_incoming_phone_numbers(me, me.sid, {**params, "SortBy": "FriendlyName"})
        return [n["friendly_name"] for n in page["incomingPhoneNumbers"]]

    assert names({"FriendlyName": "ales"}) == ["Sales-2", "Sales_1", "sales*3"]
    assert names({"FriendlyName": "Sales"}) == ["Sales-2", "Sales_1"]  # case-sensitive
    assert names({"FriendlyName": "Sales_"}) == ["Sales-2", "Sales_1"]  # _ is one character
    assert names({"FriendlyName": "S%1"}) == ["Sales_1"]  # % is any run
    assert names({"FriendlyName": "s*"}) == ["sales*3"]  # * is just a star
    assert names({"PhoneNumber": a[-7:]}) == ["Sales_1"]
    assert like_to_glob("a[%_*?") == "*a[[]*?[*][?]*"
    listed = rc.list_incoming_phone_numbers(me, me.sid, {"FriendlyName": "Sales_1"})
    item = listed["incomingPhoneNumbers"][0]
    keys = list(item)
    assert keys[keys.index("voice_application_sid") + 1] == "voice_application_name"
    assert item["voice_application_name"] is None and "sms_application_name" not in item
    single = rc.get_incoming_phone_number(me, me.sid, item["sid"])
    assert "voice_application_name" not in single


# -- accounts -------------------------------------------------------------------------------


def test_accounts_from_toml_and_secrets_stay_hidden(store: Store, tmp_path: Path) -> None:
    config = tmp_path / "accounts.toml"
    fc_id, parent, child = "AC" + "a" * 40, "AC" + "b" * 32, "AC" + "c" * 32
    config.write_text(f"""
[[freeclimb.accounts]]
account_id = "{fc_id}"
api_key = "fc-secret"

[[restcomm.accounts]]
sid = "{parent}"
email = "ops@example.com"
auth_token = "{accounts.md5_hex('hunter2')}"

[[restcomm.accounts]]
sid = "{child}"
auth_token = "child-token"
parent_sid = "{parent}"
""")
    added = accounts.load_accounts_file(store, config)
    assert [a.sid for a in added] == [fc_id, parent, child]
    assert accounts.authenticate(store, "freeclimb", fc_id, "fc-secret") is not None
    assert accounts.authenticate(store, "restcomm", "ops@example.com", "hunter2") is not None
    assert accounts.is_self_or_ancestor(store, parent, child)
    assert not accounts.is_self_or_ancestor(store, child, parent)
    assert all(a.secret not in repr(a) for a in added)
    assert added[2].organization_sid == added[1].organization_sid

    bad = tmp_path / "bad.toml"
    bad.write_text('[[restcomm.accounts]]\nsid = "AC123"\nauth_token = "s3cret-value"\n')
    with pytest.raises(ValueError) as info:
        accounts.load_accounts_file(store, bad)
    assert "s3cret-value" not in str(info.value)
    orphan = tmp_path / "orphan.toml"
    orphan.write_text(f'[[restcomm.accounts]]\nsid = "{"AC" + "d" * 32}"\nauth_token = "t"\n'
                      f'parent_sid = "{"AC" + "e" * 32}"\n')
    with pytest.raises(ValueError, match="does not exist"):
        accounts.load_accounts_file(store, orphan)


def test_the_store_alone_makes_no_accounts(tmp_path: Path) -> None:
    """Accounts sit above the store: opening one creates none; ensure_demo_accounts does, once,
    and never overwrites an account a user changed."""
    store = Store(tmp_path / "bare.db", inventory_size=1)
    try:
        with store.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0
        accounts.ensure_demo_accounts(store)
        demo = accounts.FREECLIMB_DEMO.username
        accounts.add_freeclimb_account(store, demo, "changed-key")
        accounts.ensure_demo_accounts(store)
        with store.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == len(
                accounts.demo_logins())
        assert accounts.authenticate(store, "freeclimb", demo, "changed-key") is not None
    finally:
        store.close()


def test_demo_accounts_are_printable_and_stable(tmp_path: Path) -> None:
    text = accounts.describe_demo_logins()
    for login in accounts.demo_logins():
        assert login.username in text and login.password in text
    a = open_store(tmp_path / "1.db", inventory_size=1)
    b = open_store(tmp_path / "2.db", inventory_size=1)
    try:
        for login in accounts.demo_logins():
            secret = login.auth_token or login.password
            assert accounts.authenticate(a, login.provider, login.username, secret) is not None
            assert accounts.authenticate(b, login.provider, login.username, secret) is not None
        sub = accounts.get_account(a, accounts.RESTCOMM_DEMO_SUBS[0].username)
        assert sub is not None and sub.parent_sid == accounts.RESTCOMM_DEMO.username
    finally:
        a.close()
        b.close()


def test_matches_over_joined_lines_agrees_with_each_value_alone() -> None:
    import re2  # type: ignore[import-untyped]
    from numspec.emulator.store import PatternTooComplex, _lines_program, _matcher, matches

    values = ["+13125550100", "", "alice", "a\tb", "x\ry", "+1 (201) 213-3720", "12", "_",
              " ", "+", "312", "3125", "a.b", "AB", "(", ")", "ß€", "a\nb"]
    patterns = ["", "^", "$", "^$", "(?i)a", "\\b", "\\B", "[^x]{3}", "\\s", "(?s)^.+$",
                "\\D", "\\PN", "[[:^alpha:]]", "\\n", "[\\n]", "(?m)b$", "(?U)a+", "x*",
                "(.?){200}", "^\\+1312(.?){200}$", "1$|^a", "\\Qa.b", "\\Aa", "a\\z",
                "(?-m)^a", "\\C", "^.{0,1}$", "(?i-m:^A)"]
    rng = random.Random(1)
    atoms = ["\\B", "\\b", "\\pL", "[^a]", "(?s).", "\\D", "\\s", "^", "$", "a", "1", ".",
             "\\+", "(?i)b", "\\n", "(?:a|)"]
    for _ in range(500):
        patterns.append("".join(rng.choice(atoms) + rng.choice(["", "*", "+", "?"])
                                for _ in range(rng.randint(1, 4))))
    ascii_values = [v for v in values if v.isascii() and "\n" not in v]
    ascii_values += ["".join(rng.choice("a1 +\tb.\r_-") for _ in range(rng.randint(0, 6)))
                     for _ in range(2000)]
    lines_used = checked = 0
    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except (re2.error, PatternTooComplex):  # refused before any listing
            continue
        checked += 1
        lines_used += _lines_program(pattern) is not None
        alone = _matcher(pattern)
        for sample in (values, ascii_values):
            assert matches(pattern, sample) == [alone(v) for v in sample], pattern
    assert checked > 400 and lines_used > checked * 0.9  # the fast path is tested


def test_filtered_listing_counts_and_pages_like_one_value_at_a_time(tmp_path: Path) -> None:
    from numspec.emulator import accounts
    from numspec.emulator.freeclimb_logic import FreeClimb
    from numspec.emulator.store import _matcher

    db = Store(tmp_path / "numspec.db", inventory_size=2500)
    try:
        accounts.ensure_demo_accounts(db)
        me = accounts.get_account(db, accounts.FREECLIMB_DEMO.username)
        assert me is not None
        logic = FreeClimb(db)
        logic.seed_numbers(me.sid, 1500)
        pool = [r[0] for r in db.connection().execute(
            "SELECT phone_number FROM inventory ORDER BY phone_number")]
        owned = [r[0] for r in db.connection().execute(
            "SELECT phone_number FROM numbers ORDER BY id DESC")]
        for pattern in ["(.?){200}", "5$", "^\\+1(312|212)", "7.*7.*7"]:
            for listing, expected in (
                    (lambda c, p=pattern: logic.list_available_numbers(
                        me, {"phoneNumber": p}, c), "availablePhoneNumbers"),
                    (lambda c, p=pattern: logic.list_incoming_numbers(
                        me, me.sid, {"phoneNumber": p}, c), "incomingPhoneNumbers")):
                rows = pool if expected == "availablePhoneNumbers" else owned
                want = [v for v in rows if _matcher(pattern)(v)]
                got: list[str] = []
                cursor = None
                while True:
                    page = listing(cursor)
                    assert page["total"] == len(want)
                    got += [n["phoneNumber"] for n in page[expected]]
                    if page["nextPageUri"] is None:
                        break
                    cursor = page["nextPageUri"].split("cursor=")[1]
                assert got == want, pattern
    finally:
        db.close()
