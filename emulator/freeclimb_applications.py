"""FreeClimb "Applications" over the store: the URLs a number's calls and messages go to.

A FreeClimb number does nothing until its ``applicationId`` names one of these; the
inbound events (the contract's ``webhooks``) go to the application's URLs, never to the
number. Shapes, paging and refusals follow the numbers (``freeclimb_logic``): wire-keyed
dicts out, ``ProviderError`` with FreeClimb's PlatformError body for a refusal, 100 per page
newest first with a ``cursor`` in ``nextPageUri``.

Deleting an application unlinks the numbers that named it (each counts as updated); FreeClimb
does not document that case, so this is the contract's choice.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Mapping
from typing import Any

from numspec.emulator.accounts import Account
from numspec.emulator.dates import utc_second
from numspec.emulator.errors import FC_NOT_FOUND, ProviderError, freeclimb_error
from numspec.emulator.freeclimb_logic import PAGE_SIZE, FreeClimb, page_fields
from numspec.emulator.freeclimb_logic import _invalid as invalid  # one FreeClimb 400
from numspec.emulator.store import Record, Store

APPLICATIONS = "freeclimb.applications"
# Wire name -> column, in the contract's key order.
URLS = {
    "voiceUrl": "voice_url",
    "voiceFallbackUrl": "voice_fallback_url",
    "callConnectUrl": "call_connect_url",
    "statusCallbackUrl": "status_callback_url",
    "smsUrl": "sms_url",
    "smsFallbackUrl": "sms_fallback_url",
}
# The contract's WebhookUrl: an absolute web URL with no spaces or control characters, at
# most 2048 characters (searched as JSON Schema validators do, so what the schema lets
# through is accepted).
WEBHOOK_URL = re.compile(r"^https?://[^\x00-\x20/?#][^\x00-\x20]*$")
URL_MAX = 2048
ALIAS_MAX = 64


def new_application_id() -> str:
    return "AP" + secrets.token_hex(20)


def application_json(row: Record) -> dict[str, Any]:
    """One application as the contract's Application."""
    created_text, _ = utc_second(row["created_at"] // 1000)
    updated_text, _ = utc_second(row["updated_at"] // 1000)
    return {
        "uri": f"/Accounts/{row['account_sid']}/Applications/{row['sid']}",
        "dateCreated": created_text,
        "dateUpdated": updated_text,
        "revision": row["revision"],
        "accountId": row["account_sid"],
        "applicationId": row["sid"],
        "alias": row["alias"],
        **{wire: row[column] for wire, column in URLS.items()},
    }


def _columns(body: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a create or update body sets, checked; keys left out are not touched."""
    changes: dict[str, Any] = {}
    if "alias" in body:
        alias = body["alias"]
        if not isinstance(alias, str):
            raise invalid("alias must be a string")
        if len(alias) > ALIAS_MAX:
            raise invalid(f"alias must be at most {ALIAS_MAX} characters")
        changes["alias"] = alias
    for wire, column in URLS.items():
        if wire not in body:
            continue
        url = body[wire]
        if url is not None and (not isinstance(url, str) or len(url) > URL_MAX
                                or not WEBHOOK_URL.search(url)):
            raise invalid(f"{wire} must be an absolute http or https URL of at most "
                          f"{URL_MAX} characters, or null")
        changes[column] = url
    return changes


_OWNED = "SELECT * FROM applications WHERE sid = ? AND account_sid = ?"


def _owned(conn: sqlite3.Connection, account_id: str, application_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(_OWNED, (application_id, account_id)).fetchone()
    return row


def _not_found() -> ProviderError:
    return freeclimb_error(404, FC_NOT_FOUND, "Not Found")


class Applications:
    """FreeClimb's Applications API. Method names follow the official SDKs."""

    def __init__(self, store: Store, numbers: FreeClimb | None = None) -> None:
        self.store = store
        # Auth and the cursor helpers are the numbers' own: one definition of each.
        self.numbers = numbers or FreeClimb(store)

    def create_an_application(self, caller: Account, account_id: str,
                              body: Mapping[str, Any] | None) -> dict[str, Any]:
        self.numbers.authorize(caller, account_id)
        changes = _columns(body or {})
        now = self.store.now_ms()
        row = {"sid": new_application_id(), "account_sid": account_id, **changes,
               "created_at": now, "updated_at": now, "revision": 1}
        with self.store.write() as conn:
            conn.execute(
                f"INSERT INTO applications ({', '.join(row)}) "
                f"VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            created = _owned(conn, account_id, row["sid"])
        assert created is not None
        return application_json(created)

    def list_applications(self, caller: Account, account_id: str,
                          filters: Mapping[str, Any] | None = None,
                          cursor: str | None = None) -> dict[str, Any]:
        """One page, newest first; ``alias`` is the only filter."""
        self.numbers.authorize(caller, account_id)
        state = self.numbers._start(APPLICATIONS, account_id, filters or {}, cursor, ("alias",))
        where, params = "account_sid = ?", [account_id]
        if "alias" in state["f"]:
            where, params = where + " AND alias = ?", [*params, state["f"]["alias"]]
        keyset = " AND id < ?" if state["after"] is not None else ""
        with self.store.read() as conn:
            total = int(conn.execute(
                f"SELECT COUNT(*) FROM applications WHERE {where}", params).fetchone()[0])
            rows = conn.execute(
                f"SELECT * FROM applications WHERE {where}{keyset} ORDER BY id DESC LIMIT ?",
                [*params, *([state["after"]] if keyset else []), PAGE_SIZE + 1],
            ).fetchall()
        items = [application_json(row) for row in rows[:PAGE_SIZE]]
        after = rows[PAGE_SIZE - 1]["id"] if len(rows) > PAGE_SIZE else None
        next_uri = self.numbers._next(APPLICATIONS, account_id, state, after,
                                              f"/Accounts/{account_id}/Applications")
        return {**page_fields(total, state["p"], len(items), next_uri), "applications": items}

    def get_an_application(self, caller: Account, account_id: str,
                           application_id: str) -> dict[str, Any]:
        self.numbers.authorize(caller, account_id)
        row = self.store.query_one(_OWNED, (application_id, account_id))
        if row is None:
            raise _not_found()
        return application_json(row)

    def update_an_application(self, caller: Account, account_id: str, application_id: str,
                              body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Apply the fields present in ``body`` (a null URL removes it); every call adds one
        to ``revision`` and moves ``dateUpdated``."""
        self.numbers.authorize(caller, account_id)
        changes = _columns(body or {})
        with self.store.write() as conn:
            row = _owned(conn, account_id, application_id)
            if row is None:
                raise _not_found()
            sets = "".join(f"{column} = ?, " for column in changes)
            conn.execute(
                f"UPDATE applications SET {sets}revision = revision + 1, "
                "updated_at = MAX(?, updated_at + 1) WHERE id = ?",
                [*changes.values(), self.store.now_ms(), row["id"]],
            )
            updated = _owned(conn, account_id, application_id)
        assert updated is not None
        return application_json(updated)

    def delete_an_application(self, caller: Account, account_id: str,
                              application_id: str) -> None:
        """Delete it; the account's numbers that named it lose the link (an update each)."""
        self.numbers.authorize(caller, account_id)
        with self.store.write() as conn:
            row = _owned(conn, account_id, application_id)
            if row is None:
                raise _not_found()
            conn.execute(
                "UPDATE numbers SET application_id = NULL, revision = revision + 1, "
                "updated_at = MAX(?, updated_at + 1) "
                "WHERE application_id = ? AND account_sid = ? AND provider = 'freeclimb'",
                (self.store.now_ms(), application_id, account_id),
            )
            conn.execute("DELETE FROM applications WHERE id = ?", (row["id"],))

