"""The generated clients talk to the generated server stubs over real HTTP on loopback.

A small in-memory implementation of each provider's typed interface is mounted the way the
emulator mounts its own (FreeClimb under /apiserver, Restcomm under /restcomm) and served by
uvicorn on 127.0.0.1. Every operation is called through the sync and async clients, in JSON
and (Restcomm) XML; errors come back typed; the stubs' own validation answers with the
provider's error body through `reject`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from numspec.generated.freeclimb import models as fc
from numspec.generated.freeclimb.client import AsyncFreeClimbClient, FreeClimbClient
from numspec.generated.freeclimb.server import create_router as freeclimb_router
from numspec.generated.restcomm import models as rc
from numspec.generated.restcomm.client import AsyncRestcommClient, RestcommClient
from numspec.generated.restcomm.server import create_router as restcomm_router
from numspec.generated.runtime import ApiError

from tests.loopback_server import serve

FC_ACCOUNT = "AC" + "a1" * 20
FC_OTHER = "AC" + "b2" * 20
FC_KEY = "fc-secret"
RC_ACCOUNT = "AC" + "c3" * 16
RC_TOKEN = "rc-token"
DATE_1123 = "Mon, 07 Nov 2016 15:25:18 GMT"
DATE_JAVA = "Wed, 23 Sep 2015 15:55:47 +0000"
PAGE = 3            # small pages, so a handful of numbers spans several
MAX_BODY = 2_000    # small, so the 413 path is cheap to reach


def _hex(n: int) -> str:
    return secrets.token_hex(n // 2)


# --------------------------------------------------------------------------- FreeClimb


def fc_error(status: int, message: str, details: dict[str, Any] | None = None) -> ApiError:
    body = fc.PlatformError(code=status * 10, message=message, call=message,
                            url="https://docs.freeclimb.com/errors", details=details)
    return ApiError(status, body)


@dataclass
class FreeClimb:
    """In-memory FreeClimb: owned numbers by id, an inventory, and issued cursors."""

    numbers: dict[str, fc.IncomingNumber] = field(default_factory=dict)
    available: list[fc.AvailableNumber] = field(default_factory=list)
    cursors: dict[str, tuple[str, dict[str, Any], int]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    applications: dict[str, fc.Application] = field(default_factory=dict)

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Any:
        if credentials is None or credentials[1] != FC_KEY or credentials[0] not in (
                FC_ACCOUNT, FC_OTHER):
            raise fc_error(401, "unauthorized")
        if account is not None and account != credentials[0]:
            raise fc_error(403, "not your account")
        return credentials[0]

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> ApiError:
        return fc_error(status, problem, {"operation": operation, "field": field})

    def _page(self, listing: str, items: list[Any], filters: dict[str, Any], page: int,
              path: str) -> dict[str, Any]:
        start = page * PAGE
        chunk = items[start:start + PAGE]
        pages = max(1, -(-len(items) // PAGE))
        next_uri = None
        if page + 1 < pages:
            token = _hex(16)
            self.cursors[token] = (listing, filters, page + 1)
            next_uri = f"{path}?cursor={token}"
        return {"items": chunk, "end": start + len(chunk) - 1 if chunk else -1,
                "nextPageUri": next_uri, "numPages": pages, "page": page, "pageSize": PAGE,
                "start": start, "total": len(items)}

    def _resume(self, listing: str, cursor: str | None, filters: dict[str, Any]
                ) -> tuple[dict[str, Any], int]:
        if cursor is None:
            return filters, 0
        saved = self.cursors.get(cursor)
        if saved is None or saved[0] != listing:
            raise fc_error(400, "unknown cursor")
        return saved[1], saved[2]

    async def list_incoming_numbers(self, call: Any) -> fc.IncomingNumberList:
        self.seen.append("list_incoming_numbers")
        p = call.params
        filters, page = self._resume("owned", p.cursor, {"alias": p.alias})
        items = [n for n in self.numbers.values() if n.account_id == call.principal
                 and (filters["alias"] is None or n.alias == filters["alias"])]
        items.sort(key=lambda n: n.phone_number or "")
        data = self._page("owned", items, filters, page,
                          f"/Accounts/{p.account_id}/IncomingPhoneNumbers")
        return fc.IncomingNumberList(incomingPhoneNumbers=data.pop("items"), **data)

    async def list_available_numbers(self, call: Any) -> fc.AvailableNumberList:
        self.seen.append("list_available_numbers")
        p = call.params
        filters, page = self._resume("available", p.cursor, {"region": p.region})
        items = [n for n in self.available
                 if filters["region"] is None or n.region == filters["region"]]
        data = self._page("available", items, filters, page, "/AvailablePhoneNumbers")
        return fc.AvailableNumberList(availablePhoneNumbers=data.pop("items"), **data)

    async def buy_a_phone_number(self, call: Any) -> fc.IncomingNumber:
        self.seen.append("buy_a_phone_number")
        body: fc.BuyIncomingNumberRequest = call.body
        offer = next((n for n in self.available if n.phone_number == body.phone_number), None)
        if offer is None:
            raise fc_error(409, "that number is not available")
        self.available.remove(offer)
        number_id = "PN" + _hex(40)
        number = fc.IncomingNumber(
            accountId=call.principal, alias=body.alias or offer.phone_number,
            applicationId=body.application_id, campaignId=None,
            capabilities=offer.capabilities, country=offer.country,
            dateCreated=DATE_1123, dateUpdated=DATE_1123, offnet=False,
            phoneNumber=offer.phone_number, phoneNumberId=number_id, region=offer.region,
            revision=1, tfn=None,
            uri=f"/Accounts/{call.principal}/IncomingPhoneNumbers/{number_id}")
        self.numbers[number_id] = number
        return number

    def _owned(self, call: Any) -> fc.IncomingNumber:
        number = self.numbers.get(call.params.phone_number_id)
        if number is None or number.account_id != call.principal:
            raise fc_error(404, "no such number")
        return number

    async def get_an_incoming_number(self, call: Any) -> fc.IncomingNumber:
        self.seen.append("get_an_incoming_number")
        return self._owned(call)

    async def update_an_incoming_number(self, call: Any) -> fc.IncomingNumber:
        self.seen.append("update_an_incoming_number")
        number = self._owned(call)
        changes = call.body.model_dump(exclude_unset=True) if call.body else {}
        updated = number.model_copy(update={**changes, "revision": number.revision + 1})
        self.numbers[number.phone_number_id or ""] = updated
        return updated

    async def delete_an_incoming_number(self, call: Any) -> None:
        self.seen.append("delete_an_incoming_number")
        self.numbers.pop(self._owned(call).phone_number_id or "")

    # applications

    async def create_an_application(self, call: Any) -> fc.Application:
        self.seen.append("create_an_application")
        app_id = "AP" + _hex(40)
        fields = call.body.model_dump(exclude_unset=True) if call.body else {}
        app = fc.Application(
            uri=f"/Accounts/{call.principal}/Applications/{app_id}", dateCreated=DATE_1123,
            dateUpdated=DATE_1123, revision=1, accountId=call.principal, applicationId=app_id,
            alias=None, voiceUrl=None, voiceFallbackUrl=None, callConnectUrl=None,
            statusCallbackUrl=None, smsUrl=None, smsFallbackUrl=None).model_copy(update=fields)
        self.applications[app_id] = app
        return app

    def _application(self, call: Any) -> fc.Application:
        app = self.applications.get(call.params.application_id)
        if app is None or app.account_id != call.principal:
            raise fc_error(404, "no such application")
        return app

    async def list_applications(self, call: Any) -> fc.ApplicationList:
        self.seen.append("list_applications")
        p = call.params
        filters, page = self._resume("apps", p.cursor, {"alias": p.alias})
        items = [a for a in self.applications.values() if a.account_id == call.principal
                 and (filters["alias"] is None or a.alias == filters["alias"])]
        data = self._page("apps", items, filters, page, f"/Accounts/{p.account_id}/Applications")
        return fc.ApplicationList(applications=data.pop("items"), **data)

    async def get_an_application(self, call: Any) -> fc.Application:
        self.seen.append("get_an_application")
        return self._application(call)

    async def update_an_application(self, call: Any) -> fc.Application:
        self.seen.append("update_an_application")
        app = self._application(call)
        changes = call.body.model_dump(exclude_unset=True) if call.body else {}
        updated = app.model_copy(update={**changes, "revision": app.revision + 1})
        self.applications[app.application_id or ""] = updated
        return updated

    async def delete_an_application(self, call: Any) -> None:
        self.seen.append("delete_an_application")
        self.applications.pop(self._application(call).application_id or "")


def inventory(count: int, region: str = "IL") -> list[fc.AvailableNumber]:
    caps = fc.Capabilities(shortCode=False, sms=True, tenDLC=False, tollFree=False, voice=True)
    return [fc.AvailableNumber(campaignId=None, capabilities=caps, country="US",
                               phoneNumber=f"+1312555{i:04d}", region=region)
            for i in range(count)]


# --------------------------------------------------------------------------- Restcomm


def rc_error(status: int, text: str) -> ApiError:
    return ApiError(status, text)


KINDS = {"": None, "Local": "local", "TollFree": "tollfree", "Mobile": "mobile"}


@dataclass
class Restcomm:
    numbers: dict[str, tuple[str, rc.IncomingPhoneNumber]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Any:
        if credentials != (RC_ACCOUNT, RC_TOKEN):
            raise ApiError(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Restcomm realm"'})
        if account is not None and account != RC_ACCOUNT:
            raise rc_error(403, "Forbidden")
        return RC_ACCOUNT

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> ApiError:
        return rc_error(status, f"{operation}: {problem}")

    def _list(self, call: Any, kind: str | None, name: str) -> rc.IncomingPhoneNumberPage:
        self.seen.append(name)
        p = call.params
        items = [n for k, n in self.numbers.values()
                 if (kind is None or k == kind)
                 and (p.friendly_name is None or p.friendly_name in n.friendly_name)]
        items.sort(key=lambda n: n.phone_number, reverse=bool(p.reverse))
        size = p.page_size
        last = max(0, (len(items) - 1) // size)
        if p.page > last:
            raise rc_error(400, "page out of range")
        chunk = items[p.page * size:(p.page + 1) * size]
        uri = f"/2012-04-24/Accounts/{p.account_sid}/IncomingPhoneNumbers"

        def link(page: int) -> str:
            return f"{uri}.json?Page={page}&PageSize={size}"

        return rc.IncomingPhoneNumberPage(
            incomingPhoneNumbers=chunk, page=p.page, page_size=size, num_pages=last,
            total=len(items), start=str(p.page * size), end=str(p.page * size + len(chunk)),
            uri=uri, first_page_uri=link(0), last_page_uri=link(last),
            next_page_uri=link(p.page + 1) if p.page < last else "null",
            previous_page_uri=link(p.page - 1) if p.page > 0 else "null")

    def _create(self, call: Any, kind: str | None, name: str) -> rc.IncomingPhoneNumber:
        self.seen.append(name)
        form: rc.IncomingPhoneNumberCreateForm = call.body
        if any(n.phone_number == form.phone_number for _, n in self.numbers.values()):
            raise rc_error(400, "already provisioned")
        sid = "PN" + _hex(32)
        caps = rc.IncomingPhoneNumberCapabilities(
            fax_capable=bool(form.fax_capable), mms_capable=bool(form.mms_capable),
            sms_capable=bool(form.sms_capable), voice_capable=form.voice_capable is not False)
        fields: dict[str, Any] = dict.fromkeys(
            name for name, info in rc.IncomingPhoneNumber.model_fields.items()
            if info.is_required())
        fields.update(
            account_sid=RC_ACCOUNT, api_version=form.api_version or "2012-04-24",
            capabilities=caps, date_created=DATE_JAVA, date_updated=DATE_JAVA,
            friendly_name=form.friendly_name if form.friendly_name is not None
            else form.phone_number,
            phone_number=form.phone_number, sid=sid, voice_caller_id_lookup=False,
            voice_url=form.voice_url, voice_method=form.voice_method or "POST",
            uri=f"/2012-04-24/Accounts/{RC_ACCOUNT}/IncomingPhoneNumbers/{sid}")
        number = rc.IncomingPhoneNumber(**fields)
        self.numbers[sid] = (kind or "local", number)
        return number

    def _owned(self, call: Any) -> rc.IncomingPhoneNumber:
        found = self.numbers.get(call.params.sid)
        if found is None:
            raise rc_error(404, "The requested resource was not found")
        return found[1]

    async def list_incoming_phone_numbers(self, call: Any) -> rc.IncomingPhoneNumberPage:
        return self._list(call, None, "list_incoming_phone_numbers")

    async def list_local_incoming_phone_numbers(self, call: Any) -> rc.IncomingPhoneNumberPage:
        return self._list(call, "local", "list_local_incoming_phone_numbers")

    async def list_toll_free_incoming_phone_numbers(
            self, call: Any) -> rc.IncomingPhoneNumberPage:
        return self._list(call, "tollfree", "list_toll_free_incoming_phone_numbers")

    async def list_mobile_incoming_phone_numbers(self, call: Any) -> rc.IncomingPhoneNumberPage:
        return self._list(call, "mobile", "list_mobile_incoming_phone_numbers")

    async def create_incoming_phone_number(self, call: Any) -> rc.IncomingPhoneNumber:
        return self._create(call, None, "create_incoming_phone_number")

    async def create_local_incoming_phone_number(self, call: Any) -> rc.IncomingPhoneNumber:
        return self._create(call, "local", "create_local_incoming_phone_number")

    async def create_toll_free_incoming_phone_number(self, call: Any) -> rc.IncomingPhoneNumber:
        return self._create(call, "tollfree", "create_toll_free_incoming_phone_number")

    async def create_mobile_incoming_phone_number(self, call: Any) -> rc.IncomingPhoneNumber:
        return self._create(call, "mobile", "create_mobile_incoming_phone_number")

    async def get_incoming_phone_number(self, call: Any) -> rc.IncomingPhoneNumber:
        self.seen.append("get_incoming_phone_number")
        return self._owned(call)

    def _update(self, call: Any, name: str) -> rc.IncomingPhoneNumber:
        self.seen.append(name)
        number = self._owned(call)
        changes = {}
        if call.body is not None:
            sent = call.body.model_dump(exclude_unset=True)
            changes = {k: v for k, v in sent.items()
                       if k in rc.IncomingPhoneNumber.model_fields and k != "phone_number"}
        updated = number.model_copy(update=changes)
        self.numbers[number.sid] = (self.numbers[number.sid][0], updated)
        return updated

    async def update_incoming_phone_number(self, call: Any) -> rc.IncomingPhoneNumber:
        return self._update(call, "update_incoming_phone_number")

    async def update_incoming_phone_number_put(self, call: Any) -> rc.IncomingPhoneNumber:
        return self._update(call, "update_incoming_phone_number_put")

    async def delete_incoming_phone_number(self, call: Any) -> None:
        self.seen.append("delete_incoming_phone_number")
        self.numbers.pop(self._owned(call).sid)


# --------------------------------------------------------------------------- the server


@dataclass
class Loopback:
    url: str
    freeclimb: FreeClimb
    restcomm: Restcomm

    def fc(self, user: str = FC_ACCOUNT, key: str = FC_KEY) -> FreeClimbClient:
        return FreeClimbClient(user, key, base_url=self.url + "/apiserver")

    def afc(self) -> AsyncFreeClimbClient:
        return AsyncFreeClimbClient(FC_ACCOUNT, FC_KEY, base_url=self.url + "/apiserver")

    def rc(self, token: str = RC_TOKEN) -> RestcommClient:
        return RestcommClient(RC_ACCOUNT, token, base_url=self.url + "/restcomm")

    def arc(self) -> AsyncRestcommClient:
        return AsyncRestcommClient(RC_ACCOUNT, RC_TOKEN, base_url=self.url + "/restcomm")


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    freeclimb, restcomm = FreeClimb(), Restcomm()
    app = FastAPI()
    app.include_router(freeclimb_router(freeclimb, max_body_bytes=MAX_BODY), prefix="/apiserver")
    app.include_router(restcomm_router(restcomm, max_body_bytes=MAX_BODY), prefix="/restcomm")
    with serve(app, probe="/apiserver/AvailablePhoneNumbers") as url:
        yield Loopback(url, freeclimb, restcomm)


@pytest.fixture()
def fresh(loopback: Loopback) -> Loopback:
    """The shared server with empty state."""
    loopback.freeclimb.numbers.clear()
    loopback.freeclimb.cursors.clear()
    loopback.freeclimb.seen.clear()
    loopback.freeclimb.applications.clear()
    loopback.restcomm.seen.clear()
    loopback.freeclimb.available[:] = inventory(8)
    loopback.restcomm.numbers.clear()
    return loopback


# --------------------------------------------------------------------------- FreeClimb tests


def test_freeclimb_every_operation_sync(fresh: Loopback) -> None:
    with fresh.fc() as client:
        offers = client.list_available_numbers(region="IL")
        assert offers.page_size == PAGE and len(offers.available_phone_numbers) == PAGE
        bought = client.buy_a_phone_number(fc.BuyIncomingNumberRequest(
            phoneNumber=offers.available_phone_numbers[0].phone_number, alias="Front desk"))
        assert bought.alias == "Front desk" and bought.revision == 1
        assert bought.account_id == FC_ACCOUNT and bought.phone_number_id is not None
        got = client.get_an_incoming_number(bought.phone_number_id)
        assert got == bought
        updated = client.update_an_incoming_number(
            bought.phone_number_id, fc.IncomingNumberRequest(alias="Support line"))
        assert updated.alias == "Support line" and updated.revision == 2
        # The body is optional: an update without one changes nothing but the revision.
        assert client.update_an_incoming_number(bought.phone_number_id).revision == 3
        listed = client.list_incoming_numbers(alias="Support line")
        assert [n.phone_number_id for n in listed.incoming_phone_numbers] == [
            bought.phone_number_id]
        assert listed.next_page_uri is None
        assert client.delete_an_incoming_number(bought.phone_number_id) is None
        with pytest.raises(ApiError) as caught:
            client.get_an_incoming_number(bought.phone_number_id)
    assert caught.value.status_code == 404
    assert isinstance(caught.value.body, fc.PlatformError) and caught.value.body.code == 4040
    assert set(fresh.freeclimb.seen) >= {
        "list_available_numbers", "buy_a_phone_number", "get_an_incoming_number",
        "update_an_incoming_number", "list_incoming_numbers", "delete_an_incoming_number"}


def test_freeclimb_every_operation_async(fresh: Loopback) -> None:
    async def scenario() -> None:
        async with fresh.afc() as client:
            offers = [n async for n in client.iter_available_numbers(region="IL")]
            assert len(offers) == 8
            bought = [await client.buy_a_phone_number(
                fc.BuyIncomingNumberRequest(phoneNumber=o.phone_number)) for o in offers[:7]]
            owned = [n.phone_number_id async for n in client.iter_incoming_numbers()]
            assert sorted(owned) == sorted(b.phone_number_id for b in bought)
            one = bought[0].phone_number_id
            assert one is not None
            assert (await client.get_an_incoming_number(one)).phone_number_id == one
            changed = await client.update_an_incoming_number(
                one, fc.IncomingNumberRequest(campaignId="C123"))
            assert changed.campaign_id == "C123"
            await client.delete_an_incoming_number(one)
            page = await client.list_incoming_numbers()
            assert page.total == 6

    asyncio.run(scenario())


def test_freeclimb_applications_every_operation(fresh: Loopback) -> None:
    with fresh.fc() as client:
        made = client.create_an_application(fc.ApplicationRequest(
            alias="desk", voiceUrl="https://app.example.com/voice"))
        assert made.application_id and made.voice_url == "https://app.example.com/voice"
        assert client.get_an_application(made.application_id) == made
        # null is sent (not left out) so the server can remove a URL
        cleared = client.update_an_application(made.application_id,
                                               fc.ApplicationRequest(voiceUrl=None))
        assert cleared.voice_url is None and cleared.alias == "desk" and cleared.revision == 2
        for i in range(4):
            client.create_an_application(fc.ApplicationRequest(alias="many"))
        first = client.list_applications(alias="many")
        assert first.total == 4 and first.next_page_uri is not None  # pages of 3
        assert len(list(client.iter_applications(alias="many"))) == 4
        assert client.delete_an_application(made.application_id) is None
        with pytest.raises(ApiError) as caught:
            client.get_an_application(made.application_id)
    assert caught.value.status_code == 404
    with pytest.raises(ValueError):
        fc.ApplicationRequest(voiceUrl="ftp://nope")  # the contract's pattern, client side too
    assert {"create_an_application", "get_an_application", "update_an_application",
            "list_applications", "delete_an_application"} <= set(fresh.freeclimb.seen)


def test_freeclimb_paging_follows_the_cursor_across_pages(fresh: Loopback) -> None:
    fresh.freeclimb.available[:] = inventory(7)
    fresh.freeclimb.available += [
        n.model_copy(update={"region": "NY", "phone_number": f"+1212555{i:04d}"})
        for i, n in enumerate(inventory(5))]
    with fresh.fc() as client:
        first = client.list_available_numbers(region="NY")
        assert first.num_pages == 2 and first.next_page_uri is not None
        assert "cursor=" in first.next_page_uri
        # The cursor carries the filter: the iterator never sends `region` again.
        every = list(client.iter_available_numbers(region="NY"))
        assert [n.phone_number for n in every] == [f"+1212555{i:04d}" for i in range(5)]
        assert len(list(client.iter_available_numbers())) == 12  # 4 pages
        for offer in every:
            client.buy_a_phone_number(fc.BuyIncomingNumberRequest(phoneNumber=offer.phone_number))
        owned = list(client.iter_incoming_numbers())
    assert sorted(n.phone_number or "" for n in owned) == [n.phone_number for n in every]
    assert len(fresh.freeclimb.cursors) >= 6


def test_freeclimb_errors_are_typed(fresh: Loopback) -> None:
    with fresh.fc(key="wrong") as client, pytest.raises(ApiError) as caught:
        client.list_incoming_numbers()
    assert caught.value.status_code == 401
    assert isinstance(caught.value.body, fc.PlatformError)
    assert caught.value.body.message == "unauthorized"

    # A valid user naming another account in the path.
    other = FreeClimbClient(FC_OTHER, FC_KEY, account_id=FC_ACCOUNT,
                            base_url=fresh.url + "/apiserver")
    with other, pytest.raises(ApiError) as caught:
        other.list_incoming_numbers()
    assert caught.value.status_code == 403

    with fresh.fc() as client:
        with pytest.raises(ApiError) as caught:
            client.buy_a_phone_number(fc.BuyIncomingNumberRequest(phoneNumber="+15555550100"))
        assert caught.value.status_code == 409
        assert isinstance(caught.value.body, fc.PlatformError)
        with pytest.raises(ApiError) as caught:
            client.list_incoming_numbers(cursor="notissued")
        assert caught.value.status_code == 400


def test_freeclimb_stub_validation(fresh: Loopback) -> None:
    base = fresh.url + "/apiserver"
    auth = (FC_ACCOUNT, FC_KEY)
    numbers = f"{base}/Accounts/{FC_ACCOUNT}/IncomingPhoneNumbers"
    with fresh.fc() as client, pytest.raises(ApiError) as caught:
        client.get_an_incoming_number("not-a-number-id")
    # A path parameter breaking its pattern is refused by the stub, through `reject`.
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, fc.PlatformError)
    assert caught.value.body.details == {"operation": "get-an-incoming-number",
                                         "field": "phoneNumberId"}
    assert "get_an_incoming_number" not in fresh.freeclimb.seen

    body = {"phoneNumber": "+13125550000", "alias": "x" * MAX_BODY}
    answer = httpx.post(numbers, json=body, auth=auth)
    assert answer.status_code == 413 and answer.json()["code"] == 4130

    answer = httpx.post(numbers, content=b'{"phoneNumber": "+13125550000"}', auth=auth,
                        headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415 and answer.json()["code"] == 4150

    answer = httpx.post(numbers, content=b"{not json", auth=auth,
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 400

    # A body field breaking the schema (alias over 64 characters): 400, not FastAPI's 422.
    answer = httpx.post(numbers, json={"phoneNumber": "+13125550000", "alias": "y" * 65},
                        auth=auth)
    assert answer.status_code == 400
    assert answer.json()["details"]["field"] == "alias"

    answer = httpx.get(f"{numbers}?hasApplication=maybe", auth=auth)
    assert answer.status_code == 400 and answer.json()["details"]["field"] == "hasApplication"
    assert "buy_a_phone_number" not in fresh.freeclimb.seen


# --------------------------------------------------------------------------- Restcomm tests


def provision(client: RestcommClient, count: int, prefix: str = "+1650555") -> list[str]:
    return [client.create_incoming_phone_number(
        rc.IncomingPhoneNumberCreateForm(PhoneNumber=f"{prefix}{i:04d}")).sid
        for i in range(count)]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_restcomm_every_operation(fresh: Loopback, fmt: Any) -> None:
    with fresh.rc() as client:
        created = client.create_incoming_phone_number(
            rc.IncomingPhoneNumberCreateForm(PhoneNumber="+16505550100", FriendlyName="Main",
                                             VoiceUrl="https://example.com/voice",
                                             VoiceMethod="GET", SmsCapable=True),
            format=fmt)
        assert created.friendly_name == "Main" and created.voice_method == "GET"
        assert created.capabilities.sms_capable is True
        assert created.voice_url == "https://example.com/voice"
        sid = created.sid
        assert client.get_incoming_phone_number(sid, format=fmt) == created
        renamed = client.update_incoming_phone_number(
            sid, rc.IncomingPhoneNumberUpdateForm(FriendlyName="Renamed"), format=fmt)
        assert renamed.friendly_name == "Renamed"
        put = client.update_incoming_phone_number_put(
            sid, rc.IncomingPhoneNumberUpdateForm(VoiceCallerIdLookup=True), format=fmt)
        assert put.voice_caller_id_lookup is True and put.friendly_name == "Renamed"

        local = client.create_local_incoming_phone_number(
            rc.IncomingPhoneNumberCreateForm(PhoneNumber="+16505550101"), format=fmt)
        free = client.create_toll_free_incoming_phone_number(
            rc.IncomingPhoneNumberCreateForm(PhoneNumber="+18005550102"), format=fmt)
        mobile = client.create_mobile_incoming_phone_number(
            rc.IncomingPhoneNumberCreateForm(PhoneNumber="+16505550103"), format=fmt)
        assert local.friendly_name == "+16505550101"

        every = client.list_incoming_phone_numbers(format=fmt)
        assert every.total == 4 and every.next_page_uri == "null"
        assert [n.sid for n in every.incoming_phone_numbers] == sorted(
            [sid, local.sid, free.sid, mobile.sid],
            key=lambda s: fresh.restcomm.numbers[s][1].phone_number)
        assert [n.sid for n in client.list_local_incoming_phone_numbers(
            format=fmt).incoming_phone_numbers] == [sid, local.sid]
        assert [n.sid for n in client.list_toll_free_incoming_phone_numbers(
            format=fmt).incoming_phone_numbers] == [free.sid]
        assert [n.sid for n in client.list_mobile_incoming_phone_numbers(
            format=fmt).incoming_phone_numbers] == [mobile.sid]
        filtered = client.list_incoming_phone_numbers(friendly_name="Ren", format=fmt)
        assert [n.sid for n in filtered.incoming_phone_numbers] == [sid]

        client.delete_incoming_phone_number(sid)
        with pytest.raises(ApiError) as caught:
            client.get_incoming_phone_number(sid, format=fmt)
    assert caught.value.status_code == 404
    assert caught.value.body == "The requested resource was not found"
    assert len(set(fresh.restcomm.seen)) == 12


def test_restcomm_xml_is_xml_on_the_wire(fresh: Loopback) -> None:
    with fresh.rc() as client:
        sid = provision(client, 1)[0]
    auth = (RC_ACCOUNT, RC_TOKEN)
    base = f"{fresh.url}/restcomm/2012-04-24/Accounts/{RC_ACCOUNT}/IncomingPhoneNumbers"
    bare = httpx.get(f"{base}/{sid}", auth=auth)
    assert bare.headers["content-type"].startswith("application/xml")
    assert bare.text.startswith("<RestcommResponse><IncomingPhoneNumber><Sid>")
    assert f"<Sid>{sid}</Sid>" in bare.text
    listed = httpx.get(base, auth=auth)
    assert '<IncomingPhoneNumbers page="0"' in listed.text or "page=\"0\"" in listed.text
    by_accept = httpx.get(f"{base}/{sid}", auth=auth, headers={"Accept": "application/json"})
    assert by_accept.json()["sid"] == sid
    suffixed = httpx.get(f"{base}/{sid}.json", auth=auth, headers={"Accept": "application/xml"})
    assert suffixed.headers["content-type"].startswith("application/json")


def test_restcomm_paging_across_pages(fresh: Loopback) -> None:
    with fresh.rc() as client:
        sids = provision(client, 7)
        first = client.list_incoming_phone_numbers(page_size=3)
        assert first.num_pages == 2 and first.next_page_uri.endswith("Page=1&PageSize=3")
        every = list(client.iter_incoming_phone_numbers(page_size=3))
        assert [n.sid for n in every] == sids
        backwards = list(client.iter_incoming_phone_numbers(page_size=2, reverse=True))
        assert [n.sid for n in backwards] == sids[::-1]
        with pytest.raises(ApiError) as caught:
            client.list_incoming_phone_numbers(page=9, page_size=3)
        assert caught.value.status_code == 400

    async def iterate() -> list[str]:
        async with fresh.arc() as aclient:
            return [n.sid async for n in aclient.iter_local_incoming_phone_numbers(page_size=2)]

    assert asyncio.run(iterate()) == sids
    pages = [e for e in fresh.restcomm.seen if e == "list_local_incoming_phone_numbers"]
    assert len(pages) == 4


def test_restcomm_async_client(fresh: Loopback) -> None:
    async def scenario() -> None:
        async with fresh.arc() as client:
            made = await client.create_toll_free_incoming_phone_number(
                rc.IncomingPhoneNumberCreateForm(PhoneNumber="+18885550000"), format="xml")
            got = await client.get_incoming_phone_number(made.sid, format="xml")
            assert got == made
            page = await client.list_toll_free_incoming_phone_numbers(format="xml")
            assert [n.sid for n in page.incoming_phone_numbers] == [made.sid]
            await client.delete_incoming_phone_number(made.sid)
            with pytest.raises(ApiError) as caught:
                await client.get_incoming_phone_number(made.sid)
            assert caught.value.status_code == 404

    asyncio.run(scenario())


def test_restcomm_errors_and_stub_validation(fresh: Loopback) -> None:
    with fresh.rc(token="wrong") as client, pytest.raises(ApiError) as caught:
        client.list_incoming_phone_numbers()
    assert caught.value.status_code == 401 and caught.value.body == "Unauthorized"
    assert caught.value.headers["www-authenticate"] == 'Basic realm="Restcomm realm"'

    auth = (RC_ACCOUNT, RC_TOKEN)
    base = f"{fresh.url}/restcomm/2012-04-24/Accounts/{RC_ACCOUNT}/IncomingPhoneNumbers"
    # A bare path with an Accept naming neither XML nor JSON: 406 from `reject`, as text.
    answer = httpx.get(base, auth=auth, headers={"Accept": "text/plain"})
    assert answer.status_code == 406
    assert answer.text.startswith("list-incoming-phone-numbers: ")
    assert answer.headers["content-type"].startswith("text/plain")
    # Restcomm's rule: `json` anywhere in Accept wins, whatever else it names or its order.
    for accept, media in (("application/xml, application/json", "application/json"),
                          ("application/json;q=0.1, application/xml", "application/json"),
                          ("application/xml", "application/xml"), ("*/*", "application/xml")):
        answer = httpx.get(base, auth=auth, headers={"Accept": accept})
        assert answer.headers["content-type"].startswith(media), accept
    assert httpx.get(base, auth=auth, headers={"Accept": "text/xml"}).status_code == 406

    with fresh.rc() as client:
        with pytest.raises(ApiError) as caught:
            client.get_incoming_phone_number("short")
        assert caught.value.status_code == 400 and isinstance(caught.value.body, str)
        assert "Sid" in caught.value.body
        with pytest.raises(ApiError) as caught:
            client.list_incoming_phone_numbers(page_size=0)
        assert caught.value.status_code == 400 and "PageSize" in str(caught.value.body)

    answer = httpx.post(f"{base}.json", auth=auth, json={"PhoneNumber": "+16505550000"})
    assert answer.status_code == 415
    answer = httpx.post(f"{base}.json", auth=auth,
                        data={"PhoneNumber": "+16505550000", "FriendlyName": "z" * MAX_BODY})
    assert answer.status_code == 413
    # A repeated form field: the first one counts (Jersey's getFirst on the real server).
    answer = httpx.post(f"{base}.json", auth=auth, content="PhoneNumber=%2B16505550199&PhoneNumber=bad",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and answer.json()["phone_number"] == "+16505550199", answer.text
    answer = httpx.delete(f"{base}/{answer.json()['sid']}.json", auth=auth)
    assert answer.status_code == 204
    answer = httpx.post(f"{base}.json", auth=auth, data={"FriendlyName": "no number"})
    assert answer.status_code == 400 and "PhoneNumber" in answer.text
    answer = httpx.post(f"{base}.json", auth=auth, data={"PhoneNumber": "+1650", "VoiceMethod": "PATCH"})
    assert answer.status_code == 400 and "VoiceMethod" in answer.text
    assert not fresh.restcomm.numbers


def test_restcomm_booleans_and_empty_text_survive_both_formats(fresh: Loopback) -> None:
    """Booleans go out as form true/false; an empty (not null) text comes back empty from XML."""
    with fresh.rc() as client:
        for i, fmt in enumerate(("json", "xml")):
            made = client.create_incoming_phone_number(
                rc.IncomingPhoneNumberCreateForm(PhoneNumber=f"+1415555000{i}", FriendlyName="",
                                                 VoiceCapable=False, SmsCapable=True),
                format=fmt)  # type: ignore[arg-type]
            assert made.friendly_name == ""
            assert made.capabilities.voice_capable is False
            assert made.capabilities.sms_capable is True
            flipped = client.update_incoming_phone_number(
                made.sid, rc.IncomingPhoneNumberUpdateForm(VoiceCallerIdLookup=True), format=fmt)
            assert flipped.voice_caller_id_lookup is True


def test_restcomm_null_methods_are_empty_elements_in_xml() -> None:
    """The contract marks `*Method` with x-numspec-null: empty: written `<VoiceMethod/>`, not
    left out like other nulls, and read back as null."""
    from numspec.generated.restcomm.wire import XML_SHAPES
    from numspec.generated.runtime import from_xml, to_xml

    shape = XML_SHAPES["IncomingPhoneNumberXmlResponse"]
    text = to_xml({"IncomingPhoneNumber": {"sid": "PN" + "0" * 32, "voice_method": None,
                                           "voice_url": None}}, shape)
    assert b"<VoiceMethod />" in text and b"VoiceUrl" not in text
    number = from_xml(text, shape)["IncomingPhoneNumber"]
    assert number["voice_method"] is None and number["voice_url"] is None
