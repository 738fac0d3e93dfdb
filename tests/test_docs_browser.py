"""The docs page in a real headless Chromium (Debian's package; scripts/ensure-chromium).

Playwright drives the browser through `executable_path`, so it never downloads one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from numspec.emulator import accounts
from numspec.generated.freeclimb.client import FreeClimbClient
from numspec.generated.freeclimb.models import BuyIncomingNumberRequest
from numspec.generator import docs, specload
from playwright.sync_api import BrowserContext, Page, Playwright, Request, Route, sync_playwright

from tests.emulator_process import EmulatorProcess

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
CHROMIUM_FLAGS = [
    # --headless and a fresh --user-data-dir are set by launch_persistent_context below.
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OFFLINE_SCHEMES = ("file:", "data:", "blob:", "about:")

# ---------------------------------------------------------------------------------------------
# Browser plumbing


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope: the sync driver holds an event loop that other modules' asyncio.run() hates.
    with sync_playwright() as p:
        yield p


@pytest.fixture
def context(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium")
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1600, "height": 1000}, service_workers="block")
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


class Recorder:
    """Every request the browser makes, and every script error the page reports."""

    def __init__(self, page: Page):
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.context.on("request", self.on_request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)


def operations_by_tag(document: dict[str, Any]) -> dict[str, set[tuple[str, str, str]]]:
    found: dict[str, set[tuple[str, str, str]]] = {}
    for path, method, _, op in docs.iter_operations(document):
        for tag in op.get("tags") or []:
            found.setdefault(tag, set()).add((method.upper(), path, op["operationId"]))
    return found


def webhooks_by_tag(document: dict[str, Any]) -> dict[str, set[tuple[str, str, str]]]:
    """(METHOD, webhook name, operationId) per provider tag: Swagger UI shows the name as the path."""
    found: dict[str, set[tuple[str, str, str]]] = {}
    for name, item in (document.get("webhooks") or {}).items():
        for method in specload.HTTP_METHODS:
            op = item.get(method)
            for tag in (op or {}).get("tags") or []:
                found.setdefault(tag, set()).add((method.upper(), name, op["operationId"]))
    return found


def rendered_operations(page: Page, tag: str) -> set[tuple[str, str, str]]:
    blocks = page.locator(f'section[data-provider="{tag}"] .opblock')
    result: set[tuple[str, str, str]] = set()
    for i in range(blocks.count()):
        block = blocks.nth(i)
        result.add((block.locator(".opblock-summary-method").inner_text().strip(),
                    block.locator(".opblock-summary-path").get_attribute("data-path") or "",
                    block.locator(".opblock-summary-operation-id").inner_text().strip()))
    return result


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return specload.load().document


@pytest.fixture
def built_page(document: dict[str, Any], tmp_path: Path) -> Path:
    out = tmp_path / "numspec-docs.html"
    docs.write_atomic(out, docs.build_html(document).encode("utf-8"))
    return out


# ---------------------------------------------------------------------------------------------
# Tests


def test_file_page_renders_every_operation_of_both_providers(
        context: BrowserContext, built_page: Path, document: dict[str, Any]) -> None:
    page = context.new_page()
    recorder = Recorder(page)
    page.goto(built_page.as_uri())
    expected = operations_by_tag(document)
    assert set(expected) == {"freeclimb", "restcomm"}
    for tag, hooks in webhooks_by_tag(document).items():
        expected[tag] |= hooks  # shown as operations too, in a Webhooks part of the section
    page.wait_for_function(
        "n => document.querySelectorAll('.opblock').length >= n",
        arg=sum(len(ops) for ops in expected.values()))
    for tag, ops in expected.items():
        assert page.locator(f'section[data-provider="{tag}"]').is_visible()
        assert rendered_operations(page, tag) == ops
    # Both side by side by default: the two sections share a row.
    left, right = (page.locator(f'section[data-provider="{t}"]').bounding_box() for t in expected)
    assert left and right and left["y"] == right["y"] and left["x"] < right["x"]
    # Authentication block for each provider, examples in the expanded operation.
    auth = page.locator("#authentication").inner_text()
    assert "freeclimbAuth" in auth and "restcommAuth" in auth and "MD5" in auth
    page.locator("#operations-freeclimb-get-an-incoming-number .opblock-summary-control").click()
    example = page.locator("#operations-freeclimb-get-an-incoming-number .responses-wrapper")
    assert "PN8e458139313ed1fea8599e1a1d290a958d2d778e" in example.inner_text()
    # Read-only file: no "Try it out", and no Authorize button or lock, anywhere.
    assert page.locator(".try-out__btn").count() == 0
    assert page.locator(".auth-wrapper .authorize, .authorization__btn").count() == 0
    assert recorder.errors == []


def test_each_providers_webhooks_appear_in_its_own_section(
        context: BrowserContext, built_page: Path, document: dict[str, Any]) -> None:
    page = context.new_page()
    recorder = Recorder(page)
    page.goto(built_page.as_uri())
    hooks = webhooks_by_tag(document)
    assert {name for ops in hooks.values() for _, name, _ in ops} == {
        "freeclimb-inboundCall", "freeclimb-messageDelivery", "freeclimb-callStatus",
        "restcomm-inboundCall", "restcomm-inboundSms", "restcomm-statusCallback"}
    for tag, ops in hooks.items():
        part = page.locator(f'section[data-provider="{tag}"] .webhooks')
        part.locator(".opblock").first.wait_for()
        assert "Webhooks" in part.inner_text()
        shown = {(b.locator(".opblock-summary-method").inner_text().strip(),
                  b.locator(".opblock-summary-path").get_attribute("data-path") or "")
                 for b in part.locator(".opblock").all()}
        assert shown == {(method, name) for method, name, _ in ops}
    # Expanded, a webhook shows what the provider sends: FreeClimb's signature header and
    # event fields, Restcomm's form fields with the literal "null".
    fc_hook = page.locator('section[data-provider="freeclimb"] .webhooks .opblock').filter(
        has_text="freeclimb-inboundCall")
    fc_hook.locator(".opblock-summary-control").click()
    fc_hook.get_by_text("FreeClimb-Signature").first.wait_for()  # the body renders after the click
    fc_text = fc_hook.inner_text()
    assert "FreeClimb-Signature" in fc_text and "parentCallId" in fc_text and "Say" in fc_text
    rc_hook = page.locator('section[data-provider="restcomm"] .webhooks .opblock-post').filter(
        has_text="restcomm-inboundCall")
    rc_hook.locator(".opblock-summary-control").click()
    rc_hook.get_by_text("ForwardedFrom").first.wait_for()
    rc_text = rc_hook.inner_text()
    assert "ForwardedFrom" in rc_text and "application/x-www-form-urlencoded" in rc_text
    assert "<Response>" in rc_text and "<Say>Thanks for calling.</Say>" in rc_text
    assert recorder.errors == []


def test_file_page_makes_no_network_request(context: BrowserContext, built_page: Path) -> None:
    blocked: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(OFFLINE_SCHEMES):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    recorder = Recorder(page)
    page.goto(built_page.as_uri())
    page.wait_for_selector('section[data-provider="restcomm"] .opblock')
    # Use the page the way a reader would: every view, open operations and models.
    for view in ("freeclimb", "restcomm", "equivalents", "all"):
        page.click(f'nav.views button[data-view="{view}"]')
    for block in page.locator(".opblock-summary-control").all()[:6]:
        block.click()
    for models in page.locator(".models-control").all():
        models.click()
    page.locator(".models .json-schema-2020-12-accordion").first.click()
    page.wait_for_timeout(500)
    assert recorder.requests, "the recorder saw nothing; the test would prove nothing"
    offline = [u for u in recorder.requests if not u.startswith(OFFLINE_SCHEMES)]
    assert offline == [] and blocked == []
    assert recorder.errors == []


def test_equivalents_table_comes_from_the_extensions(
        context: BrowserContext, tmp_path: Path) -> None:
    """The x-numspec-equivalent/-concept annotations in spec/ drive the mapping page."""
    document = specload.load(SPEC_DIR).document
    out = tmp_path / "equivalents.html"
    out.write_text(docs.build_html(document), encoding="utf-8")
    page = context.new_page()
    page.goto(out.as_uri() + "#equivalents")
    page.wait_for_selector('section[data-provider="restcomm"] .opblock', state="attached")
    assert page.locator("section.equivalents").is_visible()
    assert not page.locator('section[data-provider="freeclimb"]').is_visible()
    rows = {r.locator("th").inner_text(): r for r in page.locator("#map-operations tbody tr").all()}
    assert list(rows) == ["list", "buy", "get", "update", "delete", "find-available"]
    get_row = rows["get"].inner_text()
    assert "get-an-incoming-number" in get_row and "get-incoming-phone-number-json" in get_row
    assert rows["find-available"].locator("td.none").count() == 1  # Restcomm has none here
    fields = {r.locator("th").inner_text(): r.locator("td") for r in
              page.locator("#map-fields tbody tr").all()}
    assert fields["friendly-name"].nth(0).locator("code").first.inner_text() == "alias"
    restcomm_name = fields["friendly-name"].nth(1).inner_text()
    assert "friendly_name" in restcomm_name and "FriendlyName" in restcomm_name
    # A link opens the operation in its provider's view.
    rows["update"].locator('a[data-op="update-incoming-phone-number-json"]').click()
    block = page.locator("#operations-restcomm-update-incoming-phone-number-json")
    assert page.locator('section[data-provider="restcomm"]').is_visible()
    assert not page.locator("section.equivalents").is_visible()
    page.wait_for_function(
        "el => el.classList.contains('is-open')", arg=block.element_handle())


# Each element's text split into the lines the browser laid it out on (by character boxes).
RENDERED_LINES = """el => {
  const lines = []; let top = null, line = "";
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
      const box = range.getClientRects()[0];
      if (!box) { continue; }
      if (top !== null && Math.abs(box.top - top) > 2) { lines.push(line); line = ""; }
      top = box.top; line += node.data[i];
    }
  }
  lines.push(line); return lines;
}"""


def wrapped_paths(page: Page, selector: str) -> list[list[str]]:
    return [el.evaluate(RENDERED_LINES) for el in page.locator(selector).all()]


@pytest.mark.parametrize("width", [1400, 800])
def test_paths_wrap_only_before_a_slash(context: BrowserContext, built_page: Path, tmp_path: Path,
                                       document: dict[str, Any], width: int) -> None:
    """Side by side and in the Equivalents tables, a long path breaks at a slash, never
    inside a word (`/IncomingP` | `honeNumbers`) or a date (`/2012-04-` | `24`)."""
    shots = Path(os.environ.get("NUMSPEC_SCREENSHOTS") or tmp_path)
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(built_page.as_uri())
    page.wait_for_selector('section[data-provider="restcomm"] .opblock')
    page.screenshot(path=str(shots / f"docs-side-by-side-{width}.png"), full_page=True)
    # Webhooks show their name where operations show a path; only paths are checked here.
    selector = ".opblock-tag-section .opblock-summary-path"
    operations = sum(len(ops) for ops in operations_by_tag(document).values())
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length >= n",
                           arg=[selector, operations])
    summaries = wrapped_paths(page, selector)
    assert len(summaries) == operations and any(len(lines) > 1 for lines in summaries)
    for lines in summaries:
        assert all(line.lstrip("\u200b").startswith("/") for line in lines), lines
    page.click('nav.views button[data-view="equivalents"]')
    page.screenshot(path=str(shots / f"docs-equivalents-{width}.png"), full_page=True)
    cells = wrapped_paths(page, "#map-operations code.path")
    paired = sum(1 for *_, op in docs.iter_operations(document) if "x-numspec-equivalent" in op)
    assert len(cells) == paired and any(len(lines) > 1 for lines in cells)
    for lines in cells:
        assert all(line.startswith("/") for line in lines), lines
    # The tables fit the page: no column is pushed out of sight.
    for table in page.locator("section.equivalents .scroll").all():
        assert table.evaluate("el => el.scrollWidth <= el.clientWidth")


def test_descriptions_render_markdown_and_never_run_their_html(
        context: BrowserContext, tmp_path: Path) -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "description": (
            "Read [the guide](https://example.com/guide).\n\n1. first\n   * inner\n2. second\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>window.ran = true</script>"
            "<img src=x onerror=\"window.ran = true\">")},
        "tags": [{"name": "a"}],
        "paths": {"/a": {"get": {"operationId": "a-get", "tags": ["a"],
                                 "responses": {"200": {"description": "ok"}}}}},
    }
    out = tmp_path / "hostile.html"
    out.write_text(docs.build_html(doc), encoding="utf-8")
    page = context.new_page()
    recorder = Recorder(page)
    page.goto(out.as_uri())
    page.wait_for_selector(".opblock")
    page.locator("details.about summary").click()
    about = page.locator("details.about")
    assert about.locator("a[href='https://example.com/guide']").inner_text() == "the guide"
    assert about.locator("ol > li").count() == 2 and about.locator("ol ul > li").count() == 1
    assert about.locator("table td").all_inner_texts() == ["1", "2"]
    assert "<script>window.ran = true</script>" in about.inner_text()  # shown, as text
    assert about.locator("script, img").count() == 0
    assert page.evaluate("window.ran") is None
    assert recorder.errors == []


# -- "Try it out" against the real emulator (`numspec serve`) on loopback -----------------------

ACCOUNT = accounts.FREECLIMB_DEMO.username
API_KEY = accounts.FREECLIMB_DEMO.password


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`numspec serve` on a fresh database; the demo FreeClimb account owns one number."""
    server = EmulatorProcess(tmp_path / "numspec.db", tmp_path / "server.log")
    server.start()
    try:
        with FreeClimbClient(ACCOUNT, API_KEY, base_url=server.base_url + "/apiserver") as fc:
            line = fc.list_available_numbers(country="US").available_phone_numbers[0]
            fc.buy_a_phone_number(BuyIncomingNumberRequest(phone_number=line.phone_number))
        yield server.base_url, line.phone_number
    finally:
        server.stop()


