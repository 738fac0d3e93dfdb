"""`numspec call`, `numspec sms` and `numspec events`: talk to a running `numspec serve`
through its /_numspec endpoints (emulator.admin) and print what happened, step by step."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8000"
# The server waits for the receiver (connect, reply, then the fallback and callbacks).
CLIENT_TIMEOUT_S = 60.0


class Unreachable(RuntimeError):
    pass


def _ask(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    url = args.server.rstrip("/") + "/_numspec" + path
    try:
        response = httpx.request(method, url, timeout=CLIENT_TIMEOUT_S, trust_env=False,
                                 **kwargs)
    except httpx.HTTPError as error:
        raise Unreachable(f"cannot reach numspec serve at {args.server}: {error} "
                          "(is it running? --server names another)") from None
    try:
        data = response.json()
    except ValueError:
        raise Unreachable(f"{url} answered {response.status_code} without JSON: is "
                          f"{args.server} a numspec serve?") from None
    return response.status_code, data


def _step_line(event: dict[str, Any]) -> str:
    verdict = event["verdict"] or ""
    if event["verbs"] is not None and verdict == "valid":
        verdict += ": " + (", ".join(event["verbs"]) or "no verbs")
    if event["problem"]:
        verdict += f": {event['problem']}"
    if event["method"] is None:
        return f"  {event['step']:15} {verdict}"
    status = event["status"] if event["status"] is not None else "-"
    return (f"  {event['step']:15} {event['method']:4} {event['url']}  {status}  {verdict}  "
            f"{event['elapsed_ms']:.1f} ms")


def _place(args: argparse.Namespace, path: str, body: dict[str, str]) -> int:
    try:
        status, data = _ask(args, "POST", path, json=body)
    except Unreachable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if status != 200:
        print(f"error: {data.get('error', data)}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        print(f"{data['kind']} {body['from']} -> {body['to']}: {data['provider']} account "
              f"{data['accountSid']}, id {data['id']}")
        for event in data["events"]:
            print(_step_line(event))
        print(f"{data['result']}: {data['reason']}")
    return 0 if data["result"] in ("answered", "delivered") else 1


def call(args: argparse.Namespace) -> int:
    return _place(args, "/calls", {"from": args.from_, "to": args.to})


def sms(args: argparse.Namespace) -> int:
    return _place(args, "/messages", {"from": args.from_, "to": args.to, "text": args.text})


def events(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    if args.call:
        params["call"] = args.call
    try:
        status, data = _ask(args, "GET", "/events", params=params)
    except Unreachable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if status != 200:
        print(f"error: {data.get('error', data)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(data["events"], indent=2))
        return 0
    current = None
    for event in data["events"]:
        if event["call_id"] != current:
            current = event["call_id"]
            print(f"{event['kind']} {current} ({event['provider']}, account {event['account_sid']})")
        print(_step_line(event))
    if not data["events"]:
        print("no events yet (numspec call / numspec sms place some)")
    return 0
