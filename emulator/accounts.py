"""Accounts of both providers: demo accounts, adding more, TOML config, checking credentials.

Secrets stay out of logs and reprs, and are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import tomllib
from dataclasses import dataclass, field
from typing import Any, Literal

from numspec.emulator.store import Store

Provider = Literal["freeclimb", "restcomm"]

FREECLIMB_ACCOUNT_ID = re.compile(r"^AC[0-9a-fA-F]{40}$")
RESTCOMM_ACCOUNT_SID = re.compile(r"^AC[0-9A-Za-z]{32}$")
RESTCOMM_ORGANIZATION_SID = re.compile(r"^OR[0-9A-Za-z]{32}$")
MAX_ANCESTRY = 32  # deeper trees than this are refused, so a walk up always ends


@dataclass(frozen=True)
class Account:
    sid: str
    provider: Provider
    secret: str = field(repr=False)  # FreeClimb API key or Restcomm auth token
    email: str | None = None
    parent_sid: str | None = None
    organization_sid: str | None = None
    friendly_name: str | None = None
    status: str = "active"


@dataclass(frozen=True)
class DemoLogin:
    """Credentials printed on start so a user can try the emulator at once."""

    provider: Provider
    role: str
    username: str
    password: str
    email: str | None = None
    auth_token: str | None = None
    parent_sid: str | None = None


def _hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# Demo accounts are derived from fixed strings so docs and scripts can name them. They are
# meant for a server on loopback; add real-looking accounts through the config file.
DEMO_ORGANIZATION = "OR" + _hex("numspec demo organization", 32)
FREECLIMB_DEMO = DemoLogin(
    "freeclimb", "demo", "AC" + _hex("numspec demo freeclimb account", 40),
    _hex("numspec demo freeclimb api key", 40),
)


def _restcomm_demo(role: str, name: str, parent: str | None) -> DemoLogin:
    password = f"numspec-{name}"
    return DemoLogin(
        "restcomm", role, "AC" + _hex(f"numspec demo restcomm {name}", 32), password,
        email=f"{name}@numspec.example", auth_token=md5_hex(password), parent_sid=parent,
    )


# The secret the demo FreeClimb account's webhooks are signed with (FreeClimb-Signature):
# fixed and published like the demo login, so a receiver under test can be set up with it.
FREECLIMB_DEMO_SIGNING_SECRET = _hex("numspec demo freeclimb signing secret", 40)

RESTCOMM_DEMO = _restcomm_demo("demo", "demo", None)
RESTCOMM_DEMO_SUBS = (
    _restcomm_demo("sub-account of demo", "sub1", RESTCOMM_DEMO.username),
    _restcomm_demo("sub-account of demo", "sub2", RESTCOMM_DEMO.username),
)


def demo_logins() -> list[DemoLogin]:
    return [FREECLIMB_DEMO, RESTCOMM_DEMO, *RESTCOMM_DEMO_SUBS]


def describe_demo_logins() -> str:
    """Human-readable lines for the terminal: who you can log in as."""
    lines = []
    for login in demo_logins():
        line = f"{login.provider:9} {login.role:20} user {login.username}  password {login.password}"
        if login.email:
            line += f"  (or user {login.email}; auth token {login.auth_token})"
        if login is FREECLIMB_DEMO:
            line += f"  webhook signing secret {FREECLIMB_DEMO_SIGNING_SECRET}"
        lines.append(line)
    return "\n".join(lines)


def ensure_demo_accounts(store: Store) -> None:
    """Create the demo accounts if missing; never overwrite ones a user has changed."""
    with store.write() as conn:
        _insert(conn, Account(FREECLIMB_DEMO.username, "freeclimb", FREECLIMB_DEMO.password),
                store.now_ms(), overwrite=False)
        conn.execute("UPDATE accounts SET signing_secret = ? WHERE sid = ? AND signing_secret "
                     "IS NULL", (FREECLIMB_DEMO_SIGNING_SECRET, FREECLIMB_DEMO.username))
        for login in (RESTCOMM_DEMO, *RESTCOMM_DEMO_SUBS):
            assert login.auth_token is not None
            account = Account(
                login.username, "restcomm", login.auth_token, email=login.email,
                parent_sid=login.parent_sid, organization_sid=DEMO_ORGANIZATION,
                friendly_name=f"numspec {login.role}",
            )
            _insert(conn, account, store.now_ms(), overwrite=False)


# -- adding and reading accounts --------------------------------------------------------


def add_freeclimb_account(store: Store, account_id: str, api_key: str,
                          signing_secret: str | None = None) -> Account:
    """Add (or change the key of) a FreeClimb account. Its webhook signing secret is the one
    given, else the one it has, else a new random one."""
    if not FREECLIMB_ACCOUNT_ID.match(account_id):
        raise ValueError(f"FreeClimb account_id must be AC + 40 hex digits: {account_id!r}")
    if not api_key:
        raise ValueError(f"FreeClimb account {account_id}: api_key is empty")
    account = Account(account_id, "freeclimb", api_key)
    with store.write() as conn:
        _insert(conn, account, store.now_ms(), overwrite=True)
        conn.execute("UPDATE accounts SET signing_secret = coalesce(?, signing_secret, ?) "
                     "WHERE sid = ?", (signing_secret, secrets.token_hex(20), account_id))
    return account


def signing_secret(store: Store, account_sid: str) -> str | None:
    """The secret a FreeClimb account's webhooks are signed with (None: no such account)."""
    row = store.query_one("SELECT signing_secret FROM accounts WHERE sid = ? AND "
                          "provider = 'freeclimb'", (account_sid,))
    if row is None:
        return None
    if row[0] is None:  # an account added by a path that set none: give it one now
        with store.write() as conn:
            conn.execute("UPDATE accounts SET signing_secret = coalesce(signing_secret, ?) "
                         "WHERE sid = ?", (secrets.token_hex(20), account_sid))
        return signing_secret(store, account_sid)
    return str(row[0])


