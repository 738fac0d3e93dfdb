"""Client libraries nobody here wrote, from PyPI (versions pinned in pyproject's dev extras),
against the real `numspec serve` on loopback with a real SQLite file:

- FreeClimb's official Python SDK (`freeclimb`) at /apiserver;
- Twilio's Python helper library (`twilio`) at /restcomm/2012-04-24: Restcomm speaks Twilio's
  2010-04-01 API, so the library only needs another base URL and API version.

If one of them cannot read an answer, the emulator differs from what its provider sends.
"""

from __future__ import annotations

from collections.abc import Iterator

import freeclimb
import pytest
from freeclimb.api.default_api import DefaultApi
from numspec.emulator import accounts
from numspec.emulator.inventory import national_format
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client as TwilioClient

from tests.emulator_process import EmulatorProcess

FC_LOGIN = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
RC_LOGIN = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
PAST_ONE_PAGE = 105  # FreeClimb pages hold 100


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    folder = tmp_path_factory.mktemp("sdks")
    process = EmulatorProcess(folder / "numspec.db", folder / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def freeclimb_api(server: EmulatorProcess, login: tuple[str, str] = FC_LOGIN) -> DefaultApi:
    config = freeclimb.Configuration(host=f"{server.base_url}/apiserver",
                                     username=login[0], password=login[1])
    return DefaultApi(freeclimb.ApiClient(config))


def twilio_client(server: EmulatorProcess, login: tuple[str, str] = RC_LOGIN) -> TwilioClient:
    client = TwilioClient(login[0], login[1], environment={})  # no TWILIO_* from outside
    # The library's own knobs: the API domain's base URL and the version's path segment.
    client.api.base_url = f"{server.base_url}/restcomm"
    client.api.v2010.version = "2012-04-24"
    return client


# -- FreeClimb's official Python SDK ----------------------------------------------------------

def test_freeclimb_sdk_buy_get_update_list_page_delete(server: EmulatorProcess) -> None:
    api = freeclimb_api(server)
    offers = api.list_available_numbers()
    assert offers.page_size == 100 and offers.next_page_uri
    walked = list(offers.available_phone_numbers or [])
    page = api.get_next_page(offers)  # past the first 100
    walked += page.available_phone_numbers or []
    assert len({n.phone_number for n in walked}) == len(walked) > 100

    bought = [api.buy_a_phone_number(freeclimb.BuyIncomingNumberRequest(
        phone_number=offer.phone_number, alias=f"sdk {i}")) for i, offer in
        enumerate(walked[:PAST_ONE_PAGE])]
    first = bought[0]
    assert first.phone_number == walked[0].phone_number and first.revision == 1
    assert first.tfn is None and first.capabilities is not None

    got = api.get_an_incoming_number(first.phone_number_id)
    assert (got.phone_number_id, got.alias, got.account_id) == (
        first.phone_number_id, "sdk 0", FC_LOGIN[0])
    updated = api.update_an_incoming_number(
        first.phone_number_id, freeclimb.IncomingNumberRequest(alias="front desk",
                                                               campaign_id="CX56XX4"))
    assert (updated.alias, updated.campaign_id, updated.revision) == ("front desk", "CX56XX4", 2)

    # A list past one page, followed through the SDK's own next-page call.
    listed = api.list_incoming_numbers()
    seen = [n.phone_number_id for n in listed.incoming_phone_numbers or []]
    assert listed.total == PAST_ONE_PAGE and len(seen) == 100 and listed.next_page_uri
    rest = api.get_next_page(listed)
    seen += [n.phone_number_id for n in rest.incoming_phone_numbers or []]
    assert rest.next_page_uri is None
    assert sorted(seen) == sorted(n.phone_number_id for n in bought)

    # Filters as the SDK names them.
    one = api.list_incoming_numbers(alias="front desk")
    assert [n.phone_number_id for n in one.incoming_phone_numbers or []] == [
        first.phone_number_id]
    pattern = "^" + first.phone_number.replace("+", r"\+") + "$"
    by_number = api.list_incoming_numbers(phone_number=pattern, has_campaign=True,
                                          capabilities_voice=first.capabilities.voice)
    assert by_number.total == 1
    assert api.list_incoming_numbers(has_campaign=True).total == 1
    assert api.list_incoming_numbers(has_application=True).total == 0

    for number in bought:
        api.delete_an_incoming_number(number.phone_number_id)
    assert api.list_incoming_numbers().total == 0


def test_freeclimb_sdk_errors(server: EmulatorProcess) -> None:
    api = freeclimb_api(server)
    with pytest.raises(freeclimb.ApiException) as missing:
        api.get_an_incoming_number("PN" + "0" * 40)
    assert missing.value.status == 404 and '"code":' in (missing.value.body or "")
    with pytest.raises(freeclimb.ApiException) as taken:
        api.buy_a_phone_number(freeclimb.BuyIncomingNumberRequest(phone_number="+10000000000"))
    assert taken.value.status in (400, 404, 409)
    with pytest.raises(freeclimb.ApiException) as locked_out:
        freeclimb_api(server, (FC_LOGIN[0], "not-the-key")).list_incoming_numbers()
    assert locked_out.value.status == 401


# -- Twilio's Python helper library pointed at Restcomm ---------------------------------------

def test_twilio_library_create_fetch_update_page_delete(server: EmulatorProcess) -> None:
    numbers = [n.phone_number for n in
               freeclimb_api(server).list_available_numbers().available_phone_numbers or []]
    client = twilio_client(server)
    created = [client.incoming_phone_numbers.create(phone_number=number,
                                                    friendly_name=f"line {i}")
               for i, number in enumerate(numbers[:4])]
    # A number as people write it, which the real server normalises.
    written = client.incoming_phone_numbers.create(phone_number=national_format(numbers[4]))
    assert (written.phone_number, written.friendly_name) == (
        numbers[4], national_format(numbers[4]))
    created.append(written)
    first = created[0]
    assert first.sid.startswith("PN") and first.phone_number == numbers[0]
    assert first.account_sid == RC_LOGIN[0] and first.date_created is not None

    fetched = client.incoming_phone_numbers(first.sid).fetch()
    assert (fetched.sid, fetched.friendly_name, fetched.voice_method) == (
        first.sid, "line 0", "POST")
    updated = client.incoming_phone_numbers(first.sid).update(
        friendly_name="support", voice_url="https://example.com/voice.xml", voice_method="GET")
    assert (updated.friendly_name, updated.voice_url, updated.voice_method) == (
        "support", "https://example.com/voice.xml", "GET")

    # Paging with page_size: the library follows next_page_uri page after page. Restcomm's
    # last page says next_page_uri "null" (a string), so a limit stops the library there, as
    # it must against the real server.
    page = client.incoming_phone_numbers.page(page_size=2)
    first_two = [n.sid for n in page]
    second = [n.sid for n in page.next_page()]
    assert len(first_two) == len(second) == 2 and set(first_two).isdisjoint(second)
    listed = client.incoming_phone_numbers.list(page_size=2, limit=len(created))
    assert sorted(n.sid for n in listed) == sorted(n.sid for n in created)
    with pytest.raises(TwilioException, match="Unable to fetch page"):  # GET /restcomm/null
        client.incoming_phone_numbers.list(page_size=2)
    by_name = client.incoming_phone_numbers.list(friendly_name="support", limit=1)
    assert [n.sid for n in by_name] == [first.sid]

    for number in created:
        assert client.incoming_phone_numbers(number.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        client.incoming_phone_numbers(first.sid).fetch()
    assert gone.value.status == 404


def test_twilio_library_errors(server: EmulatorProcess) -> None:
    client = twilio_client(server)
    with pytest.raises(TwilioRestException) as unavailable:
        client.incoming_phone_numbers.create(phone_number="+10000000000")
    # Restcomm's body is the bare text 21452, which the library (expecting Twilio's JSON)
    # reports as its generic message; the status is what a caller can rely on.
    assert (unavailable.value.status, unavailable.value.method) == (400, "POST")
    with pytest.raises(TwilioRestException) as locked_out:
        twilio_client(server, (RC_LOGIN[0], "wrong")).incoming_phone_numbers("PN" + "0" * 32).fetch()
    assert locked_out.value.status == 401
    with pytest.raises(TwilioException, match="HTTP 401"):  # a list reports it this way
        twilio_client(server, (RC_LOGIN[0], "wrong")).incoming_phone_numbers.list(limit=1)
