"""From a bundled OpenAPI document to the few facts the templates need (the "parser" layer).

Operations are grouped into providers by their first tag. Two operations that differ only by a
`.json` suffix on the last path segment (Twilio-style format suffix) become one logical
operation with two routes: the suffixed one always speaks JSON, the bare one negotiates.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from numspec.generator.specload import HTTP_METHODS, escape, pointer_join, resolve_pointer, unescape
from pydantic import BaseModel

SCHEMAS = "#/components/schemas/"
# OpenAPI: header parameters with these names "SHALL be ignored" (the transport owns them).
IGNORED_HEADERS = ("accept", "content-type", "authorization")
# Names a generated method already uses for itself.
RESERVED = ("self", "body", "format")
# What pydantic's BaseModel defines (`json`, `copy`, `schema`, `construct`, ...): the stubs'
# Params models may not use them as field names.
MODEL_ATTRIBUTES = frozenset(name for name in dir(BaseModel) if not name.startswith("_"))
# Modules of the output's top level, which a provider package may not shadow.
RESERVED_PACKAGES = ("runtime", "serving", "models")
JSON = "application/json"
XML = "application/xml"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


class UnsupportedSpec(Exception):
    """The document uses something the generator cannot express; the message says what,
    `pointer` (a JSON pointer into the bundled document, when known) says where."""

    def __init__(self, message: str, pointer: str = ""):
        super().__init__(message)
        self.pointer = pointer


@dataclass
class Skip:
    """An operation left out of the output, and why (printed as one line)."""

    method: str
    path: str
    operation_id: str
    reason: str
    pointer: str

    def __str__(self) -> str:
        named = f" ({self.operation_id})" if self.operation_id else ""
        return f"skipped {self.method.upper()} {self.path}{named}: {self.reason}"


@dataclass
class Param:
    name: str           # on the wire
    py_name: str        # in Python
    location: str       # path | query | header | cookie
    required: bool
    annotation: str     # Python type
    constraints: dict[str, Any]
    default: Any
    has_default: bool
    description: str
    is_account: bool    # bound once in the client, checked against the auth user
    style: str = "form"     # OpenAPI serialisation style (defaults per location)
    explode: bool = True
    shape: str = "scalar"   # scalar | array | object: what style/explode act on
    properties: tuple[str, ...] = ()  # an object's property names (form-exploded objects)

    @property
    def wire(self) -> tuple[str, str, str, bool, str, tuple[str, ...]]:
        """What runtime.py needs to put this parameter on the wire or read it back."""
        return (self.name, self.location, self.style, self.explode, self.shape, self.properties)


# Where each location's parameters are serialised by default (OpenAPI 3.1, "style").
DEFAULT_STYLES = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
STYLES = {
    "path": ("simple", "label", "matrix"),
    "query": ("form", "spaceDelimited", "pipeDelimited", "deepObject"),
    "header": ("simple",),
    "cookie": ("form",),
}


@dataclass
class Scheme:
    """One security scheme as the wire sees it."""

    name: str           # component name
    kind: str           # basic | bearer | apikey
    location: str       # header | query | cookie (apikey); header for basic/bearer
    wire_name: str      # the header, query or cookie name that carries it
    args: tuple[str, ...] = ()   # the client constructor's argument names for it

    @property
    def how(self) -> str:
        """basic | bearer | header | query | cookie: how runtime.sign sends it."""
        return self.location if self.kind == "apikey" else self.kind


@dataclass
class FileField:
    name: str           # the multipart part's name
    py_name: str
    many: bool          # an array of files
    required: bool


@dataclass
class Body:
    media_type: str
    model: str          # model class; "" when the body is bytes/str or only files
    required: bool
    not_null: tuple[str, ...] = ()  # optional properties a client may not send as null
    kind: str = "json"  # json | form | multipart | xml | text | bytes
    files: list[FileField] = field(default_factory=list)
    encoding: dict[str, tuple[str, bool]] = field(default_factory=dict)  # form field styles
    json_object: bool = True  # the stub refuses a JSON body that is not an object

    @property
    def annotation(self) -> str:
        """What the client method takes as `body` (files are separate arguments)."""
        if self.model:
            return f"models.{self.model}"
        return {"text": "str", "bytes": "bytes"}.get(self.kind, "")


def body_kind(media: str) -> str:
    if is_json(media):
        return "json"
    media = media.split(";")[0].strip().lower()
    if media == FORM:
        return "form"
    if media == MULTIPART or media.endswith("/form-data"):  # Mastodon's application/form-data
        return "multipart"
    if media in (XML, "text/xml") or media.endswith("+xml"):
        return "xml"
    if media.startswith("text/"):
        return "text"
    return "bytes"


# Which request media type an operation with several is generated for (README: "Request bodies").
BODY_PREFERENCE = ("json", "form", "multipart", "xml", "text", "bytes")


@dataclass
class Reply:
    status: int
    media_types: list[str]            # in declared order; the first is the default
    models: dict[str, str | None]     # media type -> model class (None: plain text / no schema)
    envelopes: dict[str, str]         # media type -> property that wraps the JSON model in XML
    xml_shapes: dict[str, str]        # media type -> name of the XML shape in wire.py


@dataclass
class Route:
    path: str
    fixed_media: str | None           # the suffixed twin always answers with this


@dataclass
class Operation:
    operation_id: str
    name: str
    method: str
    routes: list[Route]
    params: list[Param]
    body: Body | None
    success: Reply
    errors: list[Reply]
    summary: str
    paging: Paging | None = None
    # Alternatives of scheme names (any one list, all of its schemes); [] means no auth,
    # an empty list among them means auth is optional.
    security: list[list[str]] = field(default_factory=list)

    @property
    def needs_auth(self) -> bool:
        return bool(self.security) and all(self.security)

    @property
    def security_tuple(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(names) for names in self.security)

    @property
    def path(self) -> str:
        """The JSON-speaking route when there is one (what the client calls by default)."""
        for route in self.routes:
            if route.fixed_media == JSON:
                return route.path
        return self.routes[0].path

    @property
    def bare_path(self) -> str:
        return self.routes[-1].path

    @property
    def negotiates(self) -> bool:
        return len(self.success.media_types) > 1

    @property
    def path_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "path"]

    @property
    def query_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "query"]

    @property
    def header_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "header"]

    @property
    def cookie_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "cookie"]

    @property
    def keyword_params(self) -> list[Param]:
        """What a client method takes after `*`: query, header, then cookie parameters."""
        return self.query_params + self.header_params + self.cookie_params

    @property
    def pascal(self) -> str:
        return pascal(self.operation_id)


@dataclass
class Paging:
    items_key: str          # wire key of the array
    item_model: str
    next_key: str           # wire key of the next-page link
    page_param: Param | None  # when set, iterate by page number (filters survive)

    @property
    def page_name(self) -> str:
        return self.page_param.name if self.page_param else ""

    @property
    def first_page(self) -> int:
        """Where page numbers start: the parameter's default, else its minimum (0 or 1)."""
        param = self.page_param
        if param is not None and param.has_default and isinstance(param.default, int):
            return param.default
        return int(param.constraints.get("ge", 0)) if param is not None else 0


