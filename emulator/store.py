"""SQLite storage shared by both providers: schema, migrations, the number pool and cursors.

One database holds both providers because they share one telephone network: a number that
is not SIP-only belongs to at most one account in the whole emulator, which the
``numbers_line`` UNIQUE index enforces even if two writers race.

Threads: a file database gets one connection per thread (WAL lets readers run alongside the
writer); ``:memory:`` has a single connection, so every use of it is serialised by a lock.
Write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of
failing halfway through.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import re2  # type: ignore[import-untyped]
from numspec.emulator import inventory

DEFAULT_PATH = "numspec.db"
MEMORY = ":memory:"
# A database row, or a dict with the same keys (rows about to be written, test fixtures).
Record = sqlite3.Row | Mapping[str, Any]
BUSY_TIMEOUT_MS = 10_000
# Cursors are kept briefly and few per account: each listing with its own filters stores one,
# so a client varying filters would otherwise grow the table without end (88 570 rows in
# 270 s were seen). A client paging through 10 000 numbers needs seconds, and one cursor.
CURSOR_TTL_MS = 3600 * 1000  # a listing left alone for an hour must be started again
CURSORS_PER_ACCOUNT = 200  # past this, an account's least recently issued cursor goes
MAX_CURSORS = 20_000  # and the whole table never holds more than this
# Numbers one account may hold (per provider): a list page holds at most this many, which
# bounds what one request can make the server build. FreeClimb lists stop at 10 000 anyway.
MAX_NUMBERS_PER_ACCOUNT = 10_000

# Each entry upgrades the schema by one version; never edit one that has shipped, append.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1: accounts, the pool, owned numbers.
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE accounts (
            sid TEXT PRIMARY KEY,
            provider TEXT NOT NULL CHECK (provider IN ('freeclimb', 'restcomm')),
            secret TEXT NOT NULL,
            email TEXT,
            parent_sid TEXT REFERENCES accounts(sid),
            organization_sid TEXT,
            friendly_name TEXT,
            created_at INTEGER NOT NULL
        )""",
        "CREATE UNIQUE INDEX accounts_email ON accounts(provider, email) WHERE email IS NOT NULL",
        """CREATE TABLE inventory (
            phone_number TEXT PRIMARY KEY,
            country TEXT NOT NULL,
            region TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('local', 'tollfree', 'mobile')),
            voice INTEGER NOT NULL,
            sms INTEGER NOT NULL,
            toll_free INTEGER NOT NULL,
            ten_dlc INTEGER NOT NULL,
            short_code INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE numbers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            provider TEXT NOT NULL CHECK (provider IN ('freeclimb', 'restcomm')),
            sid TEXT NOT NULL UNIQUE,
            account_sid TEXT NOT NULL REFERENCES accounts(sid),
            phone_number TEXT NOT NULL,
            is_sip INTEGER NOT NULL DEFAULT 0,
            organization_sid TEXT,
            country TEXT,
            region TEXT,
            kind TEXT,
            voice INTEGER,
            sms INTEGER,
            toll_free INTEGER,
            ten_dlc INTEGER,
            short_code INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            alias TEXT,
            application_id TEXT,
            campaign_id TEXT,
            tfn_campaign_id TEXT,
            offnet INTEGER NOT NULL DEFAULT 0,
            revision INTEGER NOT NULL DEFAULT 1,
            friendly_name TEXT,
            number_type TEXT,
            api_version TEXT,
            uri TEXT,
            voice_url TEXT,
            voice_method TEXT,
            voice_fallback_url TEXT,
            voice_fallback_method TEXT,
            status_callback TEXT,
            status_callback_method TEXT,
            voice_caller_id_lookup INTEGER NOT NULL DEFAULT 0,
            voice_application_sid TEXT,
            sms_url TEXT,
            sms_method TEXT,
            sms_fallback_url TEXT,
            sms_fallback_method TEXT,
            sms_application_sid TEXT,
            ussd_url TEXT,
            ussd_method TEXT,
            ussd_fallback_url TEXT,
            ussd_fallback_method TEXT,
            ussd_application_sid TEXT,
            refer_url TEXT,
            refer_method TEXT,
            refer_application_sid TEXT,
            voice_capable INTEGER,
            sms_capable INTEGER,
            mms_capable INTEGER,
            fax_capable INTEGER
        )""",
        # The network-wide rule: a real line has one owner. SIP numbers are virtual and only
        # unique inside their organisation.
        "CREATE UNIQUE INDEX numbers_line ON numbers(phone_number) WHERE is_sip = 0",
        """CREATE UNIQUE INDEX numbers_sip ON numbers(organization_sid, phone_number)
            WHERE is_sip = 1""",
        "CREATE INDEX numbers_newest ON numbers(account_sid, id)",
    ),
    # v2: account status, campaign assignment time, server-side cursors, phone-number indexes.
    (
        "ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'active'",
        "ALTER TABLE numbers ADD COLUMN campaign_assigned_at INTEGER",
        "CREATE INDEX numbers_by_phone ON numbers(account_sid, phone_number)",
        "CREATE INDEX numbers_phone ON numbers(phone_number)",
        """CREATE TABLE cursors (
            token TEXT PRIMARY KEY,
            listing TEXT NOT NULL,
            account_sid TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX cursors_age ON cursors(created_at)",
    ),
    # v3: listing a big account fast. Triggers keep a count of each account's numbers, so an
    # unfiltered page's total is one lookup (counting 10 000 rows cost 10 ms a page); a
    # covering index serves the filtered counts and FreeClimb's newest-first order.
    (
        "CREATE INDEX numbers_account ON numbers(account_sid, provider, id)",
        "DROP INDEX numbers_newest",
        """CREATE TABLE number_counts (
            account_sid TEXT NOT NULL,
            provider TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (account_sid, provider)
        ) WITHOUT ROWID""",
        """INSERT INTO number_counts
            SELECT account_sid, provider, COUNT(*) FROM numbers GROUP BY account_sid, provider""",
        """CREATE TRIGGER numbers_count_insert AFTER INSERT ON numbers BEGIN
            INSERT OR IGNORE INTO number_counts VALUES (NEW.account_sid, NEW.provider, 0);
            UPDATE number_counts SET n = n + 1
                WHERE account_sid = NEW.account_sid AND provider = NEW.provider;
        END""",
        """CREATE TRIGGER numbers_count_delete AFTER DELETE ON numbers BEGIN
            UPDATE number_counts SET n = n - 1
                WHERE account_sid = OLD.account_sid AND provider = OLD.provider;
        END""",
        """CREATE TRIGGER numbers_count_move AFTER UPDATE OF account_sid, provider ON numbers
        BEGIN
            UPDATE number_counts SET n = n - 1
                WHERE account_sid = OLD.account_sid AND provider = OLD.provider;
            INSERT OR IGNORE INTO number_counts VALUES (NEW.account_sid, NEW.provider, 0);
            UPDATE number_counts SET n = n + 1
                WHERE account_sid = NEW.account_sid AND provider = NEW.provider;
        END""",
    ),
    # v4: cursors are bounded per account (an index to find an account's oldest) and live an
    # hour, so the rows older databases piled up under the 24 h rule go at once.
    (
        "CREATE INDEX cursors_account ON cursors(account_sid, created_at)",
        ("DELETE FROM cursors "
         "WHERE created_at < (CAST(strftime('%s', 'now') AS INTEGER) - 3600) * 1000"),
    ),
    # v5: FreeClimb applications, the target of a number's applicationId. Ids numbers already
    # carry become applications (no URLs yet) of the account of the oldest number naming
    # them, so no link an older file holds is lost.
    (
        """CREATE TABLE applications (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sid TEXT NOT NULL UNIQUE,
            account_sid TEXT NOT NULL REFERENCES accounts(sid),
            alias TEXT,
            voice_url TEXT,
            voice_fallback_url TEXT,
            call_connect_url TEXT,
            status_callback_url TEXT,
            sms_url TEXT,
            sms_fallback_url TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX applications_account ON applications(account_sid, id)",
        """INSERT INTO applications (sid, account_sid, created_at, updated_at)
            SELECT application_id, account_sid, created_at, created_at FROM numbers AS n
            WHERE provider = 'freeclimb' AND application_id IS NOT NULL
              AND id = (SELECT id FROM numbers
                        WHERE provider = 'freeclimb' AND application_id = n.application_id
                        ORDER BY created_at, id LIMIT 1)""",
        # Deleting an application unlinks its numbers; this finds them without a scan.
        """CREATE INDEX numbers_application ON numbers(application_id)
            WHERE application_id IS NOT NULL""",
    ),
    # v6: inbound events. FreeClimb accounts get the secret their webhooks are signed with
    # (random for the ones an older file holds; the demo account's is fixed in accounts.py),
    # and every request the emulator sends as the network is logged (emulator.network).
    (
        "ALTER TABLE accounts ADD COLUMN signing_secret TEXT",
        ("UPDATE accounts SET signing_secret = lower(hex(randomblob(20))) "
         "WHERE provider = 'freeclimb'"),
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            call_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            account_sid TEXT,
            kind TEXT NOT NULL,
            step TEXT NOT NULL,
            method TEXT,
            url TEXT,
            request_headers TEXT,
            request_body TEXT,
            status INTEGER,
            content_type TEXT,
            reply_body TEXT,
            reply_truncated INTEGER NOT NULL DEFAULT 0,
            verdict TEXT,
            verbs TEXT,
            problem TEXT,
            elapsed_ms REAL
        )""",
        "CREATE INDEX events_call ON events(call_id, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer numspec; opening it could damage it."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


# re2 runs in linear time, but "linear" is in the size of its program: `((.)?){1000}` in 252
# characters compiles to 270 000 instructions and cost 60-130 ms a row through the capture
# path. Filters only ask "does it match", so groups never capture (the fast DFA path), and a
# program larger than any sensible phone-number pattern is refused outright.
def _re2_options(max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    options.max_mem = max_mem
    return options


# Room for the DFA's state cache (2 MB ran the costliest accepted filter as fast as 8 MB),
# which grows only as searches need it. Searches run on the line programs (the patterns
# themselves only for the rare ones run value by value), so with at most PATTERN_CACHE
# patterns alive their caches together stay near 128 MB.
_RE2_OPTIONS = _re2_options(2 << 20)
PATTERN_CACHE = 64
_LINES_OPTIONS = _re2_options(2 << 20)
_LINES_OPTIONS.never_nl = True  # see _lines_program
# A first compile in little memory makes re2 give up early on a huge program: compiling
# `[0-9]{1,1000}` x 19 in full took a second; this fails it in a few milliseconds.
_RE2_GUARD = _re2_options(256 << 10)
MAX_PATTERN_PROGRAM = 2000  # `(.?){220}` is 1984; real filters are under 50
# However a filter is built, one request's queries stop after this long (see Store.read).
QUERY_BUDGET_S = 2.0


class PatternTooComplex(ValueError):
    """A valid pattern whose compiled program is over MAX_PATTERN_PROGRAM."""


class QueryBudgetExceeded(RuntimeError):
    """A read ran longer than its budget and SQLite stopped it."""


@functools.lru_cache(maxsize=PATTERN_CACHE)
def compile_pattern(pattern: str) -> Any:
    """Compile with re2 (match-only); raises ``re2.error`` for an invalid (or non-linear)
    pattern and ``PatternTooComplex`` for one too big to run over every row cheaply."""
    try:
        re2.compile(pattern, _RE2_GUARD)
    except re2.error as exc:
        if "too large" not in str(exc):
            raise
        raise PatternTooComplex("it compiles to too large a program") from None
    compiled = re2.compile(pattern, _RE2_OPTIONS)
    size = max(compiled.programsize, compiled.reverseprogramsize)
    if size > MAX_PATTERN_PROGRAM:
        raise PatternTooComplex(
            f"it compiles to {size} instructions, more than the {MAX_PATTERN_PROGRAM} allowed")
    return compiled


_UNANCHORED = re2._Anchor.UNANCHORED
_NO_SPAN = re2._NULL_SPAN


@functools.lru_cache(maxsize=PATTERN_CACHE)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """A "does it match anywhere" test for one value. It calls re2's RE2::Match directly:
    the module's ``search`` builds a match object in Python, six times the cost of the match
    itself."""
    match = compile_pattern(pattern)._regexp.Match

    def test(value: str) -> bool:
        data = value.encode()
        return bool(match(_UNANCHORED, data, 0, len(data))[0] != _NO_SPAN)

    return test


def matches(pattern: str, values: Sequence[str], deadline: float | None = None) -> list[bool]:
    """Which of ``values`` the (already checked) pattern matches anywhere, one flag each.

    Rather than one re2 call per value (a few microseconds each, mostly the call itself:
    5 000 pool rows took 15-60 ms), the values are joined into lines and re2 runs over the
    text once per run of matching lines (see ``_lines_program``). Past ``deadline``
    (``time.monotonic()``) it raises ``QueryBudgetExceeded``, like a query over its budget.
    """
    flags = [False] * len(values)
    lines = _lines_program(pattern)
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        text = "\n".join(chunk) + "\n"
        # ASCII only: alone, an empty match (`\B`) can fall between a character's bytes, a
        # place the line program's `[^\n]*?` never stops at. Phone numbers are ASCII.
        if lines is None or not text.isascii() or text.count("\n") != len(chunk):
            _match_each(pattern, chunk, flags, start, deadline)
        else:
            _match_lines(lines, text.encode(), flags, start, deadline)
    return flags


# Values per joined text: one re2 call never covers more than this, so the deadline is
# checked at least this often whatever the program costs.
_CHUNK = 1024


def _over(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise QueryBudgetExceeded("the filter ran past its budget")


def _match_each(pattern: str, chunk: Sequence[str], flags: list[bool], start: int,
                deadline: float | None) -> None:
    match = _matcher(pattern)
    for i, value in enumerate(chunk):
        if i % 128 == 0:
            _over(deadline)
        flags[start + i] = match(value)


def _match_lines(lines: Any, text: bytes, flags: list[bool], start: int,
                 deadline: float | None) -> None:
    match = lines._regexp.Match
    pos, line = 0, start  # the byte offset of a line start, and that line's index
    while True:
        _over(deadline)
        found, end = match(_UNANCHORED, text, pos, len(text))[0]
        if found < 0:
            return
        line += text.count(b"\n", pos, found)
        run = text.count(b"\n", found, end)  # each line of the run ends with its newline
        flags[line:line + run] = [True] * run
        pos, line = end, line + run


# What makes a pattern behave differently on a line of a joined text than on the value
# alone: the text anchors \A and \z, multi-line mode turned off ((?-m), (?i-m:...)), \C (a
# byte, so a newline too) and \Q (unterminated, it would quote the wrapper's own syntax).
# Such patterns (no phone filter needs them) are run value by value instead.
_NOT_PER_LINE = re2.compile(r"\\[AzCQ]|\(\?[a-zA-Z]*-[a-zA-Z]*m")


@functools.lru_cache(maxsize=PATTERN_CACHE)
def _lines_program(pattern: str) -> Any | None:
    """The pattern as a program over newline-joined values that matches a whole run of
    consecutive lines the pattern matches, or None when the values must go one by one.

    Exact because: with ``never_nl`` no part of the pattern can match a newline, so it never
    reaches past its line; in multi-line mode ``^`` and ``$`` hold at each line's ends as
    they do at a lone value's, and ``\\b`` sees a non-word neighbour there as at a text's
    edge; ``\\C``, the one thing ``never_nl`` leaves able to match a newline, steps over
    it. The group keeps the pattern's own flags (``(?i)``) inside it.
    """
    if _NOT_PER_LINE.search(pattern):
        return None
    try:
        return re2.compile(f"(?m)(?:^[^\\n]*?(?:{pattern})[^\\n]*$\\C)+", _LINES_OPTIONS)
    except re2.error:
        return None  # e.g. over the memory budget once wrapped: the slow way still works


class Store:
    """The emulator's database. Create once per process; safe to share between threads."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_PATH,
        *,
        inventory_size: int = inventory.DEFAULT_SIZE,
        inventory_seed: int = inventory.DEFAULT_SEED,
        clock: Callable[[], int] = wall_clock_ms,
        cursors_per_account: int = CURSORS_PER_ACCOUNT,
        max_cursors: int = MAX_CURSORS,
        max_numbers_per_account: int = MAX_NUMBERS_PER_ACCOUNT,
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self.cursors_per_account, self.max_cursors = cursors_per_account, max_cursors
        self.max_numbers_per_account = max_numbers_per_account
        self._memory = self.path == MEMORY
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._shared: sqlite3.Connection | None = None
        self._guard_lock = threading.RLock()
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = self.connection()
        migrate(conn)
        with self.write() as conn:
            if _meta(conn, "inventory_seed") is None:
                self._seed_inventory(conn, inventory_size, inventory_seed)

    # -- connections and transactions -------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (the shared one for ``:memory:``)."""
        if self._memory:
            if self._shared is None:
                self._shared = self._open(check_same_thread=False)
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open(check_same_thread=True)
            self._local.conn = conn
        return conn

    def _open(self, *, check_same_thread: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=check_same_thread,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Statement journals (a write that fires the count triggers needs one) in memory, not
        # in a temporary file per statement: seeding 100 000 numbers took 5.5 s instead of 3.9.
        conn.execute("PRAGMA temp_store = MEMORY")
        if not self._memory:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a process restart; only power loss can drop the
            # last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _guard(self) -> AbstractContextManager[Any]:
        return self._guard_lock if self._memory else nullcontext()

    @contextmanager
    def read(self, budget_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one consistent snapshot.

        With ``budget_s``, SQLite interrupts the queries once that much time has passed and
        ``QueryBudgetExceeded`` is raised: a client-chosen filter cannot hold a thread long.
        """
        with self._guard():
            conn = self.connection()
            if budget_s is not None:
                deadline = time.monotonic() + budget_s
                # Called every 1000 VM steps; a non-zero answer aborts the statement.
                conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
            conn.execute("BEGIN")
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                if budget_s is not None and "interrupted" in str(exc):
                    raise QueryBudgetExceeded(f"stopped after {budget_s:g} s") from None
                raise
            finally:
                if conn.in_transaction:  # an interrupted statement may have ended it
                    conn.execute("COMMIT")
                if budget_s is not None:
                    conn.set_progress_handler(None, 0)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of one statement, with no explicit transaction: a lone SELECT reads
        one snapshot anyway, and BEGIN/COMMIT around it doubled the cost of a lookup."""
        with self._guard():
            row: sqlite3.Row | None = self.connection().execute(sql, params).fetchone()
        return row

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on success and rolled back on any exception."""
        with self._guard():
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass  # a connection of a thread that is gone; SQLite frees it anyway
        self._shared = None
        self._local = threading.local()

    def now_ms(self) -> int:
        return self.clock()

    @property
    def schema_version(self) -> int:
        with self._guard():
            return user_version(self.connection())

    # -- the pool ---------------------------------------------------------------------

    def _seed_inventory(self, conn: sqlite3.Connection, size: int, seed: int) -> None:
        rows = (line.as_row() for line in inventory.generate_lines(size, seed))
        conn.executemany("INSERT INTO inventory VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        _set_meta(conn, "inventory_seed", str(seed))
        _set_meta(conn, "inventory_size", str(size))

    @staticmethod
    def take_from_pool(conn: sqlite3.Connection, phone_number: str) -> sqlite3.Row | None:
        """Remove a line from the pool and return it, or None if the pool does not have it."""
        row: sqlite3.Row | None = conn.execute(
            "DELETE FROM inventory WHERE phone_number = ? RETURNING *", (phone_number,)
        ).fetchone()
        return row

    @staticmethod
    def return_to_pool(conn: sqlite3.Connection, number: sqlite3.Row) -> None:
        """Put a released number's line back in the pool (SIP numbers never came from it)."""
        if number["is_sip"]:
            return
        conn.execute(
            "INSERT OR IGNORE INTO inventory VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number["phone_number"], number["country"] or "US", number["region"],
                number["kind"] or "local", number["voice"] or 0, number["sms"] or 0,
                number["toll_free"] or 0, number["ten_dlc"] or 0, number["short_code"] or 0,
            ),
        )

    def pool_size(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM inventory").fetchone()[0])

    def taken_numbers(self) -> set[str]:
        """Every number a new line must not reuse: the pool and all owned numbers."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT phone_number FROM inventory UNION SELECT phone_number FROM numbers"
            ).fetchall()
        return {row[0] for row in rows}

    # -- owned numbers in bulk (benchmarks, fixtures) ---------------------------------

    def insert_numbers(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert owned-number rows (column → value) in one transaction; returns the count.

        Every row must have the same keys. One ``executemany`` keeps 100 000 rows to about a
        second.
        """
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        columns = list(first)
        sql = (
            f"INSERT INTO numbers ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        count = 0

        def values() -> Iterator[Sequence[Any]]:
            nonlocal count
            for row in itertools.chain((first,), iterator):
                count += 1
                yield [row[c] for c in columns]

        with self.write() as conn:
            conn.executemany(sql, values())
        return count

    # -- listing cursors --------------------------------------------------------------

    def save_cursor(self, listing: str, account_sid: str, state: dict[str, Any]) -> str:
        """Remember where a listing stopped; returns the alphanumeric token naming it.

        The token is a digest of the state, so paging through the same listing again reuses
        the row (and usually needs no write at all).
        """
        encoded = json.dumps(state, sort_keys=True, separators=(",", ":"))
        token = hashlib.sha256(f"{listing}|{account_sid}|{encoded}".encode()).hexdigest()[:40]
        now = self.now_ms()
        with self.read() as conn:
            row = conn.execute(
                "SELECT created_at FROM cursors WHERE token = ?", (token,)
            ).fetchone()
        if row is not None and row[0] > now - CURSOR_TTL_MS // 2:
            return token
        with self.write() as conn:
            conn.execute("DELETE FROM cursors WHERE created_at < ?", (now - CURSOR_TTL_MS,))
            conn.execute(
                "INSERT INTO cursors VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(token) DO UPDATE SET created_at = excluded.created_at",
                (token, listing, account_sid, encoded, now),
            )
            _evict_beyond(conn, "WHERE account_sid = ?", [account_sid],
                          self.cursors_per_account, token)
            _evict_beyond(conn, "", [], self.max_cursors, token)
        return token

    def cursor_count(self) -> int:
        row = self.query_one("SELECT COUNT(*) FROM cursors")
        return 0 if row is None else int(row[0])

    def load_cursor(self, listing: str, account_sid: str, token: str) -> dict[str, Any] | None:
        """The state behind a token, if this server issued it for this listing and account
        and it has not expired."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT state FROM cursors WHERE token = ? AND listing = ? AND account_sid = ? "
                "AND created_at >= ?",
                (token, listing, account_sid, self.now_ms() - CURSOR_TTL_MS),
            ).fetchone()
        if row is None:
            return None
        state: dict[str, Any] = json.loads(row["state"])
        return state


def _evict_beyond(conn: sqlite3.Connection, where: str, params: list[Any], keep: int,
                  spare: str) -> None:
    """Delete the oldest cursors matching ``where`` until ``keep`` remain (walking the index),
    never ``spare``, the one just issued, even when others share its millisecond."""
    joiner = "AND" if where else "WHERE"
    conn.execute(
        f"DELETE FROM cursors WHERE token IN (SELECT token FROM cursors {where} {joiner} "
        "token != ? ORDER BY created_at DESC LIMIT -1 OFFSET ?)",
        [*params, spare, keep - 1],
    )


def account_is_full(store: Store, conn: sqlite3.Connection, account_sid: str,
                    provider: str) -> bool:
    """True when the account may not take another number (checked inside the write)."""
    return count_numbers(conn, account_sid, provider) >= store.max_numbers_per_account


def count_numbers(conn: sqlite3.Connection, account_sid: str, provider: str) -> int:
    """How many numbers an account owns, from the count the triggers keep."""
    row = conn.execute("SELECT n FROM number_counts WHERE account_sid = ? AND provider = ?",
                       (account_sid, provider)).fetchone()
    return 0 if row is None else int(row[0])


# -- schema versioning ----------------------------------------------------------------


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to ``target``, one version per transaction; returns the version.

    Safe when several processes open one file at once: each step re-reads the version after
    taking the write lock.
    """
    if user_version(conn) > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema v{user_version(conn)} is newer than this numspec "
            f"(v{SCHEMA_VERSION}); upgrade numspec or use another --db file"
        )
    for version in range(1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if user_version(conn) < version:
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return user_version(conn)


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