def add_restcomm_account(
    store: Store,
    sid: str,
    auth_token: str,
    *,
    email: str | None = None,
    parent_sid: str | None = None,
    organization_sid: str | None = None,
    friendly_name: str | None = None,
    status: str = "active",
) -> Account:
    """Add (or change) a Restcomm account. A sub-account joins its parent's organisation
    unless told otherwise; a top-level account joins the demo organisation."""
    if not RESTCOMM_ACCOUNT_SID.match(sid):
        raise ValueError(f"Restcomm sid must be AC + 32 letters or digits: {sid!r}")
    if not auth_token:
        raise ValueError(f"Restcomm account {sid}: auth_token is empty")
    if organization_sid is not None and not RESTCOMM_ORGANIZATION_SID.match(organization_sid):
        raise ValueError(f"Restcomm account {sid}: organization_sid must be OR + 32 characters")
    with store.write() as conn:
        if parent_sid is not None:
            parent = _row(conn, parent_sid)
            if parent is None or parent["provider"] != "restcomm":
                raise ValueError(f"Restcomm account {sid}: parent {parent_sid} does not exist")
            if parent_sid == sid or sid in _ancestors(conn, parent_sid):
                raise ValueError(f"Restcomm account {sid}: parent {parent_sid} would make a loop")
            organization_sid = organization_sid or parent["organization_sid"]
        account = Account(
            sid, "restcomm", auth_token, email=email, parent_sid=parent_sid,
            organization_sid=organization_sid or DEMO_ORGANIZATION,
            friendly_name=friendly_name, status=status,
        )
        _insert(conn, account, store.now_ms(), overwrite=True)
    return account


