"""Webhook receivers: a provider's `receiver.py` (router factory, handler Protocol, reply
builders) from the Webhooks the parser found. Kept apart from render.py; it only adds files."""

from __future__ import annotations

import re
from typing import Any

from numspec.generator.codegen.ir import (
    JSON,
    Parser,
    Provider,
    UnsupportedSpec,
    Webhook,
    body_kind,
    json_type,
    scalar_type,
    snake,
)

BUILDER_OWN = ("render", "verbs", "commands", "self")


def _unique(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _annotation(parser: Parser, schema: Any, where: str) -> str:
    resolved = parser.merged(schema)
    kind = json_type(resolved)
    if kind == "array":
        return "Sequence[Any]"
    if kind == "object":
        return "Mapping[str, Any]"
    try:
        return scalar_type(resolved, where)[0]
    except UnsupportedSpec:
        return "Any"


def _args(parser: Parser, schema: dict[str, Any], where: str,
          keep: Any = None) -> list[dict[str, Any]]:
    """A verb's or command's options as arguments: required ones first."""
    required = set(schema.get("required", []))
    taken = {"self"}
    out = []
    for key, sub in schema.get("properties", {}).items():
        if keep is not None and not keep(parser.merged(sub)):
            continue
        out.append({"py": _unique(snake(str(key)), taken), "wire": str(key),
                    "annotation": _annotation(parser, sub, where), "required": key in required})
    return sorted(out, key=lambda a: not a["required"])


def _is_scalar(schema: dict[str, Any]) -> bool:
    return json_type(schema) not in ("object", "array")


def _is_attribute(schema: dict[str, Any]) -> bool:
    return _is_scalar(schema) and bool((schema.get("xml") or {}).get("attribute"))


def _is_child_text(schema: dict[str, Any]) -> bool:
    return _is_scalar(schema) and not (schema.get("xml") or {}).get("attribute")


def xml_builder(parser: Parser, cls: str, schema: Any) -> dict[str, Any] | None:
    """A chaining builder for an XML reply whose root's properties are its verbs (RCML)."""
    resolved = parser.merged(schema)
    props = resolved.get("properties") if isinstance(resolved, dict) else None
    if json_type(resolved) != "object" or not props:
        return None
    root = (resolved.get("xml") or {}).get("name") or cls
    taken = set(BUILDER_OWN)
    verbs = []
    for tag, sub in props.items():
        verb = parser.merged(sub)
        kind = json_type(verb)
        entry: dict[str, Any] = {"method": _unique(snake(str(tag)), taken), "tag": str(tag),
                                 "text": None, "attrs": [], "children": [],
                                 "doc": " ".join(str(verb.get("description", "")).split())}
        if kind == "object":
            entry["attrs"] = _args(parser, verb, f"{cls}.{tag}", _is_attribute)
            entry["children"] = _args(parser, verb, f"{cls}.{tag}", _is_child_text)
            names: set[str] = set()
            for arg in entry["attrs"] + entry["children"]:
                arg["py"] = _unique(arg["py"], names)
        elif kind != "array":
            entry["text"] = _annotation(parser, verb, f"{cls}.{tag}")
            entry["text_name"] = "text" if entry["text"] == "str" else "value"
        else:
            continue
        verbs.append(entry)
    return {"cls": cls, "kind": "xml", "root": str(root), "verbs": verbs} if verbs else None


def json_builder(parser: Parser, cls: str, schema: Any) -> dict[str, Any] | None:
    """A chaining builder for a JSON reply that is a list of one-key command objects (PerCL)."""
    resolved = parser.merged(schema)
    if json_type(resolved) != "array":
        return None
    items = parser.merged(resolved.get("items", {}))
    props = items.get("properties") if isinstance(items, dict) else None
    if not props:
        return None
    taken = set(BUILDER_OWN)
    commands = []
    for name, sub in props.items():
        command = parser.merged(sub)
        if json_type(command) != "object":
            continue
        commands.append({"method": _unique(snake(str(name)), taken), "tag": str(name),
                         "args": _args(parser, command, f"{cls}.{name}"),
                         "doc": " ".join(str(command.get("description", "")).split())})
    return {"cls": cls, "kind": "json", "verbs": commands} if commands else None


def builders(parser: Parser, provider: Provider) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The provider's reply builders (one per reply schema) and which one each event uses."""
    made: dict[str, dict[str, Any] | None] = {}
    uses: dict[str, str] = {}
    for hook in provider.webhooks:
        media = hook.reply.media_types[0] if hook.reply.media_types else ""
        cls = hook.reply.models.get(JSON if hook.reply_kind == "json" else media)
        if not cls or hook.reply_schema is None or hook.reply_kind not in ("json", "xml"):
            continue
        if cls not in made:
            make = json_builder if hook.reply_kind == "json" else xml_builder
            made[cls] = make(parser, cls, hook.reply_schema)
        if made[cls] is not None:
            uses[hook.name] = cls
    return [b for b in made.values() if b is not None], uses


def _reply_annotation(parser: Parser, hook: Webhook, builder: str | None) -> str:
    own = [builder] if builder else []
    if hook.reply_kind == "json":
        model = hook.reply.models[JSON]
        kind = json_type(parser.merged(hook.reply_schema)) if hook.reply_schema else ""
        plain = {"array": ["Sequence[Any]"], "object": ["Mapping[str, Any]"]}.get(kind, ["Any"])
        return " | ".join([*own, f"models.{model}", *plain])
    if hook.reply_kind in ("xml", "text"):
        return " | ".join([*own, "str", "bytes", "None"])
    return "None"


def events(parser: Parser, provider: Provider, uses: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for hook in provider.webhooks:
        media = hook.reply.media_types[0] if hook.reply.media_types else ""
        out.append({
            "hook": hook,
            "reply_type": _reply_annotation(parser, hook, uses.get(hook.name)),
            "alias": f"{hook.pascal}Reply",
            "media": media,
            "reply_model": hook.reply.models.get(JSON) if hook.reply_kind == "json" else None,
            "xml_reply": hook.reply_kind == "xml" or (media and body_kind(media) == "xml"),
        })
    return out


def render_receiver(env: Any, parser: Parser, provider: Provider) -> str:
    made, uses = builders(parser, provider)
    listed = events(parser, provider, uses)
    uses_any = bool(made) or any("Any" in e["reply_type"] for e in listed)
    kinds = {hook.reply_kind for hook in provider.webhooks}
    needed = {"BODY_LIMIT", "TOLERANCE_S", "EventCheck", "Refused", "chosen_paths", "read_event",
              "signing_setup"}
    needed |= {"settle", "json_reply"} if "json" in kinds else set()
    needed |= {"settle", "text_reply"} if kinds & {"xml", "text"} else set()
    needed |= {"empty_reply", "notified"} if "none" in kinds else set()
    exported = [f"{provider.prefix}Handler", "DEFAULT_PATHS", "SIGNED", "WEBHOOKS", "create_receiver",
                *(b["cls"] for b in made), *(e["alias"] for e in listed)]
    text = env.get_template("receiver.py.jinja").render(
        p=provider, builders=made, events=listed, uses_any=uses_any,
        receiving=sorted(needed, key=isort_key), exported=sorted(exported, key=isort_key),
        uses_json=any(b["kind"] == "json" for b in made),
        uses_xml=any(b["kind"] == "xml" for b in made))
    text = re.sub(r"[ \t]+\n", "\n", text)
    # Inside a class or function one blank line separates; two only at the top level.
    return re.sub(r"\n{3,}(?=    )", "\n\n", text)


def isort_key(name: str) -> tuple[int, str]:
    """The order isort (and ruff's RUF022) want: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)