@dataclass
class Webhook:
    """One event of the document's `webhooks`: what a receiver accepts and answers.

    Its methods (`kinds`) share one payload model; a GET carries the payload as a form-exploded
    object query parameter, a POST (or PUT, ...) as a JSON or form body."""

    key: str                  # the document's name for it
    event: str                # the key without a leading "<tag>-"
    name: str                 # the handler method's name
    operation_ids: list[str]
    model: str                # payload model class
    kinds: dict[str, str]     # method -> json | form | query
    headers: list[Param]      # declared header parameters, the signature's included
    signature: Param | None   # the header that carries a timestamped HMAC-SHA256 signature
    reply: Reply
    reply_kind: str           # none | json | xml | text
    reply_schema: Any         # the reply's schema as written (for the builders)
    summary: str

    @property
    def pascal(self) -> str:
        return pascal(self.name)

    @property
    def default_path(self) -> str:
        return "/" + self.name.strip("_").replace("_", "-")


# The values of `x-numspec-signature` a receiver can check (on a header parameter).
SIGNATURE_KINDS = ("timestamped-hmac-sha256",)


@dataclass
class Provider:
    tag: str
    package: str
    prefix: str
    description: str
    base_url: str
    operations: list[Operation] = field(default_factory=list)
    webhooks: list[Webhook] = field(default_factory=list)
    schema_names: set[str] = field(default_factory=set)
    xml_shapes: dict[str, Any] = field(default_factory=dict)
    schemes: dict[str, Scheme] = field(default_factory=dict)  # those its operations use
    server_template: str = ""                      # servers[0].url before substitution
    server_variables: dict[str, str] = field(default_factory=dict)  # name -> default

    @property
    def basic_only(self) -> bool:
        """One HTTP Basic scheme and nothing else: stubs hand over (user, password) as is."""
        return [s.kind for s in self.schemes.values()] == ["basic"]

    @property
    def auth_required(self) -> bool:
        """One scheme every operation needs: the client takes its credentials positionally."""
        return len(self.schemes) == 1 and all(op.needs_auth for op in self.operations)

    @property
    def needs_authenticate(self) -> bool:
        return any(op.security for op in self.operations)

    @property
    def base_path(self) -> str:
        """The path part of the default server URL: where the stubs are mounted."""
        return urlsplit(self.base_url).path.rstrip("/") if "://" in self.base_url else self.base_url

    @property
    def credential_args(self) -> list[str]:
        return [arg for scheme in self.schemes.values() for arg in scheme.args]

    @property
    def account_param(self) -> Param | None:
        for op in self.operations:
            for p in op.params:
                if p.is_account:
                    return p
        return None


