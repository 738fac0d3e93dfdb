"""Restcomm-Connect "IncomingPhoneNumbers" behaviour over the store.

Operations return dicts shaped like the contract's JSON (snake_case keys, wire order) or raise
``ProviderError`` with Restcomm's plain-text (mostly empty) body. Form fields arrive under
their wire names (``PhoneNumber``, ``VoiceUrl``, …); pass only the fields the client sent,
since on update "absent" and "empty" mean different things.

``fmt`` ('json' or 'xml') changes two values, as on the real server: a number's ``uri`` ends
in ``.json`` only in JSON, and a list's ``total`` holds the page count in XML. The generated
stubs write the XML itself, from the contract's ``xml`` annotations.

Choices where the real server is broken or silent (the contract documents each):
- the 500s become 4xx: unknown path account 404, another account's number 403, malformed
  Sid 404, AreaCode without PhoneNumber 400;
- ``PhoneNumber``/``FriendlyName`` list filters are SQL ``LIKE '%v%'``: ``%`` and ``_`` stay
  wildcards, nothing is escaped, and matching is case-sensitive (HSQLDB's default); a filter
  holding a control character (NUL, tab, …) is refused with 400;
- lists are ordered as intended (``SortBy``, default PhoneNumber, ``Reverse``), not in the
  database's natural order the real server falls into;
- ``*_application_name``: the emulator has no applications, so the key is present (list items
  only, when the Sid is set) with the value null, which is what the real server's join yields
  for a Sid that names no application;
- ``isSIP=false`` is an ordinary number from the pool (the real server skips the provider
  whenever isSIP is present at all).
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import phonenumbers
from numspec.emulator import accounts, inventory
from numspec.emulator.accounts import Account
from numspec.emulator.dates import rfc2822
from numspec.emulator.errors import ProviderError, restcomm_error, restcomm_unauthorized
from numspec.emulator.store import Record, Store, account_is_full, count_numbers

Fmt = Literal["json", "xml"]
API_VERSION = "2012-04-24"
NUMBER_TYPES = ("Global", "Local", "TollFree", "Mobile")
DEFAULT_PAGE_SIZE = 50
MAX_PAGING = 1_000_000
UNAVAILABLE = "21452"

SID = re.compile(r"^[0-9A-Za-z]{34}$")
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[!-~]+$")  # as the contract: printable ASCII
API_VERSION_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
METHODS = ("GET", "POST")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Form field → column.
_URL_FIELDS = {
    "VoiceUrl": "voice_url", "VoiceFallbackUrl": "voice_fallback_url",
    "StatusCallback": "status_callback", "SmsUrl": "sms_url",
    "SmsFallbackUrl": "sms_fallback_url", "UssdUrl": "ussd_url",
    "UssdFallbackUrl": "ussd_fallback_url", "ReferUrl": "refer_url",
}
_METHOD_FIELDS = {
    "VoiceMethod": "voice_method", "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallbackMethod": "status_callback_method", "SmsMethod": "sms_method",
    "SmsFallbackMethod": "sms_fallback_method", "UssdMethod": "ussd_method",
    "UssdFallbackMethod": "ussd_fallback_method", "ReferMethod": "refer_method",
}
_APPLICATION_FIELDS = {
    "VoiceApplicationSid": "voice_application_sid", "SmsApplicationSid": "sms_application_sid",
    "UssdApplicationSid": "ussd_application_sid", "ReferApplicationSid": "refer_application_sid",
}
_CAPABILITY_FIELDS = {
    "VoiceCapable": "voice_capable", "SmsCapable": "sms_capable",
    "MmsCapable": "mms_capable", "FaxCapable": "fax_capable",
}
_SORT_COLUMNS = {"PhoneNumber": "phone_number", "FriendlyName": "friendly_name"}


# -- wire formats -----------------------------------------------------------------------

def number_json(row: Record, fmt: Fmt = "json", *,
                application_names: bool = False) -> dict[str, Any]:
    """One number as the contract's IncomingPhoneNumber. ``application_names`` adds the
    ``*_application_name`` keys list items carry (only where the Sid is set)."""
    out: dict[str, Any] = {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "friendly_name": row["friendly_name"],
        "phone_number": row["phone_number"],
        "voice_url": row["voice_url"],
        "voice_method": row["voice_method"],
        "voice_fallback_url": row["voice_fallback_url"],
        "voice_fallback_method": row["voice_fallback_method"],
        "status_callback": row["status_callback"],
        "status_callback_method": row["status_callback_method"],
        "voice_caller_id_lookup": bool(row["voice_caller_id_lookup"]),
    }
    _application(out, row, "voice", application_names)
    out["date_created"] = rfc2822(row["created_at"])
    out["date_updated"] = rfc2822(row["updated_at"])
    for channel in ("sms", "ussd"):
        for suffix in ("url", "method", "fallback_url", "fallback_method"):
            out[f"{channel}_{suffix}"] = row[f"{channel}_{suffix}"]
        _application(out, row, channel, application_names)
    out["refer_url"] = row["refer_url"]
    out["refer_method"] = row["refer_method"]
    _application(out, row, "refer", application_names)
    out["capabilities"] = {column: bool(row[column]) for column in _CAPABILITY_FIELDS.values()}
    out["api_version"] = row["api_version"]
    out["uri"] = row["uri"] + (".json" if fmt == "json" else "")
    return out


def _application(out: dict[str, Any], row: Record, channel: str,
                 with_name: bool) -> None:
    sid = row[f"{channel}_application_sid"]
    out[f"{channel}_application_sid"] = sid
    if with_name and sid is not None:
        out[f"{channel}_application_name"] = None  # no such application in the emulator


def page_fields(uri: str, total: int, page: int, size: int, count: int,
                last_sid: str | None, fmt: Fmt) -> dict[str, Any]:
    """The paging keys with every quirk of the real server (see IncomingPhoneNumberPage)."""
    num_pages = total // size  # really the index of the last page
    start = page * size
    last = page == num_pages
    return {
        "page": page,
        "num_pages": num_pages,
        "page_size": size,
        "total": num_pages if fmt == "xml" else total,
        "start": str(start),
        "end": str(start + count if last else start + size - 1),
        "uri": uri,
        "first_page_uri": f"{uri}?Page=0&PageSize={size}",
        "previous_page_uri": "null" if page == 0 else f"{uri}?Page={page - 1}&PageSize={size}",
        "next_page_uri": "null" if last
        else f"{uri}?Page={page + 1}&PageSize={size}&AfterSid={last_sid}",
        "last_page_uri": f"{uri}?Page={num_pages}&PageSize={size}",
    }


def like_to_glob(value: str) -> str:
    """SQL ``LIKE '%value%'`` as a case-sensitive GLOB: ``%`` → ``*``, ``_`` → ``?``, and
    GLOB's own wildcards in the value taken literally."""
    out = []
    for char in value:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "*" + "".join(out) + "*"


