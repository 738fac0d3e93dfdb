"""What real clients of the two providers send, answered as the real servers answer it: the
real `numspec serve` on loopback, raw HTTP (the wire is the point), a real SQLite file.

Each test here was a failure a real client library met (issue 11, "Fidelity found by real
clients"); the libraries themselves run in tests/test_real_sdks.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from numspec.emulator import accounts
from numspec.emulator.inventory import national_format

from tests.emulator_process import EmulatorProcess

FC_LOGIN = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
RC_LOGIN = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
RC_ACCOUNTS = f"/restcomm/2012-04-24/Accounts/{RC_LOGIN[0]}"
FC_ACCOUNT = f"/apiserver/Accounts/{FC_LOGIN[0]}"
UNAVAILABLE = "21452"


class Server:
    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self._lock = threading.Lock()
        self._given: set[str] = set()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.process.base_url, timeout=30)

    def pool_numbers(self, count: int) -> list[str]:
        """Numbers the pool still holds that no other test here was given."""
        found: list[str] = []
        with self._lock, self.client() as http:
            answer = http.get("/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN)
            assert answer.status_code == 200, answer.text
            for line in answer.json()["availablePhoneNumbers"]:
                if line["phoneNumber"] not in self._given:
                    self._given.add(line["phoneNumber"])
                    found.append(line["phoneNumber"])
                    if len(found) == count:
                        return found
        raise AssertionError(f"the pool's first page has fewer than {count} unused numbers")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("fidelity")
    process = EmulatorProcess(folder / "numspec.db", folder / "server.log")
    process.start()
    try:
        yield Server(process)
    finally:
        process.stop()


def _create(http: httpx.Client, path: str, body: dict[str, str] | str) -> httpx.Response:
    if isinstance(body, str):  # sent exactly as written, as curl -d does
        return http.post(path, content=body, auth=RC_LOGIN,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    return http.post(path, data=body, auth=RC_LOGIN)


# -- 1. Restcomm strips .json from every path segment ------------------------------------------

def test_restcomm_json_in_any_segment_answers_json(server: Server) -> None:
    [number] = server.pool_numbers(1)
    with server.client() as http:
        made = _create(http, f"{RC_ACCOUNTS}.json/IncomingPhoneNumbers", {"PhoneNumber": number})
        assert made.status_code == 200, made.text
        assert made.headers["content-type"].startswith("application/json")
        sid = made.json()["sid"]
        for path in (f"{RC_ACCOUNTS}/IncomingPhoneNumbers.json/{sid}",
                     f"{RC_ACCOUNTS}.json/IncomingPhoneNumbers/{sid}",
                     f"{RC_ACCOUNTS}/IncomingPhoneNumbers.json/{sid}.json"):
            got = http.get(path, auth=RC_LOGIN, headers={"Accept": "application/xml"})
            # The filter replaces Accept: JSON even though XML was asked for.
            assert got.status_code == 200, (path, got.status_code, got.text)
            assert got.json()["phone_number"] == number
            assert got.json()["uri"].endswith(f"/IncomingPhoneNumbers/{sid}.json")
        listed = http.get(f"{RC_ACCOUNTS}.json/IncomingPhoneNumbers", auth=RC_LOGIN)
        assert listed.status_code == 200 and sid in [n["sid"] for n in
                                                     listed.json()["incomingPhoneNumbers"]]
        local = http.get(f"{RC_ACCOUNTS}/IncomingPhoneNumbers.json/Local", auth=RC_LOGIN)
        assert local.status_code == 200, local.text
        assert local.json()["uri"] == f"{RC_ACCOUNTS[9:]}/IncomingPhoneNumbers/Local"
        # Restcomm's own Python SDK deletes through this form.
        gone = http.delete(f"{RC_ACCOUNTS}/IncomingPhoneNumbers.json/{sid}", auth=RC_LOGIN)
        assert (gone.status_code, gone.content) == (204, b"")
        assert http.get(f"{RC_ACCOUNTS}/IncomingPhoneNumbers/{sid}.json",
                        auth=RC_LOGIN).status_code == 404


# -- 2. Restcomm create takes what the real server takes --------------------------------------

def test_restcomm_create_reads_numbers_as_the_real_server(server: Server) -> None:
    national, unencoded, spaced = server.pool_numbers(3)
    with server.client() as http:
        path = f"{RC_ACCOUNTS}/IncomingPhoneNumbers.json"
        made = _create(http, path, {"PhoneNumber": national_format(national)})
        assert made.status_code == 200, made.text
        assert made.json()["phone_number"] == national  # normalised to E.164
        assert made.json()["friendly_name"] == national_format(national)  # the raw value
        # The seed document's curl example: -d "PhoneNumber=+1..." arrives as " 1...".
        made = _create(http, path, f"PhoneNumber={unencoded}")
        assert made.status_code == 200, made.text
        assert made.json()["phone_number"] == unencoded
        made = _create(http, path, {"PhoneNumber": f"+1 {spaced[2:5]} {spaced[5:8]} {spaced[8:]}"})
        assert made.status_code == 200 and made.json()["phone_number"] == spaced
        # A SIP name is stored exactly as sent.
        sip = _create(http, path, {"PhoneNumber": "alice", "isSIP": "true"})
        assert sip.status_code == 200, sip.text
        assert sip.json()["phone_number"] == sip.json()["friendly_name"] == "alice"
        again = _create(http, path, {"PhoneNumber": "alice", "isSIP": "true"})
        assert (again.status_code, again.text) == (400, UNAVAILABLE)
        # What no provider holds is the real server's 21452, not a validation message.
        for value in ("alice", "(201) 555-0100", "+15105555555"):
            refused = _create(http, path, {"PhoneNumber": value})
            assert (refused.status_code, refused.text) == (400, UNAVAILABLE), value


# -- 3. A Restcomm page past the last is an empty 400 -----------------------------------------

def test_restcomm_page_past_the_last_has_no_body(server: Server) -> None:
    with server.client() as http:
        for suffix in ("", ".json"):
            past = http.get(f"{RC_ACCOUNTS}/IncomingPhoneNumbers{suffix}",
                            params={"Page": 50, "PageSize": 1000}, auth=RC_LOGIN)
            assert (past.status_code, past.content) == (400, b"")
            # Empty, in the text/plain the contract declares for every Restcomm 400.
            assert past.headers["content-type"].startswith("text/plain")


# -- 4. Every answer under a provider's prefix is in its shape; / is a page -------------------

def _freeclimb_error(answer: httpx.Response, status: int, code: int) -> None:
    assert answer.status_code == status, (answer.request.url, answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["code"] == code


def test_paths_no_operation_has_answer_in_the_providers_shape(server: Server) -> None:
    with server.client() as http:
        for path in ("/apiservernull", "/apiserver/nothing", "/apiserver/AvailablePhoneNumbers/",
                     f"{FC_ACCOUNT}/IncomingPhoneNumbers/", "/apiserver/"):
            _freeclimb_error(http.get(path, auth=FC_LOGIN), 404, 1)
        for path in (f"{RC_ACCOUNTS}/IncomingPhoneNumbers/", f"{RC_ACCOUNTS}/Calls",
                     "/restcomm/nothing", "/restcommnull"):
            answer = http.get(path, auth=RC_LOGIN)
            assert (answer.status_code, answer.content) == (404, b""), path
            assert "location" not in answer.headers
        other = http.get("/elsewhere")
        assert other.status_code == 404 and "/apiserver" in other.text
        assert "detail" not in other.text


@pytest.mark.parametrize("method", ["FOO", "PROPFIND"])
def test_unknown_methods_get_the_providers_405_with_the_real_allow(
        server: Server, method: str) -> None:
    with server.client() as http:
        answer = http.request(method, "/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN)
        _freeclimb_error(answer, 405, 2)
        assert answer.headers["allow"] == "GET, HEAD"
        answer = http.request(method, f"{FC_ACCOUNT}/IncomingPhoneNumbers", auth=FC_LOGIN)
        _freeclimb_error(answer, 405, 2)
        assert answer.headers["allow"] == "GET, HEAD, POST"
        answer = http.request(method, f"{FC_ACCOUNT}/IncomingPhoneNumbers/PN{'0' * 40}",
                              auth=FC_LOGIN)
        _freeclimb_error(answer, 405, 2)
        assert answer.headers["allow"] == "DELETE, GET, HEAD, POST"
        for path, allow in ((f"{RC_ACCOUNTS}/IncomingPhoneNumbers", "GET, HEAD, POST"),
                            (f"{RC_ACCOUNTS}/IncomingPhoneNumbers/PN{'0' * 32}.json",
                             "DELETE, GET, HEAD, POST, PUT"),
                            (f"{RC_ACCOUNTS}.json/IncomingPhoneNumbers/Local",
                             "GET, HEAD, POST")):
            answer = http.request(method, path, auth=RC_LOGIN)
            assert (answer.status_code, answer.content) == (405, b""), path
            assert answer.headers["allow"] == allow
        # A path no operation has stays a 404, whatever the method.
        _freeclimb_error(http.request(method, "/apiserver/nothing", auth=FC_LOGIN), 404, 1)


def test_the_root_is_a_page_pointing_at_the_docs_and_both_providers(server: Server) -> None:
    with server.client() as http:
        root = http.get("/")
        assert root.status_code == 200
        assert root.headers["content-type"].startswith("text/html")
        base = server.process.base_url
        for where in (f"{base}/apiserver", f"{base}/restcomm/2012-04-24"):
            assert where in root.text
        links = re.findall(r'href="([^"]+)"', root.text)
        assert links == ["docs/", "apiserver", "restcomm/2012-04-24"]
        assert http.get(links[0]).status_code == 200  # the docs link leads to the docs
        for link in links[1:]:  # the base URLs answer in their provider's shape
            assert http.get(link).status_code == 404
        # The page names the address the server listens on, whatever Host a client sends.
        forged = http.get("/", headers={"Host": "evil.example"})
        assert "evil.example" not in forged.text and base in forged.text
        assert http.head("/").status_code == 200
        refused = http.post("/")
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


# -- 6. FreeClimb's AvailableNumber as FreeClimb's own contract has it ------------------------

def test_available_numbers_carry_campaign_id_and_no_alias(server: Server) -> None:
    with server.client() as http:
        answer = http.get("/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN)
    assert answer.status_code == 200
    for line in answer.json()["availablePhoneNumbers"]:
        # The official contract's fields (reference freeclimb.md §2.3), nothing invented.
        assert set(line) == {"phoneNumber", "campaignId", "region", "country", "voiceEnabled",
                             "smsEnabled", "capabilities"}
        assert line["campaignId"] is None