def snake(name: str) -> str:
    name = re.sub(r"[^0-9A-Za-z]+", "_", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = name.strip("_").lower() or "value"
    if name[0].isdigit():
        name = "n_" + name
    return name + "_" if keyword.iskeyword(name) else name


def param_name(name: str) -> str:
    """A parameter's Python name; Twilio's range filters `StartTime<` and `StartTime>` (next
    to `StartTime`) become `start_time_before` and `start_time_after`, as its SDKs call them."""
    name = re.sub(r"<=?$", "_before", re.sub(r">=?$", "_after", str(name)))
    return snake(name)


def pascal(name: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else "N" + out


def class_names(names: list[str], taken: set[str] | None = None) -> dict[str, str]:
    """A Python class name for each schema name: unique, a valid identifier, and one that
    datamodel-code-generator keeps as it is (`api.v2010.account` would become a module
    `api/v2010` there, `pet` would become `Pet`)."""
    used = set(taken or ()) | set(DCG_NAMES)
    out: dict[str, str] = {}
    # Names that are already class names keep them; the others fit around them.
    for name in sorted(names, key=lambda n: (not CLASS_NAME.fullmatch(n), n)):
        base = name if CLASS_NAME.fullmatch(name) else pascal(name)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}{n}"
        used.add(candidate)
        out[name] = candidate
    return out


CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
# What models.py imports (or datamodel-code-generator renames): a schema may not take them.
DCG_NAMES = frozenset({
    "Annotated", "Any", "AnyUrl", "AwareDatetime", "BaseModel", "ConfigDict", "Decimal",
    "Enum", "Field", "IPv4Address", "IPv6Address", "Literal", "NaiveDatetime", "Optional",
    "RootModel", "UUID", "Union", "EmailStr", "Base64Str", "StrictBool", "StrictStr",
    "StrictInt", "StrictFloat", "IntEnum", "Path", "List", "Dict", "Model",
})


class Parser:
    def __init__(self, document: dict[str, Any]):
        self.doc = document
        components = document.get("components")
        schemas = components.get("schemas") if isinstance(components, dict) else None
        self.schemas: dict[str, Any] = schemas if isinstance(schemas, dict) else {}
        self.classes = class_names(list(self.schemas))   # component name -> class name
        self.by_class = {cls: name for name, cls in self.classes.items()}
        self.hoisted: dict[str, Any] = {}   # class name -> inline schema given that name
        self.skipped: list[Skip] = []
        self.total = 0                      # operations in the document

    # -- helpers -------------------------------------------------------------
    def deref(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#"):
                raise UnsupportedSpec(f"external $ref {ref!r}: bundle the document first")
            try:
                node = resolve_pointer(self.doc, ref[1:])
            except KeyError:
                raise UnsupportedSpec(f"dangling $ref {ref!r}") from None
            seen += 1
            if seen > 50:
                raise UnsupportedSpec(f"$ref loop at {ref!r}")
        return node

    def schema_name(self, schema: Any, fallback: str) -> str:
        """Class name of a body or reply schema: a component's own, or (an inline schema or
        a $ref into part of one) a new one from `fallback`."""
        target = component_of(schema.get("$ref") if isinstance(schema, dict) else None)
        if target is not None and target in self.schemas:
            return self.classes[target]
        if isinstance(schema, dict) and "$ref" in schema:
            self.deref(schema)  # a dangling $ref stops the operation here, not in DCG
        return self.hoist(fallback, schema)

    def hoist(self, fallback: str, schema: Any) -> str:
        base = pascal(fallback)
        for cls, existing in self.hoisted.items():
            if existing is schema and cls.startswith(base):
                return cls
        name, n = base, 1
        while name in self.by_class or name in self.hoisted or name in DCG_NAMES:
            n += 1
            name = f"{base}{n}"
        self.hoisted[name] = schema
        return name

    def merged(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """A schema with $ref followed and allOf members merged (enough to read properties)."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > 20:
            return {}
        out = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema.get("allOf", []):
            sub = self.merged(part, depth + 1)
            out.setdefault("properties", {})
            out["properties"] = {**out["properties"], **sub.get("properties", {})}
            out["required"] = list(out.get("required", [])) + list(sub.get("required", []))
            for key in ("type", "xml"):
                if key in sub and key not in out:
                    out[key] = sub[key]
        return out

    def allows_null(self, schema: Any) -> bool:
        resolved = self.deref(schema)
        if not isinstance(resolved, dict):
            return True
        kind = resolved.get("type")
        if kind is None and not any(k in resolved for k in ("oneOf", "anyOf", "allOf", "enum", "const")):
            return True  # an unconstrained schema takes anything, null included
        if kind == "null" or (isinstance(kind, list) and "null" in kind):
            return True
        if None in resolved.get("enum", []):
            return True
        options = resolved.get("oneOf", []) + resolved.get("anyOf", [])
        return any(self.allows_null(option) for option in options)

    # -- parameters ----------------------------------------------------------
    def param(self, raw: Any, where: str) -> Param:
        p = self.deref(raw)
        location = p.get("in")
        label = f"{where} parameter {p.get('name')!r}"
        if location not in STYLES:
            raise UnsupportedSpec(f"{label}: parameters in {location!r} are not supported")
        style = str(p.get("style", DEFAULT_STYLES[location]))
        if style not in STYLES[location]:
            raise UnsupportedSpec(f"{label}: style {style!r} is not defined for {location} parameters")
        explode = bool(p.get("explode", style == "form"))
        properties: tuple[str, ...] = ()
        if "schema" not in p and isinstance(p.get("content"), dict) and p["content"]:
            # `content` instead of `schema`: the value travels as one JSON text.
            schema: dict[str, Any] = {}
            annotation, constraints, shape = "Any", {}, "json"
        else:
            schema = self.merged(p.get("schema", {}))
            shape = {"array": "array", "object": "object"}.get(json_type(schema), "scalar")
            deep = style == "deepObject"  # nested brackets, whatever the value (as Stripe uses it)
            if deep and any(k in schema for k in ("oneOf", "anyOf")):
                annotation, constraints = "Any", {}  # e.g. an object of bounds or one number
            elif shape == "array":
                items = self.merged(schema.get("items", {}))
                if deep and json_type(items) in ("object", "array"):
                    item_type = "Any"
                else:
                    item_type, _ = scalar_type(items, f"{label} items")
                annotation, constraints = f"list[{item_type}]", {}
            elif shape == "object":
                properties = tuple(schema.get("properties", {}))
                annotation, constraints = "dict[str, Any]", {}
            else:
                annotation, constraints = scalar_type(schema, label)
        required = bool(p.get("required", False)) or location == "path"
        return Param(
            name=p["name"], py_name=param_name(p["name"]), location=location, required=required,
            annotation=annotation, constraints=constraints,
            default=sound_default(schema), has_default="default" in schema and shape == "scalar"
            and sound_default(schema) is not None,
            description=" ".join(str(p.get("description", "")).split()),
            is_account=bool(p.get("x-numspec-account", False)),
            style=style, explode=explode, shape=shape, properties=properties,
        )

    # -- security ------------------------------------------------------------
    def scheme(self, name: str, where: str) -> Scheme | None:
        """A security scheme by component name; None for those HTTP cannot carry (mutualTLS)."""
        raw = self.doc.get("components", {}).get("securitySchemes", {}).get(name)
        if raw is None:
            raise UnsupportedSpec(f"{where}: security scheme {name!r} is not defined")
        raw = self.deref(raw)
        kind = raw.get("type")
        if kind == "http":
            scheme = str(raw.get("scheme", "")).lower()
            if scheme == "basic":
                return Scheme(name, "basic", "header", "Authorization")
            return Scheme(name, "bearer", "header", "Authorization")  # bearer and kin: a token
        if kind == "apiKey":
            location = raw.get("in")
            if location not in ("header", "query", "cookie") or not raw.get("name"):
                raise UnsupportedSpec(f"{where}: apiKey scheme {name!r} needs `in` and `name`")
            return Scheme(name, "apikey", location, str(raw["name"]))
        if kind in ("oauth2", "openIdConnect"):
            return Scheme(name, "bearer", "header", "Authorization")  # the access token
        if kind == "mutualTLS":
            return None
        raise UnsupportedSpec(f"{where}: security scheme type {kind!r} is not supported")

    def security(self, op: dict[str, Any], where: str) -> tuple[list[list[str]], dict[str, Scheme]]:
        """The operation's own `security`, else the document's, and the schemes it names."""
        requirements = op.get("security", self.doc.get("security", []))
        if not isinstance(requirements, list):
            raise UnsupportedSpec(f"{where}: `security` must be a list")
        out: list[list[str]] = []
        schemes: dict[str, Scheme] = {}
        for requirement in requirements:
            names = []
            for name in (requirement if isinstance(requirement, dict) else {}):
                scheme = schemes.get(name) or self.scheme(str(name), where)
                if scheme is not None:
                    schemes[name] = scheme
                    names.append(str(name))
            if names not in out:
                out.append(names)
        return out, schemes

    # -- operations ----------------------------------------------------------
    def providers(self) -> list[Provider]:
        """The operations grouped by provider; what cannot be expressed lands in `skipped`."""
        tags = {t["name"]: t for t in self.doc.get("tags", []) if isinstance(t, dict) and "name" in t}
        providers: dict[str, Provider] = {}
        found: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        paths = self.doc.get("paths")
        for path, item in (paths if isinstance(paths, dict) else {}).items():
            try:
                item = self.deref(item)
            except UnsupportedSpec as exc:
                self.total += 1
                self.skipped.append(Skip("*", path, "", str(exc), pointer_join("/paths", path)))
                continue
            if not isinstance(item, dict):
                continue
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    found.append((path, method, item, item[method]))
        self.total += len(found)
        by_key = {(path, method): (item, op) for path, method, item, op in found}
        twins: dict[tuple[str, str], str] = {}
        for path, method, _item, _op in found:
            bare = re.sub(r"\.json$", "", path)
            if bare != path and (bare, method) in by_key:
                twins[(bare, method)] = path
        twin_paths = set(twins.values())
        packages: set[str] = set()
        for path, method, item, op in found:
            if path in twin_paths and (re.sub(r"\.json$", "", path), method) in by_key:
                continue
            twin = twins.get((path, method))
            routes = [Route(twin, JSON), Route(path, None)] if twin else [Route(path, None)]
            hoisted = dict(self.hoisted)
            try:
                operation = self.operation(path, method, item, op, routes)
                operation.security, schemes = self.security(op, f"{method.upper()} {path}")
            except Exception as exc:  # noqa: BLE001 - any surprise skips one operation only
                self.hoisted = hoisted
                reason = str(exc) if isinstance(exc, UnsupportedSpec) else f"{type(exc).__name__}: {exc}"
                reason = reason.removeprefix(f"{method.upper()} {path}: ")
                pointer = getattr(exc, "pointer", "") or pointer_join("/paths", path, method)
                op_id = op.get("operationId")
                self.skipped.append(Skip(method, path, op_id if isinstance(op_id, str) else "",
                                         reason, pointer))
                continue
            tag = str((op.get("tags") or ["default"])[0])
            if tag not in providers:
                servers = item.get("servers") or op.get("servers") or self.doc.get("servers") or [{"url": "/"}]
                providers[tag] = self.new_provider(tag, tags, servers, packages)
            provider = providers[tag]
            names = {o.name for o in provider.operations}
            pascals = {o.pascal for o in provider.operations}
            if operation.name in names or operation.pascal in pascals:
                # Two operationIds that differ only in case or punctuation (`get-x`, `get_x`).
                n = 2
                while f"{operation.name}_{n}" in names or pascal(f"{operation.operation_id}_{n}") in pascals:
                    n += 1
                operation.name = f"{operation.name}_{n}"
                operation.operation_id = f"{operation.operation_id}_{n}"
            for name, scheme in schemes.items():
                provider.schemes.setdefault(name, scheme)
            provider.operations.append(operation)
        self.add_webhooks(providers, tags, packages)
        for provider in providers.values():
            self.collect_schemas(provider)
            name_credentials(provider)
        return list(providers.values())

    def new_provider(self, tag: str, tags: dict[str, Any], servers: Any, packages: set[str]) -> Provider:
        info = tags.get(tag, {})
        server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], dict) else {}
        package = snake(tag)
        while package in packages or package in RESERVED_PACKAGES:
            package += "_"
        packages.add(package)
        return Provider(
            tag=tag, package=package, prefix=info.get("x-numspec-prefix", pascal(tag)),
            description=" ".join(str(info.get("description", "")).split()),
            base_url=server_url(server), **server_parts(server))

    # -- webhooks (receivers) --------------------------------------------------
    def add_webhooks(self, providers: dict[str, Provider], tags: dict[str, Any],
                     packages: set[str]) -> None:
        """The document's `webhooks` (3.1), each a Webhook of the provider its first tag names;
        a method that cannot be received is skipped (one line, like an operation)."""
        webhooks = self.doc.get("webhooks")
        for key, raw_item in (webhooks if isinstance(webhooks, dict) else {}).items():
            key = str(key)
            try:
                item = self.deref(raw_item)
            except UnsupportedSpec as exc:
                self.skipped.append(Skip("*", f"webhook {key}", "", str(exc), pointer_join("/webhooks", key)))
                continue
            if not isinstance(item, dict):
                continue
            hook: Webhook | None = None
            # POST first: its summary describes the event, and GET variants follow it.
            for method in sorted(HTTP_METHODS, key=lambda m: m != "post"):
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                op_id = op.get("operationId")
                op_id = op_id if isinstance(op_id, str) and re.search(r"[A-Za-z]", op_id) else snake(f"{key}_{method}")
                hoisted = dict(self.hoisted)
                try:
                    variant = self.webhook(key, method, item, op, op_id)
                    if (hook is not None and variant.model != hook.model
                            and self.component(variant.model) == self.component(hook.model)):
                        # The same inline payload written out again (GET next to POST).
                        self.hoisted, variant.model = hoisted, hook.model
                    if hook is not None and variant.model != hook.model:
                        raise UnsupportedSpec(f"its payload ({variant.model}) differs from that of "
                                              f"{next(iter(hook.kinds))} ({hook.model})")
                except Exception as exc:  # noqa: BLE001 - any surprise skips one method only
                    self.hoisted = hoisted
                    reason = str(exc) if isinstance(exc, UnsupportedSpec) else f"{type(exc).__name__}: {exc}"
                    self.skipped.append(Skip(method, f"webhook {key}", op_id, reason,
                                             pointer_join("/webhooks", key, method)))
                    continue
                if hook is None:
                    hook = variant
                    tag = str((op.get("tags") or ["default"])[0])
                    if tag not in providers:
                        servers = self.doc.get("servers") or [{"url": "/"}]
                        providers[tag] = self.new_provider(tag, tags, servers, packages)
                    provider = providers[tag]
                    event = re.sub(rf"^{re.escape(tag)}[-_.]", "", key, flags=re.IGNORECASE) or key
                    names = {w.name for w in provider.webhooks} | {"create_receiver"}
                    name = snake(event)
                    while name in names:
                        name += "_"
                    hook.event, hook.name = event, name
                    provider.webhooks.append(hook)
                else:
                    hook.kinds.update(variant.kinds)
                    hook.operation_ids += variant.operation_ids
                    if hook.signature is None:
                        hook.signature = variant.signature

    def webhook(self, key: str, method: str, item: dict[str, Any], op: dict[str, Any],
                op_id: str) -> Webhook:
        """One method of a webhook: its payload (body, or an object query parameter), headers
        and reply."""
        where = f"webhook {key} {method.upper()}"
        headers: list[Param] = []
        signature: Param | None = None
        model = kind = ""
        for raw in list(item.get("parameters", [])) + list(op.get("parameters", [])):
            p = self.deref(raw)
            location = p.get("in") if isinstance(p, dict) else None
            if location == "header":
                if str(p.get("name", "")).lower() in IGNORED_HEADERS:
                    continue
                param = self.param(raw, where)
                headers.append(param)
                marked = p.get("x-numspec-signature")
                if marked is not None:
                    if marked not in SIGNATURE_KINDS:
                        raise UnsupportedSpec(f"x-numspec-signature {marked!r} is not one of "
                                              f"{', '.join(SIGNATURE_KINDS)}")
                    signature = param
            elif location == "query":
                schema = self.merged(p.get("schema", {}))
                if json_type(schema) != "object" or p.get("style", "form") != "form" or not p.get("explode", True):
                    raise UnsupportedSpec(f"query parameter {p.get('name')!r}: a receiver takes the "
                                          "payload as one form-exploded object, not single parameters")
                if model:
                    raise UnsupportedSpec("more than one payload (query object or body)")
                model, kind = self.schema_name(p.get("schema", {}), pascal(op_id) + "Event"), "query"
            elif location in ("path", "cookie"):
                raise UnsupportedSpec(f"{location} parameters are not supported in webhooks")
        if "requestBody" in op:
            content = (self.deref(op["requestBody"]) or {}).get("content") or {}
            usable = [m for m in content if body_kind(m) in ("json", "form")]
            if not usable:
                raise UnsupportedSpec("only JSON and form bodies can be received, not "
                                      + ", ".join(map(str, content)))
            if model:
                raise UnsupportedSpec("more than one payload (query object or body)")
            media = min(usable, key=lambda m: BODY_PREFERENCE.index(body_kind(m)))
            model = self.schema_name((content[media] or {}).get("schema", {}), pascal(op_id) + "Event")
            kind = body_kind(media)
        if not model:
            raise UnsupportedSpec("no payload (neither a body nor an object query parameter)")
        reply, reply_schema = self.webhook_reply(op.get("responses") or {}, op_id)
        reply_kind = "none"
        if reply.models.get(JSON):
            reply_kind = "json"
        elif any(body_kind(m) == "xml" for m in reply.media_types):
            reply_kind = "xml"
        elif reply.media_types:
            reply_kind = "text"
        return Webhook(key, key, snake(key), [op_id], model, {method.upper(): kind}, headers,
                       signature, reply, reply_kind, reply_schema,
                       " ".join(str(op.get("summary", "")).split()))

    def webhook_reply(self, responses: dict[str, Any], op_id: str) -> tuple[Reply, Any]:
        """The success answer a receiver gives (first 2xx, else 2XX, else default) and its schema."""
        codes = [str(c) for c in responses]
        code = next((c for c in codes if c.isdigit() and c.startswith("2")), None)
        code = code or next((c for c in codes if c.upper() == "2XX"), None)
        code = code or ("default" if "default" in codes else None)
        if code is None:
            return Reply(204, [], {}, {}, {}), None
        response = self.deref(responses[code])
        status = int(code) if code.isdigit() else 204
        reply = self.reply(status, response, op_id, "post")
        if status == 204 and reply.media_types:
            reply.status = 200  # a 2XX or default with a body: 200 says there is one
        content = response.get("content") if isinstance(response, dict) else None
        media = reply.media_types[0] if reply.media_types else None
        schema = (content[media] or {}).get("schema") if media and isinstance(content, dict) else None
        return reply, schema

    def operation(self, path: str, method: str, item: dict[str, Any], op: dict[str, Any],
                  routes: list[Route]) -> Operation:
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId")
        if not isinstance(op_id, str) or not re.search(r"[A-Za-z]", op_id):
            # No operationId: a name from method and path, stable as long as they are.
            op_id = snake(f"{method}_{re.sub(r'[{}]', '', path)}")
        raw_params = {}
        for raw in list(item.get("parameters", [])) + list(op.get("parameters", [])):
            p = self.deref(raw)
            raw_params[(p.get("name"), p.get("in"))] = raw
        for name in re.findall(r"\{([^}]+)\}", path.split("?", 1)[0]):  # not ClickSend's ?x={x}
            if (name, "path") not in raw_params:
                # Undeclared (the document is invalid there): a required string, as written.
                raw_params[(name, "path")] = {"name": name, "in": "path", "required": True,
                                              "schema": {"type": "string"}}
        params = [self.param(raw, where) for (name, location), raw in raw_params.items()
                  if not (location == "header" and str(name).lower() in IGNORED_HEADERS)]
        taken = set(RESERVED) | set(MODEL_ATTRIBUTES)
        for param in params:
            if param.py_name in MODEL_ATTRIBUTES:
                param.py_name += "_"  # a field of the stubs' Params model may not shadow these
            # Python names must be unique in a signature (`id` in path and in query, or
            # `page-size` next to `page_size`) and must not hide the client's own names.
            if param.py_name in taken:
                param.py_name = f"{param.py_name}_{param.location}"
            while param.py_name in taken:
                param.py_name += "_"
            taken.add(param.py_name)
        body = None
        if "requestBody" in op:
            body = self.body(self.deref(op["requestBody"]), op_id, where, taken)
        success: Reply | None = None
        errors = []
        responses = op.get("responses") or {}
        for status, raw in responses.items():
            if not str(status).isdigit():
                continue
            reply = self.reply(int(status), self.deref(raw), op_id, method)
            if 200 <= reply.status < 300 and success is None:
                success = reply
            elif reply.status >= 400:
                errors.append(reply)
        if success is None:
            success = self.fallback_success(responses, op_id, method)
        operation = Operation(op_id, snake(op_id), method.upper(), routes, params, body, success,
                              errors, " ".join(str(op.get("summary", "")).split()))
        operation.paging = self.paging(operation)
        return operation

    def body(self, rb: dict[str, Any], op_id: str, where: str, taken: set[str]) -> Body | None:
        content = rb.get("content") or {}
        if not content:
            return None
        media = min(content, key=lambda m: BODY_PREFERENCE.index(body_kind(m)))
        kind = body_kind(media)
        required = bool(rb.get("required", False))
        raw_schema = (content[media] or {}).get("schema", {})
        schema = self.merged(raw_schema)
        if kind in ("text", "bytes") or (kind == "xml" and not schema.get("properties")):
            return Body(media, "", required, kind="bytes" if kind == "bytes" else "text")
        props = schema.get("properties", {})
        if kind == "multipart":
            files = []
            for key, sub in props.items():
                sub = self.merged(sub)
                many = json_type(sub) == "array"
                if is_binary(self.merged(sub.get("items", {})) if many else sub):
                    py_name = snake(key)
                    while py_name in taken:
                        py_name += "_"
                    taken.add(py_name)
                    files.append(FileField(key, py_name, many, key in schema.get("required", [])))
            rest = {k: v for k, v in props.items() if k not in {f.name for f in files}}
            model = ""
            if rest:
                model = self.hoist(op_id + "Body", {
                    "type": "object", "properties": rest,
                    "required": [k for k in schema.get("required", []) if k in rest]})
            return Body(media, model, required or any(f.required for f in files), kind=kind,
                        files=files, encoding=self.encoding(content[media]))
        model = self.schema_name(raw_schema, pascal(op_id) + "Body")
        not_null = tuple(k for k, v in props.items() if not self.allows_null(v))
        return Body(media, model, required, not_null, kind=kind,
                    encoding=self.encoding(content[media]) if kind == "form" else {},
                    json_object=json_type(schema) == "object")

    @staticmethod
    def encoding(media: dict[str, Any]) -> dict[str, tuple[str, bool]]:
        out = {}
        for key, enc in (media.get("encoding") or {}).items():
            style = str(enc.get("style", "form"))
            out[str(key)] = (style, bool(enc.get("explode", style == "form")))
        return out

    def fallback_success(self, responses: dict[str, Any], op_id: str, method: str) -> Reply:
        """The answer to expect when no 2xx is documented: `2XX`, else the first 3xx (a
        redirect is the result), else `default`, else an empty 200."""
        codes = [str(c) for c in responses]
        for code, status in (("2XX", 200), ("2xx", 200)):
            if code in responses:
                return self.reply(status, self.deref(responses[code]), op_id, method)
        for code in codes:
            if code.isdigit() and 300 <= int(code) < 400:
                return self.reply(int(code), self.deref(responses[code]), op_id, method)
        if "default" in responses:
            return self.reply(200, self.deref(responses["default"]), op_id, method)
        return Reply(200, [], {}, {}, {})

    def reply(self, status: int, response: Any, op_id: str, method: str = "get") -> Reply:
        if not isinstance(response, dict) or method == "head" or status in (204, 304):
            response = {}  # these answers have no body, whatever the document says
        content = response.get("content") or {}
        if not isinstance(content, dict):
            raise UnsupportedSpec(f"response {status}: content is not a mapping")
        media_types = list(content)
        models: dict[str, str | None] = {}
        envelopes: dict[str, str] = {}
        shapes: dict[str, str] = {}
        for media in media_types:
            schema = (content[media] or {}).get("schema")
            if schema is None or not (is_json(media) or media == XML):
                models[media] = None
                continue
            models[media] = self.schema_name(schema, f"{pascal(op_id)}Response{status}")
        if JSON not in models:
            # `application/vnd.x+json`, `application/json; charset=utf-8`: JSON all the same.
            json_like = next((m for m in media_types if is_json(m) and models.get(m)), None)
            if json_like is not None:
                models[JSON] = models[json_like]
        json_model = models.get(JSON)
        for media in media_types:
            if media != XML or models.get(media) is None:
                continue
            xml_model = models[media]
            assert xml_model is not None
            shapes[media] = xml_model
            if json_model and xml_model != json_model:
                wrapper = self.merged(self.component(xml_model))
                props = wrapper.get("properties", {})
                if len(props) == 1:
                    key, sub = next(iter(props.items()))
                    target = component_of(sub.get("$ref")) if isinstance(sub, dict) else None
                    if target is not None and self.classes.get(target) == json_model:
                        envelopes[media] = key
                        models[media] = json_model
        return Reply(status, media_types, models, envelopes, shapes)

    def component(self, cls: str) -> Any:
        """The schema behind a class name."""
        if cls in self.hoisted:
            return self.hoisted[cls]
        return self.schemas[self.by_class[cls]]

    def component_ref(self, cls: str) -> Any:
        """A schema that names the class's component by $ref (or the hoisted schema itself)."""
        if cls in self.hoisted:
            return self.hoisted[cls]
        return {"$ref": SCHEMAS + escape(self.by_class[cls])}

    def paging(self, op: Operation) -> Paging | None:
        model = op.success.models.get(JSON)
        if op.method != "GET" or model is None:
            return None
        props = self.merged(self.component(model)).get("properties", {})
        next_keys = [k for k in props if re.sub(r"[_\W]", "", k).lower() == "nextpageuri"]
        arrays = [k for k, v in props.items() if self.merged(v).get("type") == "array"]
        if len(next_keys) != 1 or len(arrays) != 1:
            return None
        items = self.deref(props[arrays[0]]).get("items", {})
        item_model = self.schema_name(items, f"{op.pascal}Item")
        page_param = next((p for p in op.query_params if p.name.lower() == "page"), None)
        return Paging(arrays[0], item_model, next_keys[0], page_param)

    def collect_schemas(self, provider: Provider) -> None:
        """Every component schema this provider's operations reach, and their XML shapes."""
        roots: list[str] = []
        for op in provider.operations:
            if op.body and op.body.model:
                roots.append(op.body.model)
            for reply in [op.success, *op.errors]:
                roots += [m for m in reply.models.values() if m]
                roots += list(reply.xml_shapes.values())
            if op.paging:
                roots.append(op.paging.item_model)
        roots += webhook_roots(provider.webhooks)
        provider.schema_names |= self.closure(roots)
        for op in provider.operations:
            if op.body and op.body.kind == "xml" and op.body.model:
                provider.xml_shapes[op.body.model] = self.xml_shape(
                    self.component_ref(op.body.model), op.body.model, 0)
            for reply in [op.success, *op.errors]:
                for xml_model in reply.xml_shapes.values():
                    provider.xml_shapes[xml_model] = self.xml_shape(
                        self.component_ref(xml_model), xml_model, 0)

    def closure(self, roots: list[str]) -> set[str]:
        """The class names `roots` reach through $ref and discriminator mappings."""
        reached: set[str] = set()
        pending = list(dict.fromkeys(roots))
        while pending:
            cls = pending.pop()
            if cls in reached:
                continue
            reached.add(cls)
            for name in schema_refs(self.component(cls)):
                if name in self.classes:
                    pending.append(self.classes[name])
        return reached

    def xml_shape(self, schema: Any, default_name: str, depth: int) -> dict[str, Any]:
        """How a schema looks in XML, from its `xml` annotations (name, attribute, wrapped)."""
        if depth > 12:
            raise UnsupportedSpec(f"XML shape of {default_name!r} nests too deeply (recursive?)")
        own_xml = schema.get("xml", {}) if isinstance(schema, dict) else {}
        ref_name = None
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref_name = schema["$ref"].rsplit("/", 1)[1]
        resolved = self.merged(schema)
        xml = {**resolved.get("xml", {}), **own_xml}
        kind = json_type(resolved)
        shape: dict[str, Any] = {
            "name": xml.get("name", ref_name or default_name),
            "type": kind,
        }
        if xml.get("attribute"):
            shape["attribute"] = True
        if xml.get("x-numspec-null") == "empty":
            shape["null"] = "empty"  # null is written as an empty element, not left out
        if kind not in ("object", "array") and allows_null(resolved):
            # Lets the reader tell an empty element meaning null from an empty string.
            shape["nullable"] = True
        if kind == "object":
            shape["properties"] = [
                [key, self.xml_shape(sub, key, depth + 1)]
                for key, sub in resolved.get("properties", {}).items()]
        elif kind == "array":
            shape["wrapped"] = bool(xml.get("wrapped", False))
            shape["items"] = self.xml_shape(resolved.get("items", {}), default_name, depth + 1)
        return shape


def webhook_roots(hooks: list[Webhook]) -> list[str]:
    """The model classes receivers name: payloads and JSON replies."""
    roots = []
    for hook in hooks:
        roots.append(hook.model)
        if hook.reply_kind == "json" and hook.reply.models.get(JSON):
            roots.append(str(hook.reply.models[JSON]))
    return roots


JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),)}


