"""`numspec serve` options as a user meets them: --port 0, the access log and --quiet, --config
errors and help, --tls. Each test runs the real command on loopback with a real SQLite file."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import freeclimb
import httpx
import pytest
from freeclimb.api.default_api import DefaultApi
from numspec.emulator import accounts

from tests.emulator_process import ROOT, _environment, numspec_command

FC_LOGIN = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
BASE_LINE = re.compile(r"FreeClimb  (https?)://127\.0\.0\.1:(\d+)/apiserver")
CA_LINE = re.compile(r"TLS CA     (\S+)")
LOG_LINE = re.compile(r"^(\S+) (\S+) (\d{3}|-) (\d+\.\d)ms$", re.MULTILINE)


class Running:
    def __init__(self, proc: subprocess.Popen[bytes], out: Path) -> None:
        self.proc, self.out = proc, out
        self.scheme, self.port, self.ca = "http", 0, ""

    @property
    def text(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


@contextmanager
def serve(tmp_path: Path, *extra: str) -> Iterator[Running]:
    """`numspec serve --port 0` and what it printed; stopped (and reaped) on the way out."""
    out = tmp_path / "stdout.txt"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [*numspec_command(), "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", str(tmp_path / "numspec.db"), *extra],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=_environment())
    running = Running(proc, out)
    try:
        deadline = time.monotonic() + 30
        while not (found := BASE_LINE.search(running.text)):
            assert proc.poll() is None, f"serve ended early:\n{running.text}"
            assert time.monotonic() < deadline, f"serve printed no address:\n{running.text}"
            time.sleep(0.05)
        running.scheme, running.port = found.group(1), int(found.group(2))
        if ca := CA_LINE.search(running.text):
            running.ca = ca.group(1)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _get(running: Running, path: str, **kwargs: object) -> httpx.Response:
    deadline = time.monotonic() + 15
    while True:  # the address is printed just before uvicorn starts accepting
        try:
            return httpx.get(running.base_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_port_0_prints_the_port_it_bound(tmp_path: Path) -> None:
    with serve(tmp_path) as running:
        assert running.port != 0
        assert _get(running, "/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN).status_code == 200
        assert f"127.0.0.1:{running.port}/docs" in running.text


def test_access_log_names_method_path_status_and_time_but_no_secrets(tmp_path: Path) -> None:
    with serve(tmp_path) as running:
        _get(running, "/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN,
             params={"phoneNumber": "sekrit-filter"})
        _get(running, "/apiserver/AvailablePhoneNumbers", auth=(FC_LOGIN[0], "wrong-key-xyz"))
        _get(running, "/apiserver/Accounts/%0aforged 200 1.0ms", auth=FC_LOGIN)
        # Refused before routing (both framings): logged all the same.
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw:
            raw.sendall(b"POST /apiserver/smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
        deadline = time.monotonic() + 10
        while len(LOG_LINE.findall(running.text)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = LOG_LINE.findall(running.text)
        first = LOG_LINE.search(running.text)
        assert first is not None, running.text
        text = running.text[first.start():]  # the log, after the banner (with the demo logins)
    assert ("GET", "/apiserver/AvailablePhoneNumbers", "200") in [line[:3] for line in lines]
    assert ("GET", "/apiserver/AvailablePhoneNumbers", "401") in [line[:3] for line in lines]
    assert ("POST", "/apiserver/smuggle", "400") in [line[:3] for line in lines]
    for secret in (FC_LOGIN[1], "wrong-key-xyz", "sekrit-filter", "Authorization", "Basic "):
        assert secret not in text
    # A path cannot start a line of its own in the log.
    assert not re.search(r"^forged", text, re.MULTILINE)


def test_quiet_turns_the_access_log_off(tmp_path: Path) -> None:
    with serve(tmp_path, "--quiet") as running:
        for _ in range(3):
            assert _get(running, "/apiserver/AvailablePhoneNumbers",
                        auth=FC_LOGIN).status_code == 200
        time.sleep(0.3)
        assert not LOG_LINE.search(running.text)


def test_tls_serves_https_a_client_can_trust_through_the_printed_ca(tmp_path: Path) -> None:
    with serve(tmp_path, "--tls") as running:
        assert running.scheme == "https" and running.ca, running.text
        trusted = ssl.create_default_context(cafile=running.ca)
        answer = _get(running, "/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN, verify=trusted)
        assert answer.status_code == 200 and answer.json()["availablePhoneNumbers"]
        rc = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
        listed = _get(running, f"/restcomm/2012-04-24/Accounts/{rc[0]}/IncomingPhoneNumbers.json",
                      auth=rc, verify=trusted)
        assert listed.status_code == 200
        # FreeClimb's own SDK, told to trust the CA file.
        config = freeclimb.Configuration(host=f"{running.base_url}/apiserver", username=FC_LOGIN[0],
                                         password=FC_LOGIN[1], ssl_ca_cert=running.ca)
        assert DefaultApi(freeclimb.ApiClient(config)).list_available_numbers().total
        # A client that does not trust the CA refuses the certificate.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(running.base_url + "/apiserver/AvailablePhoneNumbers", timeout=10)
        ca_folder = Path(running.ca).parent
        assert ca_folder.stat().st_mode & 0o077 == 0
        assert [f.name for f in ca_folder.iterdir()] == ["ca.pem"]  # no key is written out
    assert not ca_folder.exists()  # nothing left behind


def _refused_config(tmp_path: Path, text: str) -> str:
    config = tmp_path / "accounts.toml"
    config.write_text(text, encoding="utf-8")
    run = subprocess.run(
        [*numspec_command(), "serve", "--port", "0", "--db", str(tmp_path / "numspec.db"),
         "--config", str(config)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=60, env=_environment())
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {config}: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


@pytest.mark.parametrize(("text", "named"), [
    ('[[account]]\naccount_id = "AC' + "1" * 40 + '"\napi_key = "k"\n', "'account'"),
    ('[[freeclimb.account]]\naccount_id = "AC' + "1" * 40 + '"\n', "'freeclimb.account'"),
    ('[[freeclimb.accounts]]\naccount_id = "AC' + "1" * 40 + '"\napi_key = "k"\napikey = "k"\n',
     "'apikey'"),
    ('[[restcomm.accounts]]\nsid = "AC' + "1" * 32 + '"\nauth_token = "t"\norganisation_sid = "x"\n',
     "'organisation_sid'"),
])
def test_config_with_an_unknown_section_or_key_is_refused_naming_it(
        tmp_path: Path, text: str, named: str) -> None:
    assert named in _refused_config(tmp_path, text)


def test_config_refusal_adds_nothing(tmp_path: Path) -> None:
    good = '[[freeclimb.accounts]]\naccount_id = "AC' + "1" * 40 + '"\napi_key = "k"\n'
    _refused_config(tmp_path, good + "[[account]]\n")
    with serve(tmp_path) as running:
        assert _get(running, "/apiserver/AvailablePhoneNumbers",
                    auth=("AC" + "1" * 40, "k")).status_code == 401


def test_help_documents_the_config_format() -> None:
    run = subprocess.run([*numspec_command(), "serve", "--help"], check=False, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, env=_environment())
    assert run.returncode == 0
    for text in ("[[freeclimb.accounts]]", "[[restcomm.accounts]]", "api_key", "auth_token",
                 "parent_sid", "--quiet", "--tls"):
        assert text in run.stdout


def test_allow_webhook_host_widens_where_deliveries_may_go(tmp_path: Path) -> None:
    """A real serve: an allowed network is tried (and fails to connect: TEST-NET-1 has no
    host), an address outside it is refused without a connection, and an allowed name is
    not looked up by the check."""
    rc = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
    with serve(tmp_path, "--quiet", "--allow-webhook-host", "192.0.2.0/24",
               "--allow-webhook-host", "receiver.numspec.invalid") as running:
        pool = _get(running, "/apiserver/AvailablePhoneNumbers", auth=FC_LOGIN).json()
        number = pool["availablePhoneNumbers"][0]["phoneNumber"]
        bought = httpx.post(
            f"{running.base_url}/restcomm/2012-04-24/Accounts/{rc[0]}/IncomingPhoneNumbers.json",
            auth=rc, timeout=10, data={
                "PhoneNumber": number, "VoiceUrl": "http://192.0.2.10:9/voice",
                "VoiceFallbackUrl": "http://198.51.100.7/voice",
                "StatusCallback": "http://receiver.numspec.invalid:9/status"})
        assert bought.status_code == 200, bought.text
        called = httpx.post(f"{running.base_url}/_numspec/calls", timeout=30,
                            json={"from": "+13125550123", "to": number})
    assert called.status_code == 200, called.text
    problems = {e["step"]: e["problem"] or "" for e in called.json()["events"] if "problem" in e}
    assert problems["voice"] and "not allowed" not in problems["voice"]
    assert "198.51.100.7 is 198.51.100.7, not loopback and not allowed" in problems["voice-fallback"]
    assert problems["status:ringing"] and "not allowed" not in problems["status:ringing"]
