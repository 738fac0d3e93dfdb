"""The emulator as the telephone network: ring a number, text it, and log what was sent.

Given FROM and TO, the owner of TO (either provider) is found among the numbers and the
provider's inbound events (the contract's ``webhooks``) are delivered as its real server
sends them:

- Restcomm: the number's VoiceUrl with VoiceMethod (POST form in UTF-8, or GET query; the
  header ``http.protocol.content-charset: UTF-8``), VoiceFallbackUrl when that fails, and
  StatusCallback (StatusCallbackMethod) for ringing, in-progress and completed (with
  CallDuration). A number with no VoiceUrl starts no interpreter: Restcomm answers the caller
  SIP 404 and records notification 11007, no request is sent (CallManager.redirectToHostedVoiceApp).
  Messages go to SmsUrl with SmsMethod, SmsFallbackUrl when that fails.
- FreeClimb: the number's application; ``inboundCall`` JSON to voiceUrl (voiceFallbackUrl when
  it fails), signed with the account's signing secret (FreeClimb-Signature), then one
  ``callStatus`` to statusCallbackUrl with callEndedReason; ``messageDelivery`` to smsUrl
  (smsFallbackUrl). No application: configErrorNoApplication; no voiceUrl:
  configErrorNoVoiceUrl (reported to statusCallbackUrl when the application has one).

"Fails" means: the host is refused, no connection, no whole answer in time, an answer that is
not 2xx or is larger than the cap, or (voice) a reply that is not valid RCML / PerCL. The
script is checked, not run: a call lasts one simulated second per verb and nobody waits.

Deliveries go only to loopback addresses, and to the hosts and networks the user allowed
(``serve --allow-webhook-host``): every address a name resolves to is checked, and the
connection goes to the checked address (an allowed name is trusted as it is). Proxies from
the environment are never used, redirects never followed. Each request is one row of the
``events`` table, the newest MAX_EVENTS kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import re
import secrets
import socket
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from numspec.emulator.accounts import signing_secret
from numspec.emulator.store import Store
from numspec.generated.runtime import sign_webhook
from numspec.generator.replies import ReplyCheck, check_percl, check_rcml

MAX_EVENTS = 2000  # rows the log keeps; the oldest go first
LOGGED_REPLY_CHARS = 4096  # of each reply, in the log
MAX_TEXT = 1600  # characters of one message (ten SMS segments)
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
INSTANCE_ID = "ID" + hashlib.sha256(b"numspec emulator instance").hexdigest()[:32]
RESTCOMM_CHARSET = {"http.protocol.content-charset": "UTF-8"}
USER_AGENT = "numspec-emulator"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkError(ValueError):
    """The event cannot be placed at all (bad number, nobody owns TO): one line saying why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """Where deliveries may go and how long and how much they may take."""

    connect_s: float = 2.0
    reply_s: float = 5.0  # the whole answer, however slowly it arrives
    max_reply_bytes: int = 64 * 1024
    allowed_names: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, hosts: Sequence[str], **options: Any) -> Limits:
        """``hosts`` as `serve --allow-webhook-host` takes them: names, addresses, networks."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for host in hosts:
            text = host.strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if not re.fullmatch(r"[A-Za-z0-9._-]+", text):
                    raise ValueError(f"--allow-webhook-host {host!r} is not a host name, "
                                     "an address or a network (CIDR)") from None
                names.add(text.lower().rstrip("."))
        return cls(allowed_names=frozenset(names), allowed_networks=tuple(networks), **options)


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class Target:
    """Where one delivery may connect: ``problem`` says why it may not, and ``address`` is
    the checked address of a looked-up name, which the connection then uses. Connecting by
    name again would look it up again, and a second answer (DNS rebinding) could point
    anywhere."""

    problem: str | None = None
    address: Address | None = None


async def checked_target(url: str, limits: Limits) -> Target:
    """Whether the emulator may send to ``url``, and to which address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Target("not an absolute http or https URL")
    host = parts.hostname.lower().rstrip(".")
    if host in limits.allowed_names:
        return Target()  # the user trusts the name itself, wherever it points
    try:
        # An address needs no lookup (which would run in a thread of the pool).
        ipaddress.ip_address(host)
        addresses, looked_up = [ipaddress.ip_address(host)], False
    except ValueError:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            found = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as error:
            return Target(f"cannot resolve {host}: {error}")
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
        looked_up = True
    for found_address in addresses:
        address = _plain(found_address)
        if not address.is_loopback and not any(address in n for n in limits.allowed_networks):
            return Target(f"{host} is {address}, not loopback and not allowed "
                          "(serve --allow-webhook-host)")
    return Target(address=addresses[0] if looked_up and addresses else None)