def to_e164(raw: str) -> str:
    """E.164 with US as the default region; a value phonenumbers cannot read stays as sent."""
    try:
        parsed = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return raw
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def new_sid() -> str:
    return "PN" + uuid.uuid4().hex


# -- request checking -------------------------------------------------------------------


def _bad(text: str = "") -> ProviderError:
    return restcomm_error(400, text)


def _java_bool(value: Any) -> bool:
    """Java's Boolean.parseBoolean: only "true" in any case is true."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _bad(f"{name} must be text")
    if len(value) > limit:
        raise _bad(f"{name} must be at most {limit} characters")
    return value


def _url(name: str, value: Any, *, clearable: bool) -> str | None:
    text = _text(name, value, 2048)
    if text == "" and clearable:
        return None
    if not URL.match(text):
        raise _bad(f"{name} must be an absolute URL")
    return text


def _method(name: str, value: Any) -> str:
    text = _text(name, value, 4).upper()
    if text not in METHODS:
        raise _bad(f"{name} must be GET or POST")
    return text


def _application_sid(name: str, value: Any, *, clearable: bool) -> str | None:
    text = _text(name, value, 34)
    if text == "" and clearable:
        return None
    if not SID.match(text):
        raise _bad(f"{name} must be a 34-character Sid")
    return text


def _api_version(value: Any) -> str:
    text = _text("ApiVersion", value, 10)
    if not API_VERSION_PATTERN.match(text):
        raise _bad("ApiVersion must look like 2012-04-24")
    return text


def _settable_columns(form: Mapping[str, Any], *, update: bool) -> dict[str, Any]:
    """Columns for the fields present in ``form``. On update an empty URL or application Sid
    clears the field; on create the empty string is refused like any other bad URL."""
    columns: dict[str, Any] = {}
    for field, column in _URL_FIELDS.items():
        if field in form:
            columns[column] = _url(field, form[field], clearable=update)
    for field, column in _METHOD_FIELDS.items():
        if field in form:
            columns[column] = _method(field, form[field])
    for field, column in _APPLICATION_FIELDS.items():
        if field in form:
            columns[column] = _application_sid(field, form[field], clearable=update)
    for field, column in _CAPABILITY_FIELDS.items():
        if field in form:
            columns[column] = int(_java_bool(form[field]))
    if "VoiceCallerIdLookup" in form:
        columns["voice_caller_id_lookup"] = int(_java_bool(form["VoiceCallerIdLookup"]))
    if "ApiVersion" in form:
        columns["api_version"] = _api_version(form["ApiVersion"])
    if "FriendlyName" in form:
        name = _text("FriendlyName", form["FriendlyName"], 64)
        if name or update:
            if not name:
                raise _bad("FriendlyName must not be empty")
            columns["friendly_name"] = name
    return columns


def _int(name: str, value: Any, default: int, minimum: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise _bad(f"{name} must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise _bad(f"{name} must be a whole number")
    if not minimum <= number <= MAX_PAGING:
        raise _bad(f"{name} must be between {minimum} and {MAX_PAGING}")
    return number


def new_number_row(owner: Account, phone_number: str, friendly_name: str, now: int, *,
                   is_sip: bool = False, number_type: str = "Global",
                   api_version: str = API_VERSION, sid: str | None = None) -> dict[str, Any]:
    """A ``numbers`` row with Restcomm's defaults: every method POST, nothing else set."""
    sid = sid or new_sid()
    row: dict[str, Any] = {
        "provider": "restcomm", "sid": sid, "account_sid": owner.sid,
        "phone_number": phone_number, "is_sip": int(is_sip),
        "organization_sid": owner.organization_sid, "created_at": now, "updated_at": now,
        "friendly_name": friendly_name, "number_type": number_type, "api_version": api_version,
        "uri": f"/{api_version}/Accounts/{owner.sid}/IncomingPhoneNumbers/{sid}",
        "voice_caller_id_lookup": 0,
    }
    row.update(dict.fromkeys(_URL_FIELDS.values()))
    row.update(dict.fromkeys(_METHOD_FIELDS.values(), "POST"))
    row.update(dict.fromkeys(_APPLICATION_FIELDS.values()))
    row.update(dict.fromkeys(_CAPABILITY_FIELDS.values()))
    return row


