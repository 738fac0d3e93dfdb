"""numspec.generator.docs without a browser: embedding, filtering, equivalents, `numspec docs` on loopback."""

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
from numspec.generator import docs, specload

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
    assert docs.script_text('x="</SCRIPT>"') == 'x="<\\/SCRIPT>"'
    assert docs.script_text("a='<!--';b='<script>';c='-->'") == "a='<!--';b='<script>';c='-->'"
    with pytest.raises(ValueError):
        docs.script_text("a='<!--';b='<script>'")


def test_page_loads_nothing_from_the_network(document: dict[str, Any]) -> None:
    page = docs.build_html(document)
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref=\"(?!data:)", page, re.IGNORECASE)
    assert "sourceMappingURL" not in page
    assert "SwaggerUIBundle" in page and ".swagger-ui" in page  # assets are inlined


def test_provider_documents_split_the_contract(document: dict[str, Any]) -> None:
    for prov in docs.providers(document):
        doc = docs.provider_document(document, prov.tag)
        ops = list(docs.iter_operations(doc))
        assert ops and all(prov.tag in op["tags"] for _, _, _, op in ops)
        expected = sum(prov.tag in (op.get("tags") or [])
                       for _, _, _, op in docs.iter_operations(document))
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
    a = docs.provider_document(doc, "a")
    assert list(a["paths"]) == ["/a"]
    assert a["components"] == {"schemas": {"Used": {"type": "string"},
                                           "Deep": doc["components"]["schemas"]["Deep"]},
                               "securitySchemes": {"basicA": {"type": "http", "scheme": "basic"}}}
    assert a["servers"] == [{"url": "https://a.example/base"}]
    assert a["info"]["title"] == "Alpha"
    b = docs.provider_document(doc, "b")
    assert "servers" not in b  # /b names no server, so the root's (none) stay
    assert "components" not in b or not b["components"]


def test_try_it_base_moves_servers_and_keeps_their_paths(document: dict[str, Any]) -> None:
    seen: dict[str, set[str]] = {}
    for prov in docs.providers(document):
        doc = docs.provider_document(document, prov.tag, try_it_base="")
        servers = list(doc["servers"])
        for item in doc["paths"].values():
            servers += item.get("servers", [])
            servers += [s for m in docs.HTTP_METHODS for s in item.get(m, {}).get("servers", [])]
        assert servers and all("variables" not in s for s in servers)
        seen[prov.tag] = {s["url"] for s in servers}
    assert seen == {"freeclimb": {"/apiserver"}, "restcomm": {"/restcomm"}}
    assert docs._rebase("https://{host}:8443/x/y", "http://127.0.0.1:9") == "http://127.0.0.1:9/x/y"
    assert docs._rebase("https://example.com", "") == "/"
    assert docs._rebase("/v1", "http://h") == "http://h/v1"


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
    eq = docs.equivalents(doc)
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


def test_markdown_subset_is_escaped() -> None:
    out = docs.markdown_html("A `<b>` and **bold** <i>.\n\n* one\n  more\n* two")
    assert out == ("<p>A <code>&lt;b&gt;</code> and <strong>bold</strong> &lt;i&gt;.</p>\n"
                   "<ul><li>one more</li><li>two</li></ul>")


def test_docs_app_serves_the_try_it_page(document: dict[str, Any]) -> None:
    async def fetch(*paths: str) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=docs.docs_app(document))
        async with httpx.AsyncClient(transport=transport, base_url="http://docs") as client:
            return [await client.get(p) for p in paths]

    page, contract, missing = asyncio.run(fetch("/", "/openapi.json", "/nope"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert embedded_data(page.text)["options"]["supportedSubmitMethods"]
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