def sound_default(schema: dict[str, Any]) -> Any:
    """A schema's `default` when it fits the schema's type and enum, else None: documents have
    `default: "100"` on integers and `default: 6` on string enums, which would make the
    generated code wrong for mypy (a string given for a number that parses is taken as meant)."""
    if not isinstance(schema, dict) or "default" not in schema:
        return None
    value = schema["default"]
    if not schema.get("type") and ("oneOf" in schema or "anyOf" in schema):
        return None  # DCG copies a union's default into every member's model (OpenAI's prompt)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    if isinstance(value, str) and kinds and "string" not in kinds:
        for kind, parse in (("integer", int), ("number", float)):
            if kind in kinds:
                try:
                    value = parse(value)
                    break
                except ValueError:
                    pass
        if "boolean" in kinds and value in ("true", "false"):
            value = value == "true"
    if kinds and not any(isinstance(value, JSON_TYPES.get(k, ())) and not (
            isinstance(value, bool) and k in ("integer", "number")) for k in kinds):
        return None
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        return None
    if isinstance(value, (dict, list)) and (not kinds or (isinstance(value, dict) and value) or any(
            isinstance(v, (dict, list)) for v in value)):
        return None  # models written as data: the typed field cannot take them as given
    if isinstance(value, str) and schema.get("format") in ("uri", "url", "uri-reference"):
        return None  # the field is typed AnyUrl, which a str default does not fit
    return value