@dataclasses.dataclass(frozen=True)
class _PagePlan:
    """A checked list request: its WHERE clause and order, and the page it asks for."""

    where: str
    values: list[Any]
    order: str
    page: int
    size: int
    total: int
    uri: str


# -- the operations ---------------------------------------------------------------------


class Restcomm:
    """Restcomm's IncomingPhoneNumbers API."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # auth

    def login(self, credentials: tuple[str, str] | None) -> Account:
        """Check decoded Basic credentials: the AccountSid or email, and the auth token or a
        password whose MD5 is the token. 401 (with WWW-Authenticate) otherwise; 403 if the
        account is not active."""
        if credentials is None:
            raise restcomm_unauthorized()
        account = accounts.authenticate(self.store, "restcomm", *credentials)
        if account is None:
            raise restcomm_unauthorized()
        if account.status != "active":
            raise restcomm_error(403, "Provided Account is not active")
        return account

    def authorize(self, caller: Account, account_sid: str) -> Account:
        """The path account must exist (404) and be the caller or one of its descendants
        (403). Returns the path account, the owner of whatever is created."""
        owner = accounts.get_account(self.store, account_sid, "restcomm")
        if owner is None:
            raise restcomm_error(404)
        if not accounts.is_self_or_ancestor(self.store, caller.sid, account_sid):
            raise restcomm_error(403)
        return owner

    # operations

    def create_incoming_phone_number(self, caller: Account, account_sid: str,
                                     form: Mapping[str, Any], fmt: Fmt = "json",
                                     number_type: str = "Global") -> dict[str, Any]:
        """Provision a number; ``number_type`` is Global, Local, TollFree or Mobile after the
        route used, and is recorded with the number."""
        owner = self.authorize(caller, account_sid)
        raw = form.get("PhoneNumber")
        if raw is None or raw == "":
            if form.get("AreaCode") not in (None, ""):
                raise _bad("Provisioning by AreaCode is not supported; send PhoneNumber.")
            raise _bad("Phone number can not be null.")
        # Any text, as on the real server: `(201) 213-3720`, a SIP name, or a `+` that arrived
        # as a space. What phonenumbers cannot read stays as sent (and is then not in the pool).
        raw = _text("PhoneNumber", raw, 30)
        if number_type not in NUMBER_TYPES:
            raise ValueError(f"unknown number type {number_type!r}")
        is_sip = _java_bool(form.get("isSIP"))
        columns = _settable_columns(form, update=False)
        row = new_number_row(
            owner, raw if is_sip else to_e164(raw), columns.pop("friendly_name", raw),
            self.store.now_ms(), is_sip=is_sip, number_type=number_type,
            api_version=columns.pop("api_version", API_VERSION),
        )
        row.update(columns)
        try:
            with self.store.write() as conn:
                if account_is_full(self.store, conn, owner.sid, "restcomm"):
                    # What the real server's extension filter answers for a blocked create.
                    raise restcomm_error(403)
                self._claim(conn, row)
                conn.execute(
                    f"INSERT INTO numbers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
                created = _by_sid(conn, row["sid"])
        except sqlite3.IntegrityError:
            raise _bad(UNAVAILABLE) from None
        assert created is not None
        return number_json(created, fmt)

    @staticmethod
    def _claim(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
        """Check the number is free, as the real server does, and take it from the pool.

        SIP numbers clash only with a number of the same organisation; any other number
        clashes with every existing one and must be in the pool.
        """
        phone_number = row["phone_number"]
        if row["is_sip"]:
            clash = conn.execute(
                "SELECT 1 FROM numbers WHERE phone_number = ? AND organization_sid = ?",
                (phone_number, row["organization_sid"]),
            ).fetchone()
            if clash is not None:
                raise _bad(UNAVAILABLE)
            return
        if conn.execute("SELECT 1 FROM numbers WHERE phone_number = ?",
                        (phone_number,)).fetchone() is not None:
            raise _bad(UNAVAILABLE)
        line = Store.take_from_pool(conn, phone_number)
        if line is None:
            raise _bad(UNAVAILABLE)
        for key in ("country", "region", "kind", "voice", "sms", "toll_free", "ten_dlc",
                    "short_code"):
            row[key] = line[key]

    def list_incoming_phone_numbers(self, caller: Account, account_sid: str,
                                    params: Mapping[str, Any] | None = None,
                                    fmt: Fmt = "json",
                                    number_type: str | None = None) -> dict[str, Any]:
        """One page of the path account's own numbers. ``number_type`` (Local, TollFree,
        Mobile) only changes the URIs: like the real server, those routes do not filter."""
        plan = self._plan_page(caller, account_sid, params or {}, number_type)
        rows = self._page_rows(plan, 0, plan.size)
        last_sid = rows[-1]["sid"] if rows else None
        return {
            **page_fields(plan.uri, plan.total, plan.page, plan.size, len(rows), last_sid, fmt),
            "incomingPhoneNumbers": [number_json(r, fmt, application_names=True) for r in rows],
        }

    def stream_incoming_phone_numbers(
        self, caller: Account, account_sid: str, params: Mapping[str, Any] | None = None,
        fmt: Fmt = "json", number_type: str | None = None, batch: int = 500,
    ) -> tuple[dict[str, Any], int, Iterator[list[dict[str, Any]]]]:
        """The same page as ``list_incoming_phone_numbers``, as its paging keys and the items
        in batches read one query at a time: the real server has no PageSize limit, so a page
        of 20 000 numbers must not be built in memory at once. Returns the paging keys, the
        number of items and the batches. Numbers created or released while the page streams
        may shift it, as between any two page requests."""
        plan = self._plan_page(caller, account_sid, params or {}, number_type)
        count = max(0, min(plan.size, plan.total - plan.page * plan.size))
        last = self._page_rows(plan, count - 1, 1) if count else []
        fields = page_fields(plan.uri, plan.total, plan.page, plan.size, count,
                             last[0]["sid"] if last else None, fmt)

        def batches() -> Iterator[list[dict[str, Any]]]:
            for skip in range(0, count, batch):
                rows = self._page_rows(plan, skip, min(batch, count - skip))
                yield [number_json(r, fmt, application_names=True) for r in rows]

        return fields, count, batches()

    def _plan_page(self, caller: Account, account_sid: str, params: Mapping[str, Any],
                   number_type: str | None) -> _PagePlan:
        """Check a list request and count what it matches; raises the real server's 400s."""
        self.authorize(caller, account_sid)
        page = _int("Page", params.get("Page"), 0, 0)
        size = _int("PageSize", params.get("PageSize"), DEFAULT_PAGE_SIZE, 1)
        sort_by = params.get("SortBy") or "PhoneNumber"
        if sort_by not in _SORT_COLUMNS:
            raise _bad("SortBy must be PhoneNumber or FriendlyName")
        direction = "DESC" if _java_bool(params.get("Reverse")) else "ASC"
        clauses = ["account_sid = ?", "provider = 'restcomm'"]
        values: list[Any] = [account_sid]
        for name, column, limit in (("PhoneNumber", "phone_number", 30),
                                    ("FriendlyName", "friendly_name", 64)):
            if params.get(name) not in (None, ""):
                text = _text(name, params[name], limit)
                # GLOB stops at a NUL, so "%00" would match every number: refuse them all.
                if CONTROL.search(text):
                    raise _bad(f"{name} must not contain control characters")
                clauses.append(f"{column} GLOB ?")
                values.append(like_to_glob(text))
        where = " AND ".join(clauses)
        with self.store.read() as conn:
            if len(values) > 1:  # filtered
                total = int(conn.execute(f"SELECT COUNT(*) FROM numbers WHERE {where}",
                                         values).fetchone()[0])
            else:
                total = count_numbers(conn, account_sid, "restcomm")
        if page > total // size:
            # No text, as on the real server; still text/plain, the 400's declared type.
            raise ProviderError(400, "")
        uri = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers"
        if number_type in ("Local", "TollFree", "Mobile"):
            uri += f"/{number_type}"
        order = f"{_SORT_COLUMNS[sort_by]} {direction}, id {direction}"
        return _PagePlan(where, values, order, page, size, total, uri)

    def _page_rows(self, plan: _PagePlan, skip: int, limit: int) -> list[sqlite3.Row]:
        """``limit`` rows of the page, starting ``skip`` rows into it."""
        with self.store.read() as conn:
            return conn.execute(
                f"SELECT * FROM numbers WHERE {plan.where} ORDER BY {plan.order} "
                "LIMIT ? OFFSET ?",
                [*plan.values, limit, plan.page * plan.size + skip],
            ).fetchall()

    def get_incoming_phone_number(self, caller: Account, account_sid: str, sid: str,
                                  fmt: Fmt = "json") -> dict[str, Any]:
        self.authorize(caller, account_sid)
        with self.store.read() as conn:
            row = _owned(conn, account_sid, sid)
        return number_json(row, fmt)

    def update_incoming_phone_number(self, caller: Account, account_sid: str, sid: str,
                                     form: Mapping[str, Any] | None = None,
                                     fmt: Fmt = "json") -> dict[str, Any]:
        """Change only the fields sent (POST and PUT alike). PhoneNumber, AreaCode,
        AccountSid and isSIP are ignored; ``date_updated`` always moves."""
        self.authorize(caller, account_sid)
        columns = _settable_columns(form or {}, update=True)
        with self.store.write() as conn:
            row = _owned(conn, account_sid, sid)
            sets = "".join(f"{column} = ?, " for column in columns)
            conn.execute(
                f"UPDATE numbers SET {sets}updated_at = MAX(?, updated_at + 1) WHERE id = ?",
                [*columns.values(), self.store.now_ms(), row["id"]],
            )
            updated = _by_sid(conn, row["sid"])
        assert updated is not None
        return number_json(updated, fmt)

    def delete_incoming_phone_number(self, caller: Account, account_sid: str, sid: str) -> None:
        """Release the number; a real (non-SIP) one goes back to the pool."""
        self.authorize(caller, account_sid)
        with self.store.write() as conn:
            row = _owned(conn, account_sid, sid)
            conn.execute("DELETE FROM numbers WHERE id = ?", (row["id"],))
            Store.return_to_pool(conn, row)

    # bulk seeding (benchmarks, fixtures)

    def seed_numbers(self, account_sid: str, count: int, *, seed: int = 2) -> int:
        """Give an account ``count`` numbers that are not in the pool, in one transaction."""
        owner = accounts.get_account(self.store, account_sid, "restcomm")
        if owner is None:
            raise ValueError(f"no Restcomm account {account_sid}")
        taken = self.store.taken_numbers()
        now = self.store.now_ms()
        rows = (
            {**new_number_row(owner, line.phone_number,
                              inventory.national_format(line.phone_number), now),
             "country": line.country, "region": line.region, "kind": line.kind,
             "voice": int(line.voice), "sms": int(line.sms), "toll_free": int(line.toll_free),
             "ten_dlc": int(line.ten_dlc), "short_code": int(line.short_code)}
            for line in inventory.generate_lines(count, seed, taken)
        )
        return self.store.insert_numbers(rows)


def _by_sid(conn: sqlite3.Connection, sid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM numbers WHERE sid = ? AND provider = 'restcomm'", (sid,)
    ).fetchone()
    return row


def _owned(conn: sqlite3.Connection, account_sid: str, sid: str) -> sqlite3.Row:
    """The number, if it is the path account's: malformed or unknown Sid → 404, another
    account's number → 403 (the real server answers 500 for both of those)."""
    row = _by_sid(conn, sid) if SID.match(sid) else None
    if row is None:
        raise restcomm_error(404)
    if row["account_sid"] != account_sid:
        raise restcomm_error(403)
    return row