def test_try_it_out_on_a_live_server_shows_200_at_the_first_try(
        context: BrowserContext, live_server: tuple[str, str]) -> None:
    base, number = live_server
    page = context.new_page()
    recorder = Recorder(page)
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if "/apiserver/" in r.url else None)
    page.goto(base + "/docs")
    op = page.locator("#operations-freeclimb-list-incoming-numbers")
    op.locator(".opblock-summary-control").click()
    # Authorize with Basic credentials through the operation's lock.
    op.locator(".authorization__btn").click()
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.locator("input[type=text]").fill(ACCOUNT)
    dialog.locator("input[type=password]").fill(API_KEY)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()
    op.locator(".try-out__btn").click()
    # The form starts from the server's demo account and no filter: nothing to edit.
    assert op.locator('tr[data-param-name="accountId"] input').input_value() == ACCOUNT
    filters = op.locator('tr[data-param-in="query"] input')
    assert filters.count() >= 5 and all(f.input_value() == "" for f in filters.all())
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table .response .response-col_status")
    status.wait_for()
    assert status.inner_text().strip().startswith("200")
    assert number in op.locator(".live-responses-table .response .response-col_description").inner_text()
    # One request, to the server's own /apiserver, with no query: the filters stayed empty.
    assert [r.url for r in sent] == [f"{base}/apiserver/Accounts/{ACCOUNT}/IncomingPhoneNumbers"]
    assert sent[0].headers["authorization"].startswith("Basic ")
    # Restcomm's form starts from its demo account too.
    rc = page.locator("#operations-restcomm-list-incoming-phone-numbers-json")
    rc.locator(".opblock-summary-control").click()
    rc.locator(".try-out__btn").click()
    account = rc.locator('tr[data-param-name="AccountSid"] input')
    assert account.input_value() == accounts.RESTCOMM_DEMO.username
    assert recorder.errors == []