def is_json(media: str) -> bool:
    kind = media.split(";")[0].strip().lower()
    return kind == JSON or kind.endswith("+json") or kind == "text/json"


def component_of(ref: Any) -> str | None:
    """The component schema a `$ref` names exactly (None for other targets, parts of one)."""
    if isinstance(ref, str) and ref.startswith(SCHEMAS) and "/" not in ref[len(SCHEMAS):]:
        return unescape(unquote(ref[len(SCHEMAS):]))
    return None


def is_binary(schema: dict[str, Any]) -> bool:
    """A file: `format: binary` (3.0 spelling) or a string with a contentMediaType (3.1)."""
    return json_type(schema) == "string" and (
        schema.get("format") == "binary" or "contentMediaType" in schema)


def json_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "null"
    if kind is None:
        if "properties" in schema:
            return "object"
        for key in ("oneOf", "anyOf"):
            for option in schema.get(key, []):
                if isinstance(option, dict) and option.get("type") != "null":
                    return "object" if "$ref" in option else json_type(option)
        return "string"
    return str(kind)


def allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(isinstance(option, dict) and option.get("type") == "null"
               for key in ("oneOf", "anyOf") for option in schema.get(key, []))


def scalar_type(schema: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """Python annotation and pydantic Field constraints for a parameter schema."""
    kind = json_type(schema)
    if "enum" in schema:
        values = [v for v in schema["enum"] if v is not None]
        return "Literal[" + ", ".join(repr(v) for v in values) + "]", {}
    constraints: dict[str, Any] = {}
    for src, dst in (("pattern", "pattern"), ("minLength", "min_length"),
                     ("maxLength", "max_length"), ("minimum", "ge"), ("maximum", "le"),
                     ("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt")):
        if src in schema:
            constraints[dst] = schema[src]
    names = {"string": "str", "integer": "int", "boolean": "bool", "number": "float"}
    if kind not in names:
        raise UnsupportedSpec(f"{where}: only string, integer, number and boolean parameters "
                              f"are supported, not {kind!r}")
    return names[kind], constraints


def name_credentials(provider: Provider) -> None:
    """Client constructor arguments per scheme: named by kind (username and password, token,
    api_key), or after the scheme when two schemes share a kind."""
    plain = {"basic": ("username", "password"), "bearer": ("token",), "apikey": ("api_key",)}
    kinds = [s.kind for s in provider.schemes.values()]
    taken = {"base_url", "timeout", "transport"}
    if provider.account_param is not None:
        taken.add(provider.account_param.py_name)
    for scheme in provider.schemes.values():
        args = plain[scheme.kind]
        if kinds.count(scheme.kind) > 1:
            own = snake(scheme.name)
            args = (f"{own}_username", f"{own}_password") if scheme.kind == "basic" else (own,)
        unique = []
        for arg in args:
            while arg in taken:
                arg += "_"
            taken.add(arg)
            unique.append(arg)
        scheme.args = tuple(unique)


def server_parts(server: dict[str, Any]) -> dict[str, Any]:
    """The server URL before substitution and its variables' defaults (for server_url())."""
    variables = server.get("variables")
    return {
        "server_template": str(server.get("url", "/")).rstrip("/"),
        "server_variables": {str(k): str(v.get("default", "")) for k, v in variables.items()
                             if isinstance(v, dict)} if isinstance(variables, dict) else {},
    }


def server_url(server: dict[str, Any]) -> str:
    url = str(server.get("url", "/"))
    for name, var in (server.get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(var.get("default", "")))
    return url.rstrip("/")


def schema_refs(node: Any) -> list[str]:
    """Names of the component schemas a schema refers to ($ref, even into a part of one, and
    discriminator mappings, which may name a schema bare)."""
    out: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(SCHEMAS):
                out.append(unescape(unquote(ref[len(SCHEMAS):].split("/", 1)[0])))
            mapping = item.get("discriminator", {}).get("mapping") if isinstance(
                item.get("discriminator"), dict) else None
            for target in (mapping.values() if isinstance(mapping, dict) else ()):
                if isinstance(target, str):
                    out.append(unescape(unquote(target[len(SCHEMAS):].split("/", 1)[0]))
                               if target.startswith(SCHEMAS) else target)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out
