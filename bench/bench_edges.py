"""What the emulator's layers in front of the routes cost per request, in process.

The same GET goes N times through a do-nothing ASGI app, bare and behind each layer:
`Edges` (Restcomm's `.json` rewrite, provider 404/405s; the request used takes the rewrite,
its costliest path) and `AccessLog` (formatting the line; the write itself is measured apart,
to /dev/null). For scale: one get-one through the whole emulator takes about a millisecond on
loopback (bench_emulator). No goal; the figures show the layers stay a small share of that.

    python -m bench.bench_edges [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from numspec.emulator.app import AccessLog, Edges

PATH = "/restcomm/2012-04-24/Accounts/AC0/IncomingPhoneNumbers.json/PN0"


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"x"})


async def _time(app: Any, count: int) -> float:
    scope = {"type": "http", "method": "GET", "path": PATH, "raw_path": PATH.encode(),
             "headers": [], "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    started = time.perf_counter()
    for _ in range(count):
        await app(scope, receive, send)
    return (time.perf_counter() - started) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_edges")
    parser.add_argument("--requests", type=int, default=100_000)
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every module its args
    count = max(1, args.requests)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        def to_devnull(line: str) -> None:
            sink.write(line + "\n")
            sink.flush()

        rows = [
            ("bare app", _ok),
            ("Edges", Edges(_ok, {})),
            ("AccessLog, no output", AccessLog(_ok, write=lambda line: None)),
            ("AccessLog to /dev/null", AccessLog(_ok, write=to_devnull)),
        ]
        results = [(name, asyncio.run(_time(app, count))) for name, app in rows]
    bare = results[0][1]
    print(f"per request, {count} requests each (GET {PATH})")
    print(f"{'layer':<24} {'us/request':>10} {'added us':>9}")
    for name, micros in results:
        print(f"{name:<24} {micros:10.2f} {micros - bare:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
