"""`numspec serve` under hostile clients: no stall, no unbounded growth, no log floods.

Each test runs the real server process on loopback with a real SQLite file and speaks real
HTTP to it (raw sockets where the wire itself is the point). Timing bounds here are generous
on purpose: they only tell "answered" from "stalled for minutes"; speed lives in bench/.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from numspec.emulator import accounts, store

from tests.emulator_process import EmulatorProcess

FC_DEMO = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
RC_DEMO = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
AVAILABLE = "/apiserver/AvailablePhoneNumbers"
# The pattern from the report: 252 characters, valid for re2, 60-130 ms a row with captures.
HOSTILE = ("((.)?){1000}" * 30)[:252]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    folder = tmp_path_factory.mktemp("hardening")
    proc = EmulatorProcess(folder / "numspec.db", folder / "server.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
    log = proc.log_text()
    assert "Traceback" not in log and "LocalProtocolError" not in log, log


def _raw(server: EmulatorProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


# -- 1. filters cannot stall the server ----------------------------------------------------


def test_worst_case_pattern_answers_while_other_requests_are_served(
        server: EmulatorProcess) -> None:
    answers: dict[int, tuple[int, float]] = {}

    def hostile(i: int) -> None:
        start = time.monotonic()
        # Distinct tails defeat every cache: each request compiles its own pattern.
        pattern = HOSTILE[:-3] + f"{i:03d}"
        with httpx.Client(base_url=server.base_url, auth=FC_DEMO, timeout=60) as client:
            status = client.get(AVAILABLE, params={"phoneNumber": pattern}).status_code
        answers[i] = (status, time.monotonic() - start)

    threads = [threading.Thread(target=hostile, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    # Served while the hostile ones are outstanding (on today's code they take minutes).
    with httpx.Client(base_url=server.base_url, auth=FC_DEMO, timeout=5) as client:
        for _ in range(5):
            plain = client.get(AVAILABLE, params={"region": "IL"})
            assert plain.status_code == 200 and plain.json()["total"] > 0
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [0, 1, 2, 3]
    for status, seconds in answers.values():
        assert status == 400 and seconds < 5, answers  # refused as too complex, at once


def test_costly_but_allowed_pattern_still_filters(server: EmulatorProcess) -> None:
    with httpx.Client(base_url=server.base_url, auth=FC_DEMO, timeout=10) as client:
        every = client.get(AVAILABLE).json()["total"]
        # 1984 instructions, just under the cap; `.?` matches anything, so every row.
        wide = client.get(AVAILABLE, params={"phoneNumber": "(.?){220}"})
        assert wide.status_code == 200 and wide.json()["total"] == every
        narrow = client.get(AVAILABLE, params={"phoneNumber": r"^\+1312(.?){200}$"})
        assert narrow.status_code == 200
        assert all(n["phoneNumber"].startswith("+1312")
                   for n in narrow.json()["availablePhoneNumbers"])
        refused = client.get(AVAILABLE, params={"phoneNumber": "(.?){250}"})
        assert refused.status_code == 400
        assert "too complex" in refused.json()["message"]


# -- 5. request framing: huge bodies and smuggling ---------------------------------------


def test_huge_content_length_gets_413_and_the_connection_closes(
        server: EmulatorProcess) -> None:
    path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    with _raw(server) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Authorization: Basic {_basic(FC_DEMO)}\r\n"
                     "Content-Length: 10000000000\r\n\r\n".encode())
        head = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"connection: close" in head.lower()
        # The server must stop reading: sending more soon fails instead of being drained.
        sent, chunk = 0, b"0" * (1 << 20)
        with pytest.raises(OSError):
            while sent < (256 << 20):
                sock.sendall(chunk)
                sent += len(chunk)
        assert sent < (64 << 20), f"the server drained {sent >> 20} MB after its 413"


def test_content_length_with_transfer_encoding_is_refused_and_nothing_smuggled(
        server: EmulatorProcess) -> None:
    smuggled = f"GET {AVAILABLE} HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (f"POST /apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers HTTP/1.1\r\n"
               "Host: x\r\nContent-Type: application/json\r\n"
               f"Authorization: Basic {_basic(FC_DEMO)}\r\n"
               "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\n{}\r\n0\r\n\r\n" + smuggled)
    with _raw(server) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"connection: close" in answer.lower()
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # the smuggled GET never ran


def test_data_after_a_401_is_not_parsed_or_logged(server: EmulatorProcess) -> None:
    path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    with _raw(server) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n".encode())
        head = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 401"), head
        assert b"connection: close" in head.lower()
        try:  # not valid chunked framing: h11 would fail on it if it were still reading
            sock.sendall(b"garbage that is not a chunk\r\n\r\n" * 100)
            sock.recv(65536)
        except OSError:
            pass
    time.sleep(0.5)
    log = server.log_text()
    assert "LocalProtocolError" not in log and "Traceback" not in log, log


# -- 6. a client leaving mid-body logs nothing -----------------------------------------


def test_client_disconnect_mid_body_logs_no_traceback(server: EmulatorProcess) -> None:
    path = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
    for _ in range(3):
        with _raw(server) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Basic {_basic(FC_DEMO)}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                         '{"phoneNumber": "'.encode())
            time.sleep(0.2)  # the server is now waiting for the rest of the body
    time.sleep(0.5)
    with httpx.Client(base_url=server.base_url, auth=FC_DEMO, timeout=5) as client:
        assert client.get(AVAILABLE).status_code == 200
    log = server.log_text()
    assert "Traceback" not in log and "ClientDisconnect" not in log, log


def _basic(login: tuple[str, str]) -> str:
    import base64

    return base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()


# -- 3. slow connections at the file-descriptor limit -------------------------------------


def test_slow_connections_at_the_fd_limit_get_503_not_a_log_flood(tmp_path: Path) -> None:
    err = tmp_path / "stderr.log"
    # The default options: they must hold at a low open-file limit by themselves.
    proc = EmulatorProcess(tmp_path / "numspec.db", tmp_path / "server.log", nofile=256,
                           stderr=err)
    proc.start()
    slow: list[socket.socket] = []
    try:
        # More idle connections than the server has file descriptors (bounded: 320).
        for _ in range(320):
            try:
                sock = socket.create_connection(("127.0.0.1", proc.port), timeout=5)
            except OSError:
                break
            sock.sendall(b"GET /apiserver/AvailablePhoneNumbers HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        time.sleep(1)
        # While they are held open, a real request gets an answer (200, or 503 when full).
        with httpx.Client(base_url=proc.base_url, auth=FC_DEMO, timeout=5) as client:
            try:
                status = client.get(AVAILABLE).status_code
            except httpx.TransportError:  # closed at once past the cap, before our request
                status = 503
            assert status in (200, 503)
            # The head deadline (10 s) frees the slots: soon after, requests succeed again.
            deadline = time.monotonic() + 25
            while True:
                try:
                    if client.get(AVAILABLE).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server never recovered"
                time.sleep(0.25)
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        for sock in slow:
            sock.close()
        proc.stop()
    errors = err.read_text(encoding="utf-8", errors="replace")
    assert len(errors) < 4000, f"{len(errors)} bytes of stderr:\n{errors[:2000]}"
    assert "out of system resource" not in errors


def test_serve_help_documents_the_limits() -> None:
    import subprocess

    from tests.emulator_process import numspec_command

    out = subprocess.run([*numspec_command(), "serve", "--help"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    for option in ("--max-connections", "--header-timeout", "--keep-alive-timeout",
                   "--max-numbers-per-account"):
        assert option in out
    assert f"(default {store.MAX_NUMBERS_PER_ACCOUNT})" in " ".join(out.split())


# -- 2. the cursor table stays bounded ----------------------------------------------------


def test_cursor_rows_stay_bounded_after_many_distinct_filter_lists(
        server: EmulatorProcess) -> None:
    """Every list below has its own filter and more than one page, so each issues a cursor;
    the table keeps at most CURSORS_PER_ACCOUNT of them, the newest ones, and they work."""
    lists = store.CURSORS_PER_ACCOUNT + 60
    links = []
    with httpx.Client(base_url=server.base_url, auth=FC_DEMO, timeout=10) as client:
        for i in range(lists):
            page = client.get(AVAILABLE, params={"phoneNumber": rf"^\+1|z{{{i + 1}}}"}).json()
            assert page["total"] > 100 and page["nextPageUri"]
            links.append(page["nextPageUri"])
        with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as db:
            (rows,) = db.execute("SELECT COUNT(*) FROM cursors WHERE account_sid = ?",
                                 (FC_DEMO[0],)).fetchone()
        assert rows <= store.CURSORS_PER_ACCOUNT, f"{rows} cursor rows after {lists} lists"
        newest = client.get("/apiserver" + links[-1])
        assert newest.status_code == 200 and newest.json()["page"] == 1
        oldest = client.get("/apiserver" + links[0])
        assert oldest.status_code == 400 and "cursor" in oldest.json()["message"]


def test_cursors_expire_within_the_hour_and_the_table_has_a_ceiling(tmp_path: Path) -> None:
    now = [1_700_000_000_000]
    db = store.Store(tmp_path / "numspec.db", inventory_size=10, clock=lambda: now[0],
                     cursors_per_account=5, max_cursors=12)
    try:
        first = db.save_cursor("listing", "AC1", {"p": 0})
        for i in range(20):
            db.save_cursor("listing", f"AC{i % 4}", {"p": i + 1})
        assert db.cursor_count() == 12  # four accounts of 5 would be 20: the ceiling holds
        assert db.load_cursor("listing", "AC1", first) is None  # evicted, oldest first
        kept = db.save_cursor("listing", "AC1", {"p": 99})
        assert db.load_cursor("listing", "AC1", kept) == {"p": 99}
        now[0] += store.CURSOR_TTL_MS + 1
        assert store.CURSOR_TTL_MS <= 3600 * 1000
        assert db.load_cursor("listing", "AC1", kept) is None  # expired
        db.save_cursor("listing", "AC1", {"p": 100})
        assert db.cursor_count() == 1  # issuing one clears the expired rows
    finally:
        db.close()


# -- 7. login timing: an unknown user takes the wrong password's path ---------------------


def _login_path(db: store.Store, provider: accounts.Provider, user: str,
                password: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The SQL statements and the (length, length) of each constant-time comparison one
    login makes."""
    statements: list[str] = []
    compared: list[tuple[int, int]] = []
    real = accounts.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    # The trace shows bound values; name the user's in place so two users compare equal.
    db.connection().set_trace_callback(lambda sql: statements.append(sql.replace(user, "?")))
    accounts.hmac.compare_digest = spy  # type: ignore[assignment]
    try:
        assert accounts.authenticate(db, provider, user, password) is None
    finally:
        accounts.hmac.compare_digest = real
        db.connection().set_trace_callback(None)
    return statements, compared


