"""FreeClimb "Incoming Numbers" behaviour over the store.

Every operation returns a dict shaped exactly like the contract's JSON (wire keys, wire
order) or raises ``ProviderError`` with FreeClimb's PlatformError body. Request values arrive
under their wire names (``phoneNumber``, ``capabilities.voice``, ``tfn.campaignId``, …).

Paging: 100 per page, newest first, at most 10 000 items per listing (FreeClimb caps every
list there). ``nextPageUri`` carries a ``cursor``: a 40-character hex token naming a row of
the ``cursors`` table that holds the listing's filters and where the next page starts, so a
client follows ``nextPageUri`` without sending the filters again.
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import re2  # type: ignore[import-untyped]
from numspec.emulator import accounts, inventory
from numspec.emulator.accounts import Account
from numspec.emulator.dates import rfc1123, utc_second
from numspec.emulator.errors import (
    FC_CONFLICT,
    FC_FORBIDDEN,
    FC_INVALID,
    FC_MISSING,
    FC_NOT_FOUND,
    ProviderError,
    freeclimb_error,
    freeclimb_unauthorized,
)
from numspec.emulator.store import (
    QUERY_BUDGET_S,
    PatternTooComplex,
    QueryBudgetExceeded,
    Record,
    Store,
    account_is_full,
    compile_pattern,
    count_numbers,
    matches,
)

PAGE_SIZE = 100
LIST_CAP = 10_000
INCOMING = "freeclimb.incoming"
# The columns a FreeClimb number needs (its JSON, updates, the way back to the pool); a page
# reads 100 rows, and the Restcomm-only half of the table is dead weight there.
COLUMNS = (
    "id, sid, account_sid, phone_number, is_sip, country, region, kind, voice, sms, toll_free, "
    "ten_dlc, short_code, created_at, updated_at, alias, application_id, campaign_id, "
    "tfn_campaign_id, offnet, revision, campaign_assigned_at"
)
_NAMES = tuple(name.strip() for name in COLUMNS.split(","))
AVAILABLE = "freeclimb.available"

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
APPLICATION_ID = re.compile(r"^AP[0-9a-fA-F]{40}$")
CURSOR = re.compile(r"^[0-9a-zA-Z]{1,128}$")

# Filters, by wire name. Equality on a column:
_EQUALS = {
    "alias": "alias", "region": "region", "country": "country",
    "applicationId": "application_id", "tfn.campaignId": "tfn_campaign_id",
}
# A boolean column must equal the value (the deprecated *Enabled names alias capabilities):
_FLAGS = {
    "voiceEnabled": "voice", "smsEnabled": "sms",
    "capabilities.voice": "voice", "capabilities.sms": "sms",
    "capabilities.tollFree": "toll_free", "capabilities.tenDLC": "ten_dlc",
    "capabilities.shortCode": "short_code", "offnet": "offnet",
}
# true: the column is set; false: it is null.
_PRESENCE = {"hasApplication": "application_id", "hasCampaign": "campaign_id"}
_MAX_LENGTH = {
    "phoneNumber": 256, "alias": 64, "region": 64, "country": 2, "tfn.campaignId": 64,
}

INCOMING_FILTERS = ("phoneNumber", *_EQUALS, *_FLAGS, *_PRESENCE)
AVAILABLE_FILTERS = (
    "phoneNumber", "region", "country", "voiceEnabled", "smsEnabled",
    "capabilities.voice", "capabilities.sms", "capabilities.tollFree",
    "capabilities.tenDLC", "capabilities.shortCode",
)


# -- wire formats -----------------------------------------------------------------------


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _capabilities(row: Record) -> dict[str, bool | None]:
    return {
        "voice": _flag(row["voice"]), "sms": _flag(row["sms"]),
        "tollFree": _flag(row["toll_free"]), "tenDLC": _flag(row["ten_dlc"]),
        "shortCode": _flag(row["short_code"]),
    }


def incoming_number_json(row: Record) -> dict[str, Any]:
    """One owned number as the contract's IncomingNumber."""
    return _number_json(tuple(row[name] for name in _NAMES))


def _number_json(values: Sequence[Any]) -> dict[str, Any]:
    """``incoming_number_json`` from the values of COLUMNS, in order: a page reads plain
    tuples, which is twice as fast as looking 25 names up in each of 100 rows."""
    (_, sid, account, phone_number, _, country, region, _, voice, sms, toll_free, ten_dlc,
     short_code, created, updated, alias, application, campaign, tfn, offnet, revision,
     assigned) = values
    created_text, created_iso = utc_second(created // 1000)
    updated_text, updated_iso = utc_second(updated // 1000)
    voice, sms = _flag(voice), _flag(sms)
    return {
        "uri": f"/Accounts/{account}/IncomingPhoneNumbers/{sid}",
        "dateCreated": created_text,
        "dateUpdated": updated_text,
        "dateCreatedISO": f"{created_iso}.{created % 1000:03d}Z",
        "dateUpdatedISO": f"{updated_iso}.{updated % 1000:03d}Z",
        "revision": revision,
        "capabilities": {
            "voice": voice, "sms": sms, "tollFree": _flag(toll_free),
            "tenDLC": _flag(ten_dlc), "shortCode": _flag(short_code),
        },
        "campaignId": campaign,
        "campaignAssignmentTime": None if assigned is None else rfc1123(assigned),
        "phoneNumberId": sid,
        "accountId": account,
        "applicationId": application,
        "phoneNumber": phone_number,
        "alias": alias,
        "region": region,
        "country": country,
        "voiceEnabled": voice,
        "smsEnabled": sms,
        "offnet": _flag(offnet),
        "tfn": None if tfn is None else {"campaignId": tfn},
    }


def available_number_json(row: Record) -> dict[str, Any]:
    """One pool line as the contract's AvailableNumber."""
    return {
        "phoneNumber": row["phone_number"],
        "campaignId": None,  # the pool holds no number registered to a campaign
        "region": row["region"],
        "country": row["country"],
        "voiceEnabled": _flag(row["voice"]),
        "smsEnabled": _flag(row["sms"]),
        "capabilities": _capabilities(row),
    }


def new_phone_number_id() -> str:
    return "PN" + secrets.token_hex(20)


def _line_columns(line: Record) -> dict[str, Any]:
    """The pool facts a bought number keeps, so releasing it can put them back."""
    keys = ("phone_number", "country", "region", "kind", "voice", "sms", "toll_free",
            "ten_dlc", "short_code")
    return {key: line[key] for key in keys}


def new_number_row(account_id: str, line: Record, now: int, *,
                   alias: str | None = None, application_id: str | None = None,
                   sid: str | None = None) -> dict[str, Any]:
    """A ``numbers`` row for a number the account has just bought."""
    return {
        "provider": "freeclimb",
        "sid": sid or new_phone_number_id(),
        "account_sid": account_id,
        **_line_columns(line),
        "is_sip": 0,
        "created_at": now,
        "updated_at": now,
        "alias": alias if alias is not None else inventory.national_format(line["phone_number"]),
        "application_id": application_id,
        "revision": 1,
    }


# -- request checking -------------------------------------------------------------------


def _invalid(message: str) -> ProviderError:
    return freeclimb_error(400, FC_INVALID, message)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid(f"{name} must be true or false")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    limit = _MAX_LENGTH.get(name)
    if limit is not None and len(value) > limit:
        raise _invalid(f"{name} must be at most {limit} characters")
    return value


def check_pattern(pattern: str) -> None:
    """Refuse what re2 cannot run: invalid syntax, and PCRE features that need
    backtracking (back-references, look-around)."""
    try:
        compile_pattern(pattern)
    except PatternTooComplex as exc:
        raise _invalid(f"phoneNumber is too complex a regular expression: {exc}") from None
    except re2.error as exc:
        # re2 reports its reason as bytes; str() would show their repr (b'missing ): (').
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _invalid(f"phoneNumber is not a valid regular expression: {reason}") from None


def normalise_filters(raw: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Keep the known filters that were given, with checked values of the right type."""
    filters: dict[str, Any] = {}
    for name in allowed:
        value = raw.get(name)
        if value is None:
            continue
        if name in _FLAGS or name in _PRESENCE:
            filters[name] = _bool(name, value)
        else:
            filters[name] = _text(name, value)
    if "phoneNumber" in filters:
        check_pattern(filters["phoneNumber"])
    if "applicationId" in filters and not APPLICATION_ID.match(filters["applicationId"]):
        raise _invalid("applicationId must be AP + 40 hex digits")
    return filters


def _where(filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """SQL for every filter but ``phoneNumber``, which ``_regex_page`` applies."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in filters.items():
        if name in _EQUALS:
            clauses.append(f"{_EQUALS[name]} = ?")
            params.append(value)
        elif name in _FLAGS:
            clauses.append(f"{_FLAGS[name]} = ?")
            params.append(int(value))
        elif name in _PRESENCE:
            clauses.append(f"{_PRESENCE[name]} IS {'NOT ' if value else ''}NULL")
    return clauses, params


def page_fields(total: int, page: int, count: int, next_uri: str | None) -> dict[str, Any]:
    """The paging keys of a FreeClimb list, in wire order (see the contract's Pagination).

    ``start`` is where the page begins (``page`` × 100) and ``end`` the index of its last item,
    inclusive; an empty page has ``end`` -1, whichever page it is. ``numPages`` always counts
    the listing as it is now, ceil(total / 100) (0 when it is empty), never the page number:
    pages are cursors, so when numbers are released between two cursor follows a later page
    can lie past the end (``page`` >= ``numPages``). It is then empty or short, and has no
    ``nextPageUri``.
    """
    start = page * PAGE_SIZE
    return {
        "total": total,
        "start": start,
        "end": start + count - 1 if count else -1,
        "page": page,
        "numPages": math.ceil(total / PAGE_SIZE),
        "pageSize": PAGE_SIZE,
        "nextPageUri": next_uri,
    }


# -- the operations ---------------------------------------------------------------------


class FreeClimb:
    """FreeClimb's number API. Method names follow the official SDKs."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # auth

    def login(self, credentials: tuple[str, str] | None) -> Account:
        """Check decoded Basic credentials: (accountId, apiKey). 401 otherwise."""
        if credentials is None:
            raise freeclimb_unauthorized()
        account = accounts.authenticate(self.store, "freeclimb", *credentials)
        if account is None:
            raise freeclimb_unauthorized()
        return account

    @staticmethod
    def authorize(caller: Account, account_id: str) -> None:
        """The account in the path must be the caller's own."""
        if caller.sid != account_id:
            raise freeclimb_error(
                403, FC_FORBIDDEN, "The account in the path is not the authenticated account"
            )

    # incoming numbers

    def buy_a_phone_number(self, caller: Account, account_id: str,
                           body: Mapping[str, Any] | None) -> dict[str, Any]:
        self.authorize(caller, account_id)
        body = body or {}
        phone_number = body.get("phoneNumber")
        if phone_number is None:
            raise freeclimb_error(400, FC_MISSING, "phoneNumber is required")
        if not isinstance(phone_number, str) or not E164.match(phone_number):
            raise _invalid("phoneNumber must be an E.164 number such as +13125550100")
        alias = body.get("alias")
        if alias is not None:
            alias = _text("alias", alias)
        application_id = body.get("applicationId")
        if application_id is not None and (
            not isinstance(application_id, str) or not APPLICATION_ID.match(application_id)
        ):
            raise _invalid("applicationId must be AP + 40 hex digits")
        try:
            with self.store.write() as conn:
                if account_is_full(self.store, conn, account_id, "freeclimb"):
                    raise freeclimb_error(
                        403, FC_FORBIDDEN, "The account already has the most numbers this "
                        f"server allows ({self.store.max_numbers_per_account}); release one first")
                if application_id is not None:
                    check_application(conn, account_id, application_id)
                line = Store.take_from_pool(conn, phone_number)
                if line is None:
                    raise _not_available()
                row = new_number_row(account_id, line, self.store.now_ms(), alias=alias,
                                     application_id=application_id)
                conn.execute(
                    f"INSERT INTO numbers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
                bought = _owned(conn, account_id, row["sid"])
        except sqlite3.IntegrityError:
            # The UNIQUE line index caught an owner the pool did not know about.
            raise _not_available() from None
        assert bought is not None
        return incoming_number_json(bought)

    def list_incoming_numbers(self, caller: Account, account_id: str,
                              filters: Mapping[str, Any] | None = None,
                              cursor: str | None = None) -> dict[str, Any]:
        """One page, newest first. With a cursor, its stored filters apply and any others
        sent alongside are ignored."""
        self.authorize(caller, account_id)
        state = self._start(INCOMING, account_id, filters or {}, cursor, INCOMING_FILTERS)
        clauses, params = _where(state["f"])
        clauses[:0] = ["account_sid = ?", "provider = 'freeclimb'"]
        params[:0] = [account_id]
        where = " AND ".join(clauses)
        keyset = " AND id < ?" if state["after"] is not None else ""
        pattern = state["f"].get("phoneNumber")
        deadline = time.monotonic() + QUERY_BUDGET_S
        with _budget(), self.store.read(QUERY_BUDGET_S) as conn:
            plain = conn.cursor()
            plain.row_factory = None
            if pattern is not None:
                after = state["after"]
                total, ids = _regex_page(
                    conn, f"SELECT id, phone_number FROM numbers WHERE {where} ORDER BY id DESC",
                    params, pattern, lambda key: after is None or key < after, deadline)
                rows = plain.execute(
                    f"SELECT {COLUMNS} FROM numbers WHERE id IN ({', '.join('?' * len(ids))}) "
                    "ORDER BY id DESC", ids).fetchall()
            else:
                if state["f"]:
                    total = _capped_count(conn, "numbers", where, params)
                else:
                    total = min(count_numbers(conn, account_id, "freeclimb"), LIST_CAP)
                rows = plain.execute(
                    f"SELECT {COLUMNS} FROM numbers WHERE {where}{keyset} ORDER BY id DESC "
                    "LIMIT ?", [*params, *([state["after"]] if keyset else []), PAGE_SIZE + 1],
                ).fetchall()
        items = [_number_json(row) for row in rows[:PAGE_SIZE]]
        after = rows[PAGE_SIZE - 1][0] if len(rows) > PAGE_SIZE else None
        next_uri = self._next(INCOMING, account_id, state, after,
                              f"/Accounts/{account_id}/IncomingPhoneNumbers")
        return {**page_fields(total, state["p"], len(items), next_uri),
                "incomingPhoneNumbers": items}

    def get_an_incoming_number(self, caller: Account, account_id: str,
                               phone_number_id: str) -> dict[str, Any]:
        self.authorize(caller, account_id)
        row = self.store.query_one(_OWNED, (phone_number_id, account_id))
        if row is None:
            raise _not_found()
        return incoming_number_json(row)

    def update_an_incoming_number(self, caller: Account, account_id: str, phone_number_id: str,
                                  body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Apply the fields present in ``body``; ``campaignId: null`` removes the campaign.
        Every call, even with no body, adds one to ``revision`` and moves ``dateUpdated``."""
        self.authorize(caller, account_id)
        changes = _update_columns(body or {})
        with self.store.write() as conn:
            row = _owned(conn, account_id, phone_number_id)
            if row is None:
                raise _not_found()
            if changes.get("application_id") is not None:
                check_application(conn, account_id, changes["application_id"])
            changes.update(_campaign_columns(row, body or {}, self.store.now_ms()))
            sets = "".join(f"{column} = ?, " for column in changes)
            conn.execute(
                f"UPDATE numbers SET {sets}revision = revision + 1, "
                "updated_at = MAX(?, updated_at + 1) WHERE id = ?",
                [*changes.values(), self.store.now_ms(), row["id"]],
            )
            updated = _owned(conn, account_id, phone_number_id)
        assert updated is not None
        return incoming_number_json(updated)

    def delete_an_incoming_number(self, caller: Account, account_id: str,
                                  phone_number_id: str) -> None:
        """Release the number: it leaves the account and returns to the pool."""
        self.authorize(caller, account_id)
        with self.store.write() as conn:
            row = _owned(conn, account_id, phone_number_id)
            if row is None:
                raise _not_found()
            conn.execute("DELETE FROM numbers WHERE id = ?", (row["id"],))
            Store.return_to_pool(conn, row)

    # available numbers

    def list_available_numbers(self, caller: Account, filters: Mapping[str, Any] | None = None,
                               cursor: str | None = None) -> dict[str, Any]:
        """The pool in number order. The path names no account; the cursor is bound to the
        caller instead."""
        state = self._start(AVAILABLE, caller.sid, filters or {}, cursor, AVAILABLE_FILTERS)
        clauses, params = _where(state["f"])
        where = " AND ".join(clauses) or "1"
        keyset = " AND phone_number > ?" if state["after"] is not None else ""
        pattern = state["f"].get("phoneNumber")
        deadline = time.monotonic() + QUERY_BUDGET_S
        with _budget(), self.store.read(QUERY_BUDGET_S) as conn:
            if pattern is not None:
                after = state["after"]
                total, numbers = _regex_page(
                    conn, f"SELECT phone_number, phone_number FROM inventory WHERE {where} "
                    "ORDER BY phone_number", params, pattern,
                    lambda key: after is None or key > after, deadline)
                rows = conn.execute(
                    "SELECT * FROM inventory WHERE phone_number IN "
                    f"({', '.join('?' * len(numbers))}) ORDER BY phone_number", numbers,
                ).fetchall()
            else:
                total = _capped_count(conn, "inventory", where, params)
                rows = conn.execute(
                    f"SELECT * FROM inventory WHERE {where}{keyset} ORDER BY phone_number "
                    "LIMIT ?", [*params, *([state["after"]] if keyset else []), PAGE_SIZE + 1],
                ).fetchall()
        items = [available_number_json(row) for row in rows[:PAGE_SIZE]]
        after = rows[PAGE_SIZE - 1]["phone_number"] if len(rows) > PAGE_SIZE else None
        next_uri = self._next(AVAILABLE, caller.sid, state, after, "/AvailablePhoneNumbers")
        return {**page_fields(total, state["p"], len(items), next_uri),
                "availablePhoneNumbers": items}

    # paging helpers

    def _start(self, listing: str, account_sid: str, filters: Mapping[str, Any],
               cursor: str | None, allowed: tuple[str, ...]) -> dict[str, Any]:
        """Where this page starts: page 0 with the given filters, or a cursor's state."""
        if cursor is None:
            return {"f": normalise_filters(filters, allowed), "p": 0, "after": None}
        if not isinstance(cursor, str) or not CURSOR.match(cursor):
            raise _invalid("cursor must be the value found in nextPageUri")
        state = self.store.load_cursor(listing, account_sid, cursor)
        if state is None:
            raise _invalid("cursor is unknown or has expired; start the listing again")
        return state

    def _next(self, listing: str, account_sid: str, state: dict[str, Any], after: Any,
              path: str) -> str | None:
        """The next page's URI, or None on the last page (or at the 10 000-item cap)."""
        next_page = state["p"] + 1
        if after is None or next_page * PAGE_SIZE >= LIST_CAP:
            return None
        token = self.store.save_cursor(
            listing, account_sid, {"f": state["f"], "p": next_page, "after": after}
        )
        return f"{path}?cursor={token}"

    # bulk seeding (benchmarks, fixtures)

    def seed_numbers(self, account_id: str, count: int, *, seed: int = 1) -> int:
        """Give an account ``count`` numbers that are not in the pool, in one transaction."""
        taken = self.store.taken_numbers()
        start = self.store.now_ms() - count
        rows = (
            new_number_row(account_id, dataclasses.asdict(line), start + i)
            for i, line in enumerate(inventory.generate_lines(count, seed, taken))
        )
        return self.store.insert_numbers(rows)


_OWNED = (f"SELECT {COLUMNS} FROM numbers WHERE sid = ? AND account_sid = ? "
          "AND provider = 'freeclimb'")


def _owned(conn: sqlite3.Connection, account_id: str, phone_number_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(_OWNED, (phone_number_id, account_id)).fetchone()
    return row


@contextmanager
def _budget() -> Iterator[None]:
    """A listing whose filters outran the store's time budget is the client's fault: 400."""
    try:
        yield
    except QueryBudgetExceeded:
        raise _invalid("the filters took too long to run; use a simpler phoneNumber pattern"
                       ) from None


def check_application(conn: sqlite3.Connection, account_id: str, application_id: str) -> None:
    """A number may only name one of its own account's applications (400 otherwise; FreeClimb
    does not document its answer, see the contract)."""
    if conn.execute("SELECT 1 FROM applications WHERE sid = ? AND account_sid = ?",
                    (application_id, account_id)).fetchone() is None:
        raise _invalid(f"applicationId {application_id} names no application of this account")


def _regex_page(conn: sqlite3.Connection, sql: str, params: list[Any], pattern: str,
                is_after: Callable[[Any], bool], deadline: float) -> tuple[int, list[Any]]:
    """A ``phoneNumber`` listing in one pass: ``sql`` yields (key, phone_number) in listing
    order under the other filters; returns how many match (up to LIST_CAP) and the keys of
    the first PAGE_SIZE + 1 matches after the page's start. The pattern runs once per row
    (counting and paging each ran it over every row before), in re2 over batches of rows
    rather than as an SQL function SQLite calls back per row."""
    rows = conn.cursor()
    rows.row_factory = None  # plain tuples: this reads every row of the listing
    rows.execute(sql, params)
    total = 0
    page: list[Any] = []
    while total < LIST_CAP or len(page) <= PAGE_SIZE:
        batch = rows.fetchmany(1024)
        if not batch:
            break
        for (key, _), hit in zip(batch, matches(pattern, [row[1] for row in batch], deadline),
                                 strict=True):
            if hit:
                total += 1
                if len(page) <= PAGE_SIZE and is_after(key):
                    page.append(key)
    rows.close()
    return min(total, LIST_CAP), page


def _capped_count(conn: sqlite3.Connection, table: str, where: str, params: list[Any]) -> int:
    # Counting stops at the cap, so a huge listing costs no more than 10 000 index steps.
    row = conn.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT {LIST_CAP})", params
    ).fetchone()
    return int(row[0])


def _update_columns(body: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "alias" in body:
        changes["alias"] = _text("alias", body["alias"])
    if "applicationId" in body:
        value = body["applicationId"]
        if not isinstance(value, str) or not APPLICATION_ID.match(value):
            raise _invalid("applicationId must be AP + 40 hex digits")
        changes["application_id"] = value
    return changes


def _campaign_columns(row: sqlite3.Row, body: Mapping[str, Any], now: int) -> dict[str, Any]:
    """``campaignId``: a new value records when it was assigned; null (or "") removes it.
    On a toll-free number the campaign is also its toll-free campaign (``tfn``)."""
    if "campaignId" not in body:
        return {}
    value = body["campaignId"]
    if value is not None and not isinstance(value, str):
        raise _invalid("campaignId must be a string or null")
    if value is not None and len(value) > 64:
        raise _invalid("campaignId must be at most 64 characters")
    campaign = value or None
    changes: dict[str, Any] = {"campaign_id": campaign}
    if campaign != row["campaign_id"]:
        changes["campaign_assigned_at"] = None if campaign is None else now
    if row["toll_free"]:
        changes["tfn_campaign_id"] = campaign
    return changes


def _not_found() -> ProviderError:
    return freeclimb_error(404, FC_NOT_FOUND, "Not Found")


def _not_available() -> ProviderError:
    return freeclimb_error(409, FC_CONFLICT, "The phone number is not available for purchase")
