"""Large Restcomm list pages, streamed.

Restcomm's real server puts no upper bound on PageSize, so neither does the contract; a page of
20 000 numbers built at once was a 21.5 MB body plus its objects, per request (20 clients that
never read took the server from 72 MB to 505 MB). Past ``STREAM_ABOVE`` items, the service
raises ``StreamedPage`` after the stub has authenticated and checked the request; the handler
here answers it with the very bytes the stub would have sent, written a batch at a time as the
client reads (uvicorn holds each write until the socket drains).

The bytes match because each batch is serialised the stub's way, as a whole page holding just
that batch: the page's opening (paging keys) and closing are the same for every batch, so the
body is the opening, each batch's items (comma-separated in JSON), and the closing.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

STREAM_ABOVE = 1000  # items; smaller pages are built whole, as they always were
BATCH = 100  # items per write, about 100 KB of JSON
STREAM_THREADS = 4
T = TypeVar("T")
_JSON_ITEMS = b'"incomingPhoneNumbers":['


class StreamedPage(Exception):  # not an error: how a big page leaves the stub
    """A checked page too large to build whole: its paging keys and its items in batches."""

    def __init__(self, fields: dict[str, Any], batches: Iterator[list[dict[str, Any]]],
                 media: str) -> None:
        super().__init__("streamed page")
        self.fields, self.batches, self.media = fields, batches, media


def _page_bytes(fields: dict[str, Any], items: list[dict[str, Any]], media: str) -> bytes:
    """One page as the stub serialises it (generated/serving.py ``reply``)."""
    from numspec.generated.restcomm import models
    from numspec.generated.restcomm.wire import XML_SHAPES
    from numspec.generated.runtime import to_xml

    page = models.IncomingPhoneNumberPage.model_validate(
        {**fields, "incomingPhoneNumbers": items})
    if "xml" in media:
        data = page.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return to_xml({"IncomingPhoneNumbers": data},
                      XML_SHAPES["IncomingPhoneNumberPageXmlResponse"])
    return page.model_dump_json(by_alias=True, exclude_unset=True).encode()


def _split(whole: bytes, media: str) -> tuple[bytes, bytes, bytes]:
    """A serialised page with at least one item as (opening, items, closing)."""
    if "xml" in media:
        start = whole.index(b">", whole.index(b"<IncomingPhoneNumbers ")) + 1
        end = whole.rindex(b"</IncomingPhoneNumbers>")
    else:
        start = whole.index(_JSON_ITEMS) + len(_JSON_ITEMS)
        end = whole.rindex(b"]")
    return whole[:start], whole[start:end], whole[end:]


def _body(page: StreamedPage) -> Iterator[bytes]:
    closing = b""
    for index, batch in enumerate(page.batches):
        opening, items, closing = _split(_page_bytes(page.fields, batch, page.media), page.media)
        del batch  # a client that stops reading holds this frame: keep it small
        if index == 0:
            yield opening + items
        else:
            yield (b"," if "xml" not in page.media else b"") + items
        del opening, items
    yield closing


async def _in_few_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each batch is read and serialised in a worker thread, at most STREAM_THREADS at once
    (with the planning of big pages): every thread that reads a big page keeps a SQLite page
    cache and a malloc arena of its own, a few MB each, so 20 streams must not take 20."""
    done = object()
    while True:
        chunk = await anyio.to_thread.run_sync(next, chunks, done, limiter=_LIMITER())
        if chunk is done:
            return
        yield chunk  # type: ignore[misc]


@functools.cache
def _LIMITER() -> anyio.CapacityLimiter:  # made on first use, inside the event loop
    return anyio.CapacityLimiter(STREAM_THREADS)


async def run_limited(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread, sharing the streams' few threads."""
    return await anyio.to_thread.run_sync(function, *args, limiter=_LIMITER())


async def streamed_page(request: Request, exc: Exception) -> Response:
    """The exception handler for ``StreamedPage``."""
    assert isinstance(exc, StreamedPage)
    return StreamingResponse(_in_few_threads(_body(exc)), 200, media_type=exc.media)