@pytest.mark.parametrize("provider", ["freeclimb", "restcomm"])
def test_unknown_user_and_wrong_password_take_one_path(tmp_path: Path,
                                                       provider: accounts.Provider) -> None:
    db = store.Store(tmp_path / "numspec.db", inventory_size=10)
    accounts.ensure_demo_accounts(db)
    known = (accounts.FREECLIMB_DEMO if provider == "freeclimb" else accounts.RESTCOMM_DEMO)
    unknown_user = "AC" + "9" * (40 if provider == "freeclimb" else 32)
    try:
        wrong = _login_path(db, provider, known.username, "x" * 40)
        unknown = _login_path(db, provider, unknown_user, "x" * 40)
        assert wrong == unknown and wrong[1], (wrong, unknown)
        if provider == "restcomm":  # by e-mail too
            assert _login_path(db, provider, known.email or "", "x" * 40) == wrong
            assert _login_path(db, provider, "nobody@numspec.example", "x" * 40) == wrong
    finally:
        db.close()


# -- 8. the /docs redirect never trusts Host ------------------------------------------------


def test_docs_redirect_is_relative(server: EmulatorProcess) -> None:
    with _raw(server) as sock:
        sock.sendall(b"GET /docs HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        head = _read_head(sock).decode("latin-1")
    assert head.startswith("HTTP/1.1 30"), head
    location = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                    if line.lower().startswith("location:"))
    assert location == "/docs/" and "evil" not in head


