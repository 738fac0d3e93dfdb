"""The contract as browsable documentation: one self-contained HTML page.

`build_html()` turns a bundled document into a single HTML file that works from file:// with
no network at all: the page is rendered from the Jinja templates in `docs_templates/`, Swagger
UI's CSS and JS (from the installed swagger-ui-py package) and our own page.css/page.js are
inlined, and the document is embedded as JSON (see docs_html). Each provider (an operation tag)
gets its own Swagger UI instance fed a filtered copy of the document (see docs_split). A table
of equivalent operations and fields is generated from two vendor extensions,
`x-numspec-equivalent` on operations and `x-numspec-concept` on properties and parameters
(see docs_equivalents).

`docs_app()` serves the same page as an ASGI app whose "Try it out" targets the server that
mounts it; `main()` implements `numspec docs [serve|build]`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from numspec.generator import docs_html, specload
from numspec.generator.docs_equivalents import CONCEPT_KEY, EQUIVALENT_KEY, equivalents
from numspec.generator.docs_split import (
    Document,
    iter_operations,
    provider_document,
    try_it_defaults,
)
from numspec.generator.specload import HTTP_METHODS

if TYPE_CHECKING:
    from starlette.applications import Starlette


# ---------------------------------------------------------------------------------------------
# Reading the document


@dataclass(frozen=True)
class Provider:
    """One operation tag, shown as its own section."""

    tag: str
    title: str


def providers(document: Document) -> list[Provider]:
    """Tags that carry operations: declared tags first, in their order, then undeclared ones."""
    used: list[str] = []
    for _, _, _, op in iter_operations(document):
        for tag in op.get("tags") or []:
            if tag not in used:
                used.append(tag)
    declared = {t["name"]: t for t in document.get("tags") or [] if isinstance(t, dict) and "name" in t}
    ordered = [name for name in declared if name in used] + [t for t in used if t not in declared]
    result = []
    for name in ordered:
        meta = declared.get(name, {})
        result.append(Provider(name, str(meta.get("x-displayName") or name)))
    return result


# ---------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class Scheme:
    kind: str  # e.g. "HTTP Basic"
    name: str
    description: str  # CommonMark


@dataclass(frozen=True)
class AuthCard:
    """One provider's box in the Authentication section."""

    title: str
    schemes: list[Scheme]
    account: str | None  # the account "Try it out" starts with, when a server said so


