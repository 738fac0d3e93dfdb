"""Webhooks the emulator delivers per second, next to the same receiver hit directly, one run.

One receiver (Starlette on uvicorn, a child process: it reads the body and answers `<Response/>`)
and one `numspec serve --quiet` (a child process, a fresh database) whose Restcomm demo
account owns a number with `SmsUrl` pointing at that receiver, and a FreeClimb number whose
application's `smsUrl` does too. The load generator of bench_emulator (N keep-alive
connections, each sending its next request when the last answer is in) drives three rows,
taking turns round after round so a busy moment on the shared machine falls on each alike:

* direct: POST the receiver a form body like the one Restcomm sends (the ceiling);
* restcomm: POST /_numspec/messages to the emulator; each is one form POST to the receiver,
  its reply checked as RCML and logged in SQLite;
* freeclimb: the same for the FreeClimb number: signed JSON (HMAC-SHA256) to the receiver.

Each row's median round is printed, with its share of the direct rate.

    python -m bench.bench_webhooks [--seconds T] [--rounds R] [--connections N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx

from bench.bench_emulator import NUMSPEC, Result, _connection, fmt_ms, free_port, merge, start

CALLER = "+13125550123"


def receiver_server(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ok(request: Request) -> Response:
        await request.body()
        return Response(b"<Response/>", media_type="application/xml")

    app = Starlette(routes=[Route("/ok", ok, methods=["GET", "POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                server_header=False)


def post(port: int, path: str, body: bytes, content_type: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def load(port: int, request: bytes, connections: int, seconds: float, warmup: float) -> Result:
    import asyncio
    import time

    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> None:
        now = time.perf_counter()
        await asyncio.gather(*(
            _connection(port, request, now + warmup, now + warmup + seconds, latencies, errors)
            for _ in range(connections)))

    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(run())
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return Result(len(latencies), len(errors), seconds, latencies, cpu)


def set_up(base: str, receiver_url: str) -> tuple[str, str]:
    """A Restcomm and a FreeClimb number whose messages go to ``receiver_url``."""
    from numspec.emulator import accounts

    fc = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
    rc = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as http:
        pool = http.get("/apiserver/AvailablePhoneNumbers", auth=fc).json()
        first, second = [n["phoneNumber"] for n in pool["availablePhoneNumbers"][:2]]
        http.post(f"/restcomm/2012-04-24/Accounts/{rc[0]}/IncomingPhoneNumbers.json", auth=rc,
                  data={"PhoneNumber": first, "SmsUrl": receiver_url}).raise_for_status()
        app = http.post(f"/apiserver/Accounts/{fc[0]}/Applications", auth=fc,
                        json={"smsUrl": receiver_url})
        app.raise_for_status()
        http.post(f"/apiserver/Accounts/{fc[0]}/IncomingPhoneNumbers", auth=fc,
                  json={"phoneNumber": second, "applicationId": app.json()["applicationId"]}
                  ).raise_for_status()
        for to in (first, second):  # each must really be delivered before it is measured
            outcome = http.post("/_numspec/messages",
                                json={"from": CALLER, "to": to, "text": "warm"}).json()
            if outcome["result"] != "delivered":
                raise RuntimeError(f"set-up message to {to} was not delivered: {outcome}")
        return first, second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_webhooks")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each row's median is shown")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--receiver", type=int, default=None, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every module the same
    if args.receiver is not None:
        receiver_server(args.receiver)
        return 0
    rport, eport = free_port(), free_port()
    servers = []
    with tempfile.TemporaryDirectory(prefix="numspec-bench-webhooks-") as folder:
        try:
            servers.append(start("receiver", [sys.executable, "-m", "bench.bench_webhooks",
                                              "--receiver", str(rport)], rport, "/ok"))
            servers.append(start("emulator", [str(NUMSPEC), "serve", "--port", str(eport),
                                              "--db", str(Path(folder) / "n.db"), "--quiet"],
                                 eport, "/_numspec/events"))
            restcomm_to, freeclimb_to = set_up(f"http://127.0.0.1:{eport}",
                                               f"http://127.0.0.1:{rport}/ok")
            form = (f"SmsSid=SM{'0' * 32}&AccountSid=AC{'0' * 32}&From=%2B13125550123"
                    "&To=%2B13125550100&Body=bench").encode()
            rows = {
                "direct to the receiver": (rport, post(rport, "/ok", form,
                                           "application/x-www-form-urlencoded; charset=UTF-8")),
                "emulator -> restcomm SmsUrl": (eport, post(eport, "/_numspec/messages", json.dumps(
                    {"from": CALLER, "to": restcomm_to, "text": "bench"}).encode(),
                    "application/json")),
                "emulator -> freeclimb smsUrl": (eport, post(eport, "/_numspec/messages", json.dumps(
                    {"from": CALLER, "to": freeclimb_to, "text": "bench"}).encode(),
                    "application/json")),
            }
            results: dict[str, list[Result]] = {name: [] for name in rows}
            for _ in range(args.rounds):
                for name, (port, request) in rows.items():
                    results[name].append(load(port, request, args.connections, args.seconds, 0.5))
        finally:
            for server in servers:
                server.stop()
    direct = merge(results["direct to the receiver"]).rps
    print(f"webhooks delivered per second, {args.connections} connections, median of "
          f"{args.rounds} rounds of {args.seconds:g} s")
    print(f"{'row':32} {'events/s':>9} {'of direct':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, rounds in results.items():
        row = merge(rounds)
        print(f"{name:32} {row.rps:9.0f} {row.rps / direct:9.1%} {fmt_ms(row.percentile(50))} "
              f"{fmt_ms(row.percentile(99))} {row.errors:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