# -- 4. how many numbers one account may hold ---------------------------------------------


def test_numbers_per_account_are_capped_with_the_providers_answers(tmp_path: Path) -> None:
    proc = EmulatorProcess(tmp_path / "numspec.db", tmp_path / "server.log",
                           extra_args=["--max-numbers-per-account", "3"])
    proc.start()
    try:
        with httpx.Client(base_url=proc.base_url, auth=FC_DEMO, timeout=10) as fc:
            pool = [n["phoneNumber"] for n in fc.get(AVAILABLE).json()["availablePhoneNumbers"]]
            mine = f"/apiserver/Accounts/{FC_DEMO[0]}/IncomingPhoneNumbers"
            bought = [fc.post(mine, json={"phoneNumber": n}) for n in pool[:3]]
            assert [b.status_code for b in bought] == [200, 200, 200]
            full = fc.post(mine, json={"phoneNumber": pool[3]})
            assert full.status_code == 403 and full.json()["code"] == 51
            assert "most numbers" in full.json()["message"]
            assert fc.get(mine).json()["total"] == 3
            fc.delete(f"{mine}/{bought[0].json()['phoneNumberId']}").raise_for_status()
            assert fc.post(mine, json={"phoneNumber": pool[3]}).status_code == 200

        rc_path = (f"/restcomm/2012-04-24/Accounts/{RC_DEMO[0]}/IncomingPhoneNumbers.json")
        with httpx.Client(base_url=proc.base_url, auth=RC_DEMO, timeout=10) as rc:
            made = [rc.post(rc_path, data={"PhoneNumber": f"sip-{i}", "isSIP": "true"})
                    for i in range(3)]
            assert [m.status_code for m in made] == [200, 200, 200]
            refused = rc.post(rc_path, data={"PhoneNumber": "sip-3", "isSIP": "true"})
            assert refused.status_code == 403 and refused.content == b""
            # The cap is per account: a sub-account still has room.
            sub = accounts.RESTCOMM_DEMO_SUBS[0].username
            other = rc.post(f"/restcomm/2012-04-24/Accounts/{sub}/IncomingPhoneNumbers.json",
                            data={"PhoneNumber": "sip-sub", "isSIP": "true"})
            assert other.status_code == 200
    finally:
        proc.stop()