def auth_cards(document: Document, provs: list[Provider],
               accounts: Mapping[str, str] | None = None) -> list[AuthCard]:
    """The security schemes each provider's operations require, in first-use order."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    cards = []
    for prov in provs:
        names: list[str] = []
        for _, _, _, op in iter_operations(document):
            if prov.tag in (op.get("tags") or []):
                for requirement in op.get("security", document.get("security")) or []:
                    names.extend(n for n in requirement if n not in names)
        found = []
        for name in names:
            scheme = schemes.get(name) or {}
            kind = str(scheme.get("type", "?"))
            if kind == "http":
                kind = f"HTTP {str(scheme.get('scheme', '')).capitalize()}"
            found.append(Scheme(kind, name, str(scheme.get("description") or "")))
        cards.append(AuthCard(prov.title, found, (accounts or {}).get(prov.tag)))
    return cards


def equivalents_html(document: Document, provs: list[Provider]) -> str:
    """The mapping tables, or a note saying the annotations are missing."""
    return docs_html.render("equivalents.html.jinja", eq=equivalents(document), providers=provs,
                            equivalent_key=EQUIVALENT_KEY, concept_key=CONCEPT_KEY)


def ui_options(try_it: bool) -> dict[str, Any]:
    """Options shared by every Swagger UI instance on the page."""
    return {
        "layout": "BaseLayout",
        "deepLinking": False,
        "docExpansion": "list",
        "defaultModelsExpandDepth": 0,
        "displayOperationId": True,
        "displayRequestDuration": True,
        "showExtensions": False,
        "showCommonExtensions": True,
        "tryItOutEnabled": False,
        "validatorUrl": None,
        "queryConfigEnabled": False,
        "persistAuthorization": False,
        "supportedSubmitMethods": list(HTTP_METHODS) if try_it else [],
        "syntaxHighlight": {"activated": True, "theme": "agate"},
    }


def build_html(document: Document, try_it_base: str | None = None,
               accounts: Mapping[str, str] | None = None) -> str:
    """One self-contained HTML page documenting `document`, one section per provider.

    With `try_it_base` None the page is for reading only ("Try it out" and Authorize are off:
    from a file every request would be cross-origin, and buying a number costs money).
    Otherwise requests go to each server's path on `try_it_base` ("" = the host serving the
    page), and the account parameter starts as `accounts[tag]` (say, the server's demo account).
    """
    css, js, swagger_version = docs_html.swagger_assets()
    provs = providers(document)
    try_it = try_it_base is not None
    documents = []
    for prov in provs:
        doc = provider_document(document, prov.tag, try_it_base)
        if try_it:
            try_it_defaults(doc, (accounts or {}).get(prov.tag))
        documents.append({"tag": prov.tag, "title": prov.title, "document": doc})
    info = document.get("info") or {}
    return docs_html.render(
        "page.html.jinja", title=str(info.get("title") or "API documentation"),
        version=str(info.get("version") or ""), summary=str(info.get("summary") or ""),
        about=str(info.get("description") or ""), try_it=try_it, providers=provs,
        cards=auth_cards(document, provs, accounts if try_it else None),
        eq=equivalents(document), equivalent_key=EQUIVALENT_KEY, concept_key=CONCEPT_KEY,
        swagger_css=css, swagger_js=js, swagger_version=swagger_version,
        # numspec serve's /_numspec endpoints, only on a page of the contract it emulates
        network=any(p.tag in ("freeclimb", "restcomm") for p in provs),
        data={"options": ui_options(try_it), "tryIt": try_it, "providers": documents,
              "contract": document})


# ---------------------------------------------------------------------------------------------
# Serving and writing


def docs_app(document: Document, try_it_base: str = "",
             accounts: Mapping[str, str] | None = None) -> Starlette:
    """An ASGI app serving the page at its root, with "Try it out" aimed at `try_it_base`.

    Mount it where the emulator serves both providers, e.g. `app.mount("/docs", docs_app(doc))`;
    the default base "" turns https://www.freeclimb.com/apiserver into /apiserver and
    https://{host}/restcomm into /restcomm, so requests reach the mounting server on any port.
    `accounts` maps a provider tag to the account "Try it out" fills in (one the server has).
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    page = build_html(document, try_it_base, accounts).encode("utf-8")
    contract = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def openapi(request: Request) -> Response:
        return Response(contract, media_type="application/json")

    return Starlette(routes=[Route("/", index, methods=["GET", "HEAD"]),
                             Route("/openapi.json", openapi, methods=["GET", "HEAD"])])


def write_atomic(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_server(host: str, port: int, page: bytes) -> ThreadingHTTPServer:
    """A stdlib HTTP server answering GET / (and /index.html) with `page`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def _answer(self, with_body: bool) -> None:
            if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if with_body:
                self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    return Server((host, port), Handler)


def main(args: argparse.Namespace) -> int:
    document = specload.load(args.spec).document
    page = build_html(document).encode("utf-8")
    if args.action == "build":
        out = Path(args.out)
        if out.is_dir():
            print(f"error: --out {out} is a folder; name the HTML file to write", file=sys.stderr)
            return 1
        try:
            write_atomic(out, page)
        except OSError as exc:
            print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {out} ({len(page):,} bytes)")
        return 0
    try:
        server = make_server(args.host, args.port, page)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving the docs on http://{shown}:{server.server_address[1]}/ (Ctrl-C to stop)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