def _insert(conn: sqlite3.Connection, account: Account, now: int, *, overwrite: bool) -> None:
    existing = _row(conn, account.sid)
    if existing is not None and existing["provider"] != account.provider:
        raise ValueError(f"account {account.sid} already belongs to {existing['provider']}")
    conflict = (
        "DO UPDATE SET secret = excluded.secret, email = excluded.email, "
        "parent_sid = excluded.parent_sid, organization_sid = excluded.organization_sid, "
        "friendly_name = excluded.friendly_name, status = excluded.status"
        if overwrite
        else "DO NOTHING"
    )
    try:
        conn.execute(
            "INSERT INTO accounts (sid, provider, secret, email, parent_sid, organization_sid, "
            "friendly_name, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT(sid) {conflict}",
            (account.sid, account.provider, account.secret, account.email, account.parent_sid,
             account.organization_sid, account.friendly_name, now, account.status),
        )
    except sqlite3.IntegrityError as exc:
        raise ValueError(f"account {account.sid}: email {account.email!r} is taken") from exc


def _row(conn: sqlite3.Connection, sid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM accounts WHERE sid = ?", (sid,)
    ).fetchone()
    return row


def _account(row: sqlite3.Row) -> Account:
    return Account(
        row["sid"], row["provider"], row["secret"], email=row["email"],
        parent_sid=row["parent_sid"], organization_sid=row["organization_sid"],
        friendly_name=row["friendly_name"], status=row["status"],
    )


def _ancestors(conn: sqlite3.Connection, sid: str) -> list[str]:
    """The parent, grandparent, … of an account, nearest first."""
    chain: list[str] = []
    current = _row(conn, sid)
    while current is not None and current["parent_sid"] and len(chain) < MAX_ANCESTRY:
        chain.append(current["parent_sid"])
        current = _row(conn, current["parent_sid"])
    return chain


def get_account(store: Store, sid: str, provider: Provider | None = None) -> Account | None:
    row = store.query_one("SELECT * FROM accounts WHERE sid = ?", (sid,))
    if row is None or (provider is not None and row["provider"] != provider):
        return None
    return _account(row)


def is_self_or_ancestor(store: Store, actor_sid: str, account_sid: str) -> bool:
    """True when ``actor_sid`` is ``account_sid`` or one of its parents, grandparents, …"""
    if actor_sid == account_sid:
        return True
    with store.read() as conn:
        return actor_sid in _ancestors(conn, account_sid)


# -- credentials ------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def secret_matches(account: Account, password: str) -> bool:
    """FreeClimb: the API key. Restcomm: the auth token, or a password whose MD5 is the token.

    Both Restcomm comparisons always run, so timing does not tell which form was sent.
    """
    if account.provider == "freeclimb":
        return _same(password, account.secret)
    plain = _same(password, account.secret)
    hashed = _same(md5_hex(password), account.secret.lower())
    return plain | hashed


# The unknown user's stand-ins, one per provider, shaped like real rows. Each lookup always
# yields exactly one row (the account, else its stand-in), so an unknown user and a wrong
# password cost the same: the same statement, one row built, one Account, the same
# constant-time comparisons. (Returning no row was 2-3 µs faster than returning one.)
_DUMMY_SECRETS = {"freeclimb": "0" * 40, "restcomm": md5_hex("no such account")}
_COLUMNS = "sid, provider, secret, email, parent_sid, organization_sid, friendly_name, status"
_MATCH = {
    "freeclimb": "provider = 'freeclimb' AND sid = ?2",
    # Restcomm takes the user as an email first, then as an AccountSid.
    "restcomm": "provider = 'restcomm' AND (email = ?1 OR sid = ?2)",
}


def _lookup(provider: Provider) -> str:
    return (f"SELECT * FROM (SELECT {_COLUMNS}, 0 AS missing FROM accounts "
            f"WHERE {_MATCH[provider]} "
            f"UNION ALL SELECT ?3, '{provider}', ?4, NULL, NULL, NULL, NULL, 'active', 1) "
            "ORDER BY missing, email = ?1 DESC LIMIT 1")