def _pinned(request: httpx.Request, address: Address) -> httpx.Request:
    """``request`` sent to ``address``, still naming its host (Host header, TLS name)."""
    host = request.url.host
    request.headers["Host"] = request.url.netloc.decode("ascii")
    if request.url.scheme == "https":
        request.extensions["sni_hostname"] = host  # also the name the certificate must carry
    request.url = request.url.copy_with(host=str(address))
    return request


@dataclass
class Attempt:
    """One request the network sent and what came back."""

    step: str
    method: str
    url: str
    headers: dict[str, str]
    body: str
    status: int | None = None
    content_type: str | None = None
    reply: bytes = b""
    truncated: bool = False
    problem: str | None = None
    check: ReplyCheck | None = None
    elapsed_ms: float = 0.0

    @property
    def failed(self) -> bool:
        """The provider would give up on this answer (and try the fallback)."""
        return (self.problem is not None or self.status is None
                or not 200 <= self.status < 300 or (self.check is not None and not self.check.ok))


@dataclass
class Outcome:
    """What one call or message came to; ``events`` are the log rows it wrote."""

    id: str
    provider: str
    kind: str
    account_sid: str | None
    result: str  # answered / delivered, failed, not-routed
    reason: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "kind": self.kind,
                "accountSid": self.account_sid, "result": self.result, "reason": self.reason,
                "events": self.events}


