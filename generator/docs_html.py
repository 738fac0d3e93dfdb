"""HTML for the docs page: the Jinja environment, Markdown, and text that is safe to inline.

The page's templates, CSS and JavaScript live in `docs_templates/` (package data). Every
template autoescapes; the few strings that must not be escaped (inlined CSS, scripts, JSON,
rendered Markdown) pass through the filters below, which make them safe for where they go.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent / "docs_templates"

# CommonMark plus tables. Raw HTML in a description is shown as text, and images are off:
# the page must never load anything, and an image would be fetched as soon as it renders.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def markdown(text: str) -> Markup:
    """A description (CommonMark) as HTML; raw HTML in it is escaped, links are kept."""
    return Markup(_MARKDOWN.render(text))


def markdown_inline(text: str) -> Markup:
    """One line of CommonMark (a summary) as HTML, without a surrounding paragraph."""
    return Markup(_MARKDOWN.renderInline(text))


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can end or open a tag."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_SCRIPT_TOKENS = re.compile(r"<!--|-->|<script(?=[\s/>])", re.IGNORECASE)


def script_text(js: str) -> str:
    """JavaScript made safe to inline in <script>: '</script' cannot end the element early.

    '</script' becomes '<\\/script' (the same text in strings, regexes and comments). An HTML
    parser that meets '<!--' and then '<script' without '-->' would swallow our own closing
    tag; that case is refused rather than silently producing a broken page.
    """
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    state = "data"
    for token in _SCRIPT_TOKENS.finditer(js):
        text = token.group(0)
        if text == "-->":
            state = "data"
        elif text == "<!--" and state == "data":
            state = "escaped"
        elif text.lower().startswith("<script") and state == "escaped":
            state = "double-escaped"
    if state == "double-escaped":
        raise ValueError("this script cannot be inlined safely: '<!--' then '<script' is left open")
    return js


def style_text(css: str) -> str:
    return re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)


def path_segments(path: str) -> list[str]:
    """'/a/{b}' -> ['/a', '/{b}']: the only places a path may wrap are before its slashes."""
    return [segment for segment in re.split(r"(?=/)", path) if segment]


def _swagger_folder() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; it ships the Swagger UI assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def swagger_assets() -> tuple[str, str, str]:
    """(css, js, version label) of the installed Swagger UI."""
    folder = _swagger_folder()
    css = (folder / "swagger-ui.css").read_text(encoding="utf-8")
    js = (folder / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    # Source-map comments would make developer tools fetch files that are not there.
    css = re.sub(r"/\*#\s*sourceMappingURL=[^*]*\*/", "", css)
    js = re.sub(r"//[#@]\s*sourceMappingURL=\S*\s*$", "", js)
    try:
        version = f"swagger-ui-py {metadata.version('swagger-ui-py')}"
    except metadata.PackageNotFoundError:
        version = "swagger-ui-py"
    return css, js, version


def asset(name: str) -> str:
    """One of our own files beside the templates (page.css, page.js)."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        markdown=markdown, markdown_inline=markdown_inline, path_segments=path_segments,
        script=lambda js: Markup(script_text(js)), style=lambda css: Markup(style_text(css)),
        script_json=lambda value: Markup(json_for_script(value)))
    env.globals.update(asset=asset)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