# -- 4. a Restcomm page of any size is streamed, not built whole ----------------------------


def test_huge_restcomm_page_is_streamed_with_the_stubs_bytes(tmp_path: Path) -> None:
    from numspec.emulator import streaming
    from numspec.emulator.restcomm_logic import Restcomm

    db = tmp_path / "numspec.db"
    seeded = store.Store(db, inventory_size=10)
    accounts.ensure_demo_accounts(seeded)
    count = streaming.STREAM_ABOVE * 2 + 345
    Restcomm(seeded).seed_numbers(RC_DEMO[0], count)
    seeded.close()
    proc = EmulatorProcess(db, tmp_path / "server.log")
    proc.start()
    path = f"/restcomm/2012-04-24/Accounts/{RC_DEMO[0]}/IncomingPhoneNumbers"
    try:
        with httpx.Client(base_url=proc.base_url, auth=RC_DEMO, timeout=60) as rc:
            whole = rc.get(path + ".json", params={"PageSize": 1_000_000})
            assert whole.status_code == 200
            assert "content-length" not in whole.headers  # written as it is read
            page = whole.json()
            assert (page["page"], page["num_pages"], page["page_size"], page["total"],
                    page["start"], page["end"], page["next_page_uri"]) == (
                0, 0, 1_000_000, count, "0", str(count), "null")
            sids = [n["sid"] for n in page["incomingPhoneNumbers"]]
            small: list[str] = []
            for number in range(5):
                part = rc.get(path + ".json", params={"PageSize": 500, "Page": number}).json()
                small += [n["sid"] for n in part["incomingPhoneNumbers"]]
            assert sids == small and len(set(sids)) == count  # same order, nothing lost
            # Byte for byte what the stub sends for a page built whole.
            fields = {k: v for k, v in page.items() if k != "incomingPhoneNumbers"}
            assert whole.content == streaming._page_bytes(
                fields, page["incomingPhoneNumbers"], "application/json")

            xml = rc.get(path, params={"PageSize": 5000}, headers={"Accept": "application/xml"})
            assert xml.status_code == 200 and xml.headers["content-type"].startswith(
                "application/xml")
            import xml.etree.ElementTree as ET

            root = ET.fromstring(xml.content)
            listed = root.find("IncomingPhoneNumbers")
            assert listed is not None and listed.get("pagesize") == "5000"
            assert [n.findtext("Sid") for n in listed] == sids
            # A page past the last is still refused, streamed size or not.
            assert rc.get(path + ".json", params={"PageSize": 5000, "Page": 1}).status_code == 400
    finally:
        proc.stop()
    assert "Traceback" not in proc.log_text()


def test_a_query_over_its_budget_is_stopped_and_the_list_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from numspec.emulator import freeclimb_logic
    from numspec.emulator.errors import ProviderError

    db = store.Store(tmp_path / "numspec.db", inventory_size=300)
    accounts.ensure_demo_accounts(db)
    slow = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
            "SELECT COUNT(*) FROM (SELECT i FROM n LIMIT 100000000)")
    try:
        started = time.monotonic()
        with pytest.raises(store.QueryBudgetExceeded), db.read(budget_s=0.05) as conn:
            conn.execute(slow).fetchone()
        assert time.monotonic() - started < 5  # stopped, not run to the end
        with db.read() as conn:  # the connection is fine afterwards, with no budget left on
            assert conn.execute("SELECT COUNT(*) FROM inventory").fetchone()[0] == 300
        monkeypatch.setattr(freeclimb_logic, "QUERY_BUDGET_S", 0.0)
        me = accounts.get_account(db, FC_DEMO[0])
        assert me is not None
        with pytest.raises(ProviderError) as refused:
            freeclimb_logic.FreeClimb(db).list_available_numbers(me, {"phoneNumber": "1"})
        assert refused.value.status == 400
        assert isinstance(refused.value.body, dict)
        assert "took too long" in refused.value.body["message"]
    finally:
        db.close()