class Network:
    """Places calls and messages; one per app (it holds the HTTP client's connections)."""

    def __init__(self, store: Store, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                trust_env=False, follow_redirects=False,  # no proxies, no surprise hops
                timeout=httpx.Timeout(self.limits.reply_s, connect=self.limits.connect_s),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- sending ----------------------------------------------------------------------

    async def send(self, step: str, method: str, url: str, *, form: Mapping[str, str] | None = None,
                   json_body: bytes | None = None, headers: Mapping[str, str] | None = None,
                   reply: str | None = None) -> Attempt:
        """One request; ``reply`` says how the answer is read ("rcml", "percl" or None)."""
        sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
        content = b""
        if form is not None and method == "GET":
            url = url + ("&" if "?" in url else "?") + urlencode(form)
        elif form is not None:
            content = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        elif json_body is not None:
            content = json_body
            sent["Content-Type"] = "application/json"
        attempt = Attempt(step, method, url, sent, content.decode())
        started = time.perf_counter()
        try:
            target = await checked_target(url, self.limits)
            attempt.problem = target.problem
            if attempt.problem is None:
                async with asyncio.timeout(self.limits.connect_s + self.limits.reply_s):
                    await self._exchange(attempt, content, target.address)
        except TimeoutError:
            attempt.problem = "no whole answer in time"
        except httpx.TimeoutException:
            attempt.problem = "no answer in time"
        except httpx.HTTPError as error:
            attempt.problem = f"{type(error).__name__}: {error}".rstrip(": ")
        attempt.elapsed_ms = (time.perf_counter() - started) * 1000
        if attempt.problem is None and attempt.status is not None and 200 <= attempt.status < 300:
            if reply == "rcml":
                attempt.check = check_rcml(attempt.reply)
            elif reply == "percl":
                attempt.check = check_percl(attempt.reply)
        return attempt

    async def _exchange(self, attempt: Attempt, content: bytes, address: Address | None) -> None:
        cap = self.limits.max_reply_bytes
        request = self.client().build_request(attempt.method, attempt.url,
                                              headers=attempt.headers, content=content or None)
        if address is not None:
            request = _pinned(request, address)
        response = await self.client().send(request, stream=True)
        try:
            attempt.status = response.status_code
            attempt.content_type = response.headers.get("content-type")
            received = bytearray()
            async for chunk in response.aiter_raw():
                received += chunk
                if len(received) > cap:
                    attempt.truncated = True
                    attempt.problem = f"reply larger than {cap} bytes (reading stopped)"
                    del received[cap:]
                    break
            attempt.reply = bytes(received)
        finally:
            await response.aclose()

    # -- the log ----------------------------------------------------------------------

    def _log(self, event_id: str, provider: str, account: str | None, kind: str,
             attempt: Attempt | None = None, *, step: str = "", problem: str | None = None,
             verdict: str | None = None) -> dict[str, Any]:
        if attempt is None:
            row: dict[str, Any] = {"step": step, "problem": problem, "verdict": verdict}
        else:
            check = attempt.check
            row = {
                "step": attempt.step, "method": attempt.method, "url": attempt.url,
                "request_headers": json.dumps(attempt.headers), "request_body": attempt.body,
                "status": attempt.status, "content_type": attempt.content_type,
                "reply_body": attempt.reply[:LOGGED_REPLY_CHARS].decode("utf-8", "replace"),
                "reply_truncated": int(attempt.truncated or len(attempt.reply) > LOGGED_REPLY_CHARS),
                "verdict": verdict or ("failed" if attempt.failed else
                                       "valid" if check is not None else "ignored"),
                "verbs": json.dumps(list(check.verbs)) if check is not None else None,
                "problem": attempt.problem or (check.problem if check is not None else None)
                or (f"answered {attempt.status}" if attempt.failed else None),
                "elapsed_ms": round(attempt.elapsed_ms, 2),
            }
        row.update(at=self.store.now_ms(), call_id=event_id, provider=provider,
                   account_sid=account, kind=kind)
        with self.store.write() as conn:
            new_id = conn.execute(
                f"INSERT INTO events ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values())).lastrowid
            conn.execute("DELETE FROM events WHERE id <= ?", ((new_id or 0) - MAX_EVENTS,))
            written = conn.execute("SELECT * FROM events WHERE id = ?", (new_id,)).fetchone()
        return event_json(written)

    # -- finding the owner --------------------------------------------------------------

    def _owner(self, from_: str, to: str) -> sqlite3.Row:
        for name, value in (("FROM", from_), ("TO", to)):
            if not E164.match(value):
                raise NetworkError(f"{name} {value!r} is not an E.164 number (+ and up to 15 "
                                   "digits, e.g. +13125550100)")
        row: sqlite3.Row | None = self.store.query_one(
            "SELECT * FROM numbers WHERE phone_number = ? AND is_sip = 0", (to,))
        if row is None:
            raise NetworkError(f"TO {to}: no account of either provider owns this number", 404)
        return row

    # -- calls ------------------------------------------------------------------------

    async def call(self, from_: str, to: str) -> Outcome:
        number = self._owner(from_, to)
        if number["provider"] == "restcomm":
            return await self._restcomm_call(number, from_, to)
        return await self._freeclimb_call(number, from_, to)

    async def _restcomm_call(self, number: sqlite3.Row, from_: str, to: str) -> Outcome:
        sid = f"{INSTANCE_ID}-CA{secrets.token_hex(16)}"
        account = number["account_sid"]
        outcome = Outcome(sid, "restcomm", "call", account, "not-routed", "")
        if not number["voice_url"]:
            outcome.reason = ("the number has no VoiceUrl: Restcomm answers the caller SIP 404 "
                              "and records notification 11007; nothing is sent")
            outcome.events.append(self._log(sid, "restcomm", account, "call", step="route",
                                            problem=outcome.reason, verdict="not-routed"))
            return outcome
        fields = {
            "CallSid": sid, "InstanceId": INSTANCE_ID, "AccountSid": account,
            "From": from_, "To": to, "CallStatus": "ringing",
            "ApiVersion": number["api_version"] or "2012-04-24", "Direction": "inbound",
            "CallerName": "null", "ForwardedFrom": "null", "CallTimestamp": _iso_ms(self.store),
        }

        async def status(state: str, **extra: str) -> None:
            if number["status_callback"]:
                attempt = await self.send(
                    f"status:{state}", _method(number["status_callback_method"]),
                    number["status_callback"], form={**fields, "CallStatus": state, **extra},
                    headers=RESTCOMM_CHARSET)
                outcome.events.append(self._log(sid, "restcomm", account, "call", attempt))

        await status("ringing")
        answer = await self._with_fallback(
            sid, "restcomm", account, "call", outcome,
            [("voice", number["voice_method"], number["voice_url"]),
             ("voice-fallback", number["voice_fallback_method"], number["voice_fallback_url"])],
            lambda step, method, url: self.send(step, method, url, form=fields,
                                                headers=RESTCOMM_CHARSET, reply="rcml"))
        if answer is None:
            await status("failed")
            return outcome
        await status("in-progress")
        duration = _seconds(answer)
        await status("completed", CallDuration=str(duration))
        outcome.result, outcome.reason = "answered", _answered(answer, duration)
        return outcome

    async def _freeclimb_call(self, number: sqlite3.Row, from_: str, to: str) -> Outcome:
        call_id = "CA" + secrets.token_hex(20)
        account = number["account_sid"]
        outcome = Outcome(call_id, "freeclimb", "call", account, "not-routed", "")
        app = self._application(number)
        event = {"requestType": "inboundCall", "callId": call_id, "accountId": account,
                 "from": from_, "to": to, "callStatus": "ringing", "direction": "inbound",
                 "conferenceId": None, "queueId": None, "parentCallId": None}
        if app is None or not app["voice_url"]:
            reason = "configErrorNoApplication" if app is None else "configErrorNoVoiceUrl"
            outcome.reason = f"the call ends with {reason}"
            outcome.events.append(self._log(call_id, "freeclimb", account, "call", step="route",
                                            problem=reason, verdict="not-routed"))
            await self._call_status(outcome, app, event, "failed", reason)
            return outcome
        body = json.dumps(event).encode()
        answer = await self._with_fallback(
            call_id, "freeclimb", account, "call", outcome,
            [("voice", "POST", app["voice_url"]),
             ("voice-fallback", "POST", app["voice_fallback_url"])],
            lambda step, method, url: self.send(step, method, url, json_body=body,
                                                headers=self._signed(account, body),
                                                reply="percl"))
        if answer is None:
            # A reply that was read but is not PerCL, or no usable reply at all.
            reason = "appInvalidPercl" if outcome.events[-1]["verbs"] is not None \
                else "webhookFailed"
            await self._call_status(outcome, app, event, "failed", reason)
            return outcome
        assert answer.check is not None
        verbs = answer.check.verbs
        reason = {"Hangup": "appHangup", "Reject": "appReject"}.get(
            verbs[-1] if verbs else "", "farEndHangup" if verbs else "appNoPercl")
        await self._call_status(outcome, app, event, "completed", reason)
        outcome.result, outcome.reason = "answered", _answered(answer, _seconds(answer))
        return outcome

    async def _call_status(self, outcome: Outcome, app: sqlite3.Row | None,
                           event: dict[str, Any], state: str, reason: str) -> None:
        if app is None or not app["status_callback_url"]:
            return
        status = {**event, "requestType": "callStatus", "callStatus": state,
                  "callEndedReason": reason}
        body = json.dumps(status).encode()
        attempt = await self.send("status", "POST", app["status_callback_url"], json_body=body,
                                  headers=self._signed(outcome.account_sid or "", body))
        outcome.events.append(self._log(outcome.id, "freeclimb", outcome.account_sid,
                                        outcome.kind, attempt))

    def _application(self, number: sqlite3.Row) -> sqlite3.Row | None:
        if not number["application_id"]:
            return None
        row: sqlite3.Row | None = self.store.query_one(
            "SELECT * FROM applications WHERE sid = ? AND account_sid = ?",
            (number["application_id"], number["account_sid"]))
        return row

    def _signed(self, account: str, body: bytes) -> dict[str, str]:
        secret = signing_secret(self.store, account)
        return {} if secret is None else {"FreeClimb-Signature": sign_webhook(secret, body)}

    async def _with_fallback(self, event_id: str, provider: str, account: str | None, kind: str,
                             outcome: Outcome, targets: list[tuple[str, str | None, str | None]],
                             send: Any) -> Attempt | None:
        """The first target that answers well (None when all fail); each try is logged."""
        for step, method, url in targets:
            if not url:
                continue
            try:
                verb = _method(method)
            except NetworkError as error:
                outcome.events.append(self._log(event_id, provider, account, kind, step=step,
                                                problem=str(error), verdict="failed"))
                continue
            attempt: Attempt = await send(step, verb, url)
            outcome.events.append(self._log(event_id, provider, account, kind, attempt))
            if not attempt.failed:
                return attempt
        outcome.result = "failed"
        outcome.reason = "every URL failed: " + "; ".join(
            f"{e['step']} {e['problem'] or e['verdict']}" for e in outcome.events
            if e["step"].startswith(("voice", "sms")))
        return None

    # -- messages ---------------------------------------------------------------------

    async def message(self, from_: str, to: str, text: str) -> Outcome:
        if len(text) > MAX_TEXT:
            raise NetworkError(f"TEXT is {len(text)} characters; at most {MAX_TEXT}")
        number = self._owner(from_, to)
        account = number["account_sid"]
        if number["provider"] == "restcomm":
            sid = "SM" + secrets.token_hex(16)
            outcome = Outcome(sid, "restcomm", "sms", account, "not-routed", "")
            targets = [("sms", number["sms_method"], number["sms_url"]),
                       ("sms-fallback", number["sms_fallback_method"], number["sms_fallback_url"])]
            fields = {"SmsSid": sid, "AccountSid": account, "From": from_, "To": to, "Body": text}

            def send(step: str, method: str, url: str) -> Any:
                return self.send(step, method, url, form=fields, headers=RESTCOMM_CHARSET,
                                 reply="rcml")
        else:
            message_id = "MM" + secrets.token_hex(20)
            outcome = Outcome(message_id, "freeclimb", "sms", account, "not-routed", "")
            app = self._application(number)
            targets = [] if app is None else [("sms", "POST", app["sms_url"]),
                                              ("sms-fallback", "POST", app["sms_fallback_url"])]
            event = {"requestType": "messageDelivery", "accountId": account, "from": from_,
                     "to": to, "text": text, "direction": "inbound",
                     "applicationId": number["application_id"], "status": "received",
                     "phoneNumberId": number["sid"],
                     "uri": f"/Accounts/{account}/Messages/{message_id}",
                     "messageId": message_id}
            body = json.dumps(event).encode()

            def send(step: str, method: str, url: str) -> Any:
                return self.send(step, method, url, json_body=body,
                                 headers=self._signed(account, body))
        if not any(url for _, _, url in targets):
            where = "no application" if number["provider"] == "freeclimb" and \
                not number["application_id"] else "no SmsUrl" if number["provider"] == \
                "restcomm" else "no smsUrl on its application"
            outcome.reason = f"the number has {where}: the message is dropped"
            outcome.events.append(self._log(outcome.id, outcome.provider, account, "sms",
                                            step="route", problem=outcome.reason,
                                            verdict="not-routed"))
            return outcome
        answer = await self._with_fallback(outcome.id, outcome.provider, account, "sms", outcome,
                                           targets, send)
        if answer is not None:
            outcome.result = "delivered"
            outcome.reason = f"{answer.step} answered {answer.status}"
        return outcome

    # -- reading the log --------------------------------------------------------------

    def events(self, limit: int = 100, call_id: str | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` events (of one call or message), oldest first."""
        where, params = ("WHERE call_id = ?", [call_id]) if call_id else ("", [])
        with self.store.read() as conn:
            rows = conn.execute(f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?",
                                [*params, limit]).fetchall()
        return [event_json(row) for row in reversed(rows)]


def event_json(row: sqlite3.Row) -> dict[str, Any]:
    """One log row as the admin endpoint lists it."""
    event = dict(row)
    event["request_headers"] = json.loads(event["request_headers"] or "{}")
    event["verbs"] = json.loads(event["verbs"]) if event["verbs"] else None
    event["reply_truncated"] = bool(event["reply_truncated"])
    return event


def _method(method: str | None) -> str:
    """Restcomm's Downloader sends GET or POST (POST when unset) and refuses anything else."""
    verb = (method or "POST").upper()
    if verb not in ("GET", "POST"):
        raise NetworkError(f"method {method!r} is neither GET nor POST; Restcomm refuses it")
    return verb


def _seconds(answer: Attempt) -> int:
    """The simulated length of a call: one second per verb of its script, at least one."""
    return max(1, len(answer.check.verbs) if answer.check is not None else 1)


def _answered(answer: Attempt, duration: int) -> str:
    verbs = ", ".join(answer.check.verbs) if answer.check and answer.check.verbs else "no verbs"
    return f"{answer.step} answered {answer.status} ({verbs}); the call lasted {duration} s"


def _iso_ms(store: Store) -> str:
    ms = store.now_ms()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