def authenticate(store: Store, provider: Provider, user: str, password: str) -> Account | None:
    """The account these credentials open, or None.

    Restcomm looks the user up as an email first, then as an AccountSid, like the real server.
    An unknown user and a wrong password take one path, so timing cannot tell them apart.
    """
    dummy_sid = "AC" + "0" * (40 if provider == "freeclimb" else 32)
    row = store.query_one(_lookup(provider), (user, user, dummy_sid, _DUMMY_SECRETS[provider]))
    assert row is not None  # the stand-in row is always there
    account = _account(row)
    matches = secret_matches(account, password)
    return account if matches and not row["missing"] else None


# -- config file --------------------------------------------------------------------------


def load_accounts_file(store: Store, path: str | os.PathLike[str]) -> list[Account]:
    """Add the accounts a TOML file lists; returns them in file order. Unknown sections and
    keys are refused (ValueError) before anything is added.

    ```toml
    [[freeclimb.accounts]]
    account_id = "AC…40 hex…"
    api_key = "…"
    signing_secret = "…"           # optional: webhooks' FreeClimb-Signature key (else random)

    [[restcomm.accounts]]
    sid = "AC…32…"
    email = "ops@example.com"      # optional
    auth_token = "…"               # or the MD5 of the password
    parent_sid = "AC…32…"          # optional; must be listed earlier or exist already
    organization_sid = "OR…32…"    # optional
    ```
    """
    with open(path, "rb") as handle:
        config = tomllib.load(handle)
    _refuse_unknown_keys(config)
    added: list[Account] = []
    for entry in _entries(config, "freeclimb"):
        added.append(add_freeclimb_account(
            store, _text(entry, "account_id", required=True) or "",
            _text(entry, "api_key", required=True) or "",
            _text(entry, "signing_secret"),
        ))
    for entry in _entries(config, "restcomm"):
        added.append(add_restcomm_account(
            store, _text(entry, "sid", required=True) or "",
            _text(entry, "auth_token", required=True) or "",
            email=_text(entry, "email"), parent_sid=_text(entry, "parent_sid"),
            organization_sid=_text(entry, "organization_sid"),
            friendly_name=_text(entry, "friendly_name"),
        ))
    return added


# What an accounts file may hold (the format `numspec serve --help` documents).
CONFIG_KEYS = {
    "freeclimb": ("account_id", "api_key", "signing_secret"),
    "restcomm": ("sid", "auth_token", "email", "parent_sid", "organization_sid", "friendly_name"),
}


def _refuse_unknown_keys(config: dict[str, Any]) -> None:
    """A misspelt section or key would silently add nothing (or lose a setting): name it."""
    tables = " and ".join(f"[[{provider}.accounts]]" for provider in CONFIG_KEYS)
    for name, section in config.items():
        if name not in CONFIG_KEYS:
            raise ValueError(f"unknown section {name!r}; the file holds only {tables} tables")
        if not isinstance(section, dict):
            continue  # _entries says how it must look
        for key in section:
            if key != "accounts":
                raise ValueError(f"unknown section '{name}.{key}'; the file holds only {tables} "
                                 "tables")
        entries = section.get("accounts", [])
        for number, entry in enumerate(entries if isinstance(entries, list) else [], 1):
            for key in entry if isinstance(entry, dict) else ():
                if key not in CONFIG_KEYS[name]:
                    raise ValueError(
                        f"[[{name}.accounts]] number {number}: unknown key {key!r} "
                        f"(known: {', '.join(CONFIG_KEYS[name])})")


def _entries(config: dict[str, Any], provider: str) -> list[dict[str, Any]]:
    section = config.get(provider, {})
    entries = section.get("accounts", []) if isinstance(section, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"[[{provider}.accounts]] must be a list of tables")
    return entries


def _text(entry: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        # Name the key, never the value: it may be a secret.
        raise ValueError(f"account entry: {key!r} must be a non-empty string")
    return value
