"""numspec.generator.docs without a browser: templates, Markdown, embedding, filtering, equivalents,
"Try it out" defaults, `numspec docs` on loopback."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from numspec.generator import docs, docs_equivalents, docs_html, docs_split, specload

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return specload.load().document


def embedded_data(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="numspec-data">(.*?)</script>', page, re.DOTALL)
    assert match, "the page embeds no data block"
    return json.loads(match.group(1))


def tiny_document(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "tags": [{"name": "a", "x-displayName": "Alpha"}, {"name": "b"}],
        "paths": {
            "/a": {"servers": [{"url": "https://a.example/base"}],
                   "get": {"operationId": "a-get", "tags": ["a"],
                           "responses": {"200": {"description": "ok"}}}},
            "/b": {"get": {"operationId": "b-get", "tags": ["b"],
                           "responses": {"200": {"description": "ok"}}}},
        },
    }
    doc.update(extra)
    return doc


def test_embedded_json_cannot_end_the_script_element() -> None:
    hostile = "</script><script>alert(1)</script><!-- <script> & \u2028"
    doc = tiny_document()
    doc["info"]["description"] = hostile
    doc["paths"]["/a"]["get"]["summary"] = hostile
    page = docs.build_html(doc)
    # Only our own three script elements close; the hostile text stays inside the data.
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == 3
    data = embedded_data(page)
    assert data["contract"]["info"]["description"] == hostile
    assert data["providers"][0]["document"]["paths"]["/a"]["get"]["summary"] == hostile


def test_script_text_escapes_closing_tags_and_refuses_open_double_escape() -> None:
    assert docs_html.script_text('x="</SCRIPT>"') == 'x="<\\/SCRIPT>"'
    assert docs_html.script_text("a='<!--';b='<script>';c='-->'") == "a='<!--';b='<script>';c='-->'"
    with pytest.raises(ValueError):
        docs_html.script_text("a='<!--';b='<script>'")


def test_page_loads_nothing_from_the_network(document: dict[str, Any]) -> None:
    page = docs.build_html(document)
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref=\"(?!data:)", page, re.IGNORECASE)
    assert "sourceMappingURL" not in page
    assert "SwaggerUIBundle" in page and ".swagger-ui" in page  # assets are inlined


def test_provider_documents_split_the_contract(document: dict[str, Any]) -> None:
    for prov in docs.providers(document):
        doc = docs_split.provider_document(document, prov.tag)
        ops = list(docs_split.iter_operations(doc))
        assert ops and all(prov.tag in op["tags"] for _, _, _, op in ops)
        expected = sum(prov.tag in (op.get("tags") or [])
                       for _, _, _, op in docs_split.iter_operations(document))
        assert len(ops) == expected
        # Every $ref still resolves, and unused components are gone.
        text = json.dumps(doc)
        for ref in set(re.findall(r'"\$ref": "#([^"]+)"', text)):
            specload.resolve_pointer(doc, ref)
        assert len(text) < len(json.dumps(document))
        assert doc["tags"] == [t for t in document["tags"] if t["name"] == prov.tag]


def test_filtering_and_pruning_on_a_small_document() -> None:
    doc = tiny_document(components={
        "schemas": {"Used": {"type": "string"}, "Unused": {"type": "integer"},
                    "Deep": {"type": "object", "properties": {"u": {"$ref": "#/components/schemas/Used"}}}},
        "securitySchemes": {"basicA": {"type": "http", "scheme": "basic"},
                            "basicB": {"type": "http", "scheme": "basic"}},
    })
    op = doc["paths"]["/a"]["get"]
    op["security"] = [{"basicA": []}]
    op["responses"]["200"]["content"] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/Deep"}}}
    a = docs_split.provider_document(doc, "a")
    assert list(a["paths"]) == ["/a"]
    assert a["components"] == {"schemas": {"Used": {"type": "string"},
                                           "Deep": doc["components"]["schemas"]["Deep"]},
                               "securitySchemes": {"basicA": {"type": "http", "scheme": "basic"}}}
    assert a["servers"] == [{"url": "https://a.example/base"}]
    assert a["info"]["title"] == "Alpha"
    b = docs_split.provider_document(doc, "b")
    assert "servers" not in b  # /b names no server, so the root's (none) stay
    assert "components" not in b or not b["components"]


def test_try_it_base_moves_servers_and_keeps_their_paths(document: dict[str, Any]) -> None:
    seen: dict[str, set[str]] = {}
    for prov in docs.providers(document):
        doc = docs_split.provider_document(document, prov.tag, try_it_base="")
        servers = list(doc["servers"])
        for item in doc["paths"].values():
            servers += item.get("servers", [])
            servers += [s for m in docs_split.HTTP_METHODS for s in item.get(m, {}).get("servers", [])]
        assert servers and all("variables" not in s for s in servers)
        seen[prov.tag] = {s["url"] for s in servers}
    assert seen == {"freeclimb": {"/apiserver"}, "restcomm": {"/restcomm"}}
    assert docs_split._rebase("https://{host}:8443/x/y", "http://127.0.0.1:9") == "http://127.0.0.1:9/x/y"
    assert docs_split._rebase("https://example.com", "") == "/"
    assert docs_split._rebase("/v1", "http://h") == "http://h/v1"


def test_equivalents_group_operations_and_fields() -> None:
    number = {
        "type": "object",
        "xml": {"name": "Number"},
        "properties": {
            "num": {"type": "string", "x-numspec-concept": "phone-number", "xml": {"name": "Num"}},
            "caps": {"type": "object", "properties": {
                "voice": {"type": "boolean", "x-numspec-concept": "capabilities.voice"}}},
            "parent": {"$ref": "#/components/schemas/Number"},  # recursion must stop
            "when": {"$ref": "#/components/schemas/Date", "x-numspec-concept": "created"},
        },
    }
    doc = tiny_document(components={
        "schemas": {
            "Number": number,
            "Date": {"type": "string"},
            "Page": {"type": "object", "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Number"}}}},
        },
        "parameters": {"Num": {"name": "Num", "in": "query", "schema": {"type": "string"},
                               "x-numspec-concept": "phone-number"}},
    })
    doc["paths"]["/a"]["get"].update({
        "x-numspec-equivalent": "list",
        "parameters": [{"$ref": "#/components/parameters/Num"}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Page"}}}}},
    })
    doc["paths"]["/a"]["post"] = {
        "operationId": "a-get-one", "tags": ["a"], "x-numspec-equivalent": "get",
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"number": {"type": "string",
                                                        "x-numspec-concept": "phone-number"}}}}}},
        "responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Number"}}}}},
    }
    doc["paths"]["/b"]["get"]["x-numspec-equivalent"] = "list"
    eq = docs_equivalents.equivalents(doc)
    assert list(eq.operations) == ["list", "get"]
    assert [o.operation_id for o in eq.operations["list"]["a"]] == ["a-get"]
    assert [o.operation_id for o in eq.operations["list"]["b"]] == ["b-get"]
    assert "b" not in eq.operations["get"]
    uses = {(u.name, u.xml_name, frozenset(u.roles)) for u in eq.fields["phone-number"]["a"]}
    assert uses == {("Num", None, frozenset({"query"})),
                    ("num", "Num", frozenset({"response"})),  # shortest route, not items[].num
                    ("number", None, frozenset({"request"}))}
    assert [u.name for u in eq.fields["capabilities.voice"]["a"]] == ["caps.voice"]
    assert [u.name for u in eq.fields["created"]["a"]] == ["when"]
    table = docs.equivalents_html(doc, docs.providers(doc))
    assert 'data-op="a-get"' in table and 'data-op="b-get"' in table
    assert "<th>Alpha</th><th>b</th>" in table


def test_equivalents_without_annotations_say_so() -> None:
    text = docs.equivalents_html(tiny_document(), docs.providers(tiny_document()))
    assert "no such annotations" in text and "<table" not in text


MARKDOWN = """See [the guide](https://example.com/guide) first.

1. one
   * nested `a<b`
2. two

| Field | Meaning |
|-------|---------|
| **x** | the x   |

<script>alert(1)</script> and <b>bold?</b> ![logo](https://example.com/logo.png)
"""


def test_descriptions_render_as_commonmark_with_raw_html_escaped() -> None:
    out = str(docs_html.markdown(MARKDOWN))
    assert '<a href="https://example.com/guide">the guide</a>' in out
    assert re.search(r"<ol>\s*<li>one\s*<ul>\s*<li>nested <code>a&lt;b</code></li>\s*</ul>", out)
    assert re.search(r"<table>.*<th>Field</th>.*<td><strong>x</strong></td>", out, re.DOTALL)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;b&gt;bold?&lt;/b&gt;" in out
    assert "<script" not in out and "<b>" not in out
    assert "<img" not in out  # an image would be fetched: the page must load nothing
    assert str(docs_html.markdown_inline("A `<b>` and **bold**")) == (
        "A <code>&lt;b&gt;</code> and <strong>bold</strong>")


def test_page_escapes_every_contract_text_it_shows() -> None:
    doc = tiny_document()
    doc["info"].update(title="T <script>x</script>", summary="<script>s</script>",
                       description=MARKDOWN)
    doc["tags"][0]["x-displayName"] = '"><script>t</script>'
    doc["components"] = {"securitySchemes": {"<i>k</i>": {
        "type": "http", "scheme": "basic", "description": "<script>d</script>"}}}
    doc["paths"]["/a"]["get"]["security"] = [{"<i>k</i>": []}]
    page = docs.build_html(doc)
    # Outside our own three script elements no tag opens: everything the contract said is text.
    outside, count = re.subn(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)
    assert count == 3 and "<script" not in outside.lower()
    assert "<title>T &lt;script&gt;x&lt;/script&gt;</title>" in page
    assert '<p class="lead">&lt;script&gt;s&lt;/script&gt;</p>' in page
    assert '<a href="https://example.com/guide">the guide</a>' in page  # Markdown still renders
    assert "&lt;script&gt;d&lt;/script&gt;" in page and "<code>&lt;i&gt;k&lt;/i&gt;</code>" in page
    assert 'data-view="a">&#34;&gt;&lt;script&gt;t&lt;/script&gt;</button>' in page


def test_equivalents_paths_wrap_only_before_a_slash() -> None:
    assert docs_html.path_segments("/2012-04-24/Accounts/{AccountSid}.json") == [
        "/2012-04-24", "/Accounts", "/{AccountSid}.json"]
    doc = tiny_document()
    doc["paths"]["/a"]["get"]["x-numspec-equivalent"] = "list"
    table = docs.equivalents_html(doc, docs.providers(doc))
    assert '<code class="path"><span>/a</span></code>' in table
    doc["paths"] = {"/x-1/y": doc["paths"]["/a"]}
    table = docs.equivalents_html(doc, docs.providers(doc))
    assert '<code class="path"><span>/x-1</span><wbr><span>/y</span></code>' in table


def test_try_it_starts_with_the_servers_account_and_no_filters(document: dict[str, Any]) -> None:
    demo = {"freeclimb": "AC" + "1" * 40, "restcomm": "AC" + "2" * 32}
    page = docs.build_html(document, "", demo)
    data = embedded_data(page)
    assert data["tryIt"] is True
    for prov in data["providers"]:
        doc = prov["document"]
        params = list(doc["components"]["parameters"].values())
        for item in doc["paths"].values():
            params += [p for m in docs_split.HTTP_METHODS for p in item.get(m, {}).get("parameters", [])]
        params = [p for p in params if "$ref" not in p]
        account = [p for p in params if p.get("x-numspec-account")]
        assert account and all(p["example"] == demo[prov["tag"]] for p in account)
        query = [p for p in params if p["in"] == "query"]
        assert query and not any("example" in p or "examples" in p for p in query)
    # The example stays readable: it moved into the description.
    listing = data["providers"][0]["document"]["paths"]["/Accounts/{accountId}/IncomingPhoneNumbers"]
    phone = next(p for p in listing["get"]["parameters"] if p.get("name") == "phoneNumber")
    assert phone["description"].endswith("Example: `^\\+1312`")
    assert "“Try it out” starts with the demo account <code>" + demo["restcomm"] in page
    # The contract itself is untouched, and the read-only page keeps its examples.
    assert data["contract"] == document
    read_only = embedded_data(docs.build_html(document))
    assert read_only["tryIt"] is False
    fc = read_only["providers"][0]["document"]
    assert fc["components"]["parameters"]["AccountId"]["example"].startswith("AC6910")


def test_docs_app_serves_the_try_it_page(document: dict[str, Any]) -> None:
    async def fetch(*paths: str) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=docs.docs_app(document))
        async with httpx.AsyncClient(transport=transport, base_url="http://docs") as client:
            return [await client.get(p) for p in paths]

    page, contract, missing = asyncio.run(fetch("/", "/openapi.json", "/nope"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert embedded_data(page.text)["options"]["supportedSubmitMethods"]
    assert embedded_data(page.text)["tryIt"] is True
    assert contract.json() == document
    assert missing.status_code == 404


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numspec.generator.cli", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)


def test_build_writes_one_file_atomically(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "docs.html"
    out.parent.mkdir()  # --out creates no folders (a typo must not)
    result = run_cli("docs", "build", "--out", str(out))
    assert result.returncode == 0, result.stderr
    size = out.stat().st_size
    assert result.stdout.strip() == f"wrote {out} ({size:,} bytes)"
    assert [p.name for p in out.parent.iterdir()] == ["docs.html"]  # no temp file left
    assert embedded_data(out.read_text(encoding="utf-8"))["options"]["supportedSubmitMethods"] == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal gives it. Background jobs and some CI runners start
    us with SIGINT ignored, which Python (and so the child) would inherit and keep."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_serve_answers_on_loopback_and_stops_cleanly_on_ctrl_c() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "numspec.generator.cli", "docs", "serve", "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)  # noqa: PLW1509
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == f"serving the docs on http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        assert response.status == 200 and "numspec-data" in body
        conn.request("GET", "/elsewhere")
        other = conn.getresponse()
        other.read()
        assert other.status == 404
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:  # whatever failed above, the server does not outlive the test
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "Traceback" not in err and "stopped" in out


def test_serve_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("docs", "serve", "--port", str(port))
    assert result.returncode == 1 and "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr
