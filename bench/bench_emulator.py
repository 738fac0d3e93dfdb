"""How fast the emulator answers, next to the framework's ceiling, in one run.

Every server is a child process of the same kind (uvicorn, one worker) and gets
the same load from the same generator: N keep-alive connections on loopback, each sending its
next request as soon as the last answer is read, for T seconds after a warm-up. All servers run
side by side and the rows take turns, round after round, so a busy moment on a shared machine
falls on every row alike; each row reports its median round.

* ceiling: a bare Starlette endpoint returning a constant JSON body;
* `numspec serve` on a database holding 100 000 FreeClimb numbers of one account:
  get-one (`GET …/IncomingPhoneNumbers/{id}`) and list (`GET …/IncomingPhoneNumbers`, the
  first page of 100, newest first), as users run it (access log on; its lines go to /dev/null here);
* `numspec serve --quiet` (no access log) on the same database: get-one, to show the log's cost;
* Prism's mock server (`npx @stoplight/prism-cli mock`) on the same contract and paths, when
  npx can fetch it (skipped otherwise, or with --no-prism). It answers the contract's examples
  (one number in a list), with no state behind them: a popular mock's speed, for scale.

Goals (issue 14): get-one at least 65 % of the ceiling's requests/s; list-100 p50 within 3x
get-one p50. Both servers speak HTTP through uvicorn's h11 protocol.
The load generator's own CPU use is printed too: near 100 % it, not the server, is the limit.

    python -m bench.bench_emulator [--seconds T] [--rounds R] [--connections N] [--numbers K]
                                   [--no-prism]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMSPEC = Path(sys.executable).with_name("numspec")
CEILING_BODY = b'{"status":"ok","items":[1,2,3]}'
PRISM_PACKAGE = "@stoplight/prism-cli@5"
GOAL_SHARE = 0.65  # get-one requests/s over the ceiling's
GOAL_SPREAD = 3.0  # list-100 p50 over get-one p50


# -- servers -------------------------------------------------------------------------------------


def ceiling_server(port: int) -> None:
    """The framework's ceiling: Starlette, one route, a constant JSON body; same uvicorn options
    as `numspec serve`, h11 included: serve pins it (emulator/guard.py), and httptools, were
    it installed, would make the ceiling faster for a reason that is not the app."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def constant(request: Request) -> Response:
        return Response(CEILING_BODY, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", constant)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                server_header=False, http="h11")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int

    def peak_rss_mb(self) -> float | None:
        """The largest VmHWM (peak resident set) in the server's process group, from /proc:
        the server itself, or for npx the node process it starts."""
        peaks = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
                if int(fields[2]) != self.proc.pid:  # the process group id
                    continue
                status = (stat.parent / "status").read_text(encoding="utf-8")
            except (OSError, IndexError, ValueError):
                continue
            peaks += [int(line.split()[1]) / 1024 for line in status.splitlines()
                      if line.startswith("VmHWM:")]
        return max(peaks, default=None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own group: npx's children too
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


def start(name: str, args: Sequence[str], port: int, probe: str, timeout: float = 60.0) -> Server:
    proc = subprocess.Popen(list(args), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    server = Server(name, proc, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(f"GET {probe} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                             .encode())
                if sock.recv(16).startswith(b"HTTP/1.1"):
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer within {timeout:.0f}s")


def seed_database(path: Path, count: int) -> tuple[str, str, str]:
    """A fresh database whose FreeClimb demo account owns `count` numbers; returns the account,
    its API key and the id of a number in the middle."""
    from numspec.emulator import accounts
    from numspec.emulator.freeclimb_logic import FreeClimb
    from numspec.emulator.store import Store

    store = Store(path)
    accounts.ensure_demo_accounts(store)
    account = accounts.FREECLIMB_DEMO.username
    FreeClimb(store).seed_numbers(account, count)
    store.close()
    with sqlite3.connect(path) as conn:
        (sid,) = conn.execute("SELECT sid FROM numbers WHERE account_sid = ? ORDER BY id "
                              "LIMIT 1 OFFSET ?", (account, count // 2)).fetchone()
    return account, accounts.FREECLIMB_DEMO.password, sid


# -- the load generator --------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: float  # the generator's CPU time over wall time

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _connection(port: int, request: bytes, warm_until: float, end: float,
                      latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    clock = time.perf_counter
    try:
        while True:
            started = clock()
            if started >= end:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            at = head.find(b"content-length:")
            if at < 0:
                head = head.lower()
                at = head.find(b"content-length:")
            if at >= 0:
                await reader.readexactly(int(head[at + 15:head.index(b"\r\n", at)]))
            elif b"transfer-encoding: chunked" in head:
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    await reader.readexactly(size + 2)
                await reader.readuntil(b"\r\n")
            if started >= warm_until:
                latencies.append(clock() - started)
                if head[9:12] != b"200":
                    errors.append(int(head[9:12]))
    finally:
        writer.close()


def load(port: int, path: str, auth: str | None, connections: int, seconds: float,
         warmup: float) -> Result:
    headers = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n"
    if auth:
        headers += f"Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n"
    request = (headers + "\r\n").encode()
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


# -- Prism (optional) ----------------------------------------------------------------------------


def start_prism(port: int) -> Server | None:
    npx = shutil.which("npx")
    if npx is None:
        print("  prism: skipped (npx is not installed)", file=sys.stderr)
        return None
    try:  # fetch once, with a time limit, before timing anything
        subprocess.run([npx, "--yes", PRISM_PACKAGE, "--version"], cwd=ROOT, timeout=180,
                       check=True, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  prism: skipped ({PRISM_PACKAGE} could not be fetched: {exc})", file=sys.stderr)
        return None
    spec = ROOT / "generated" / "openapi.json"
    args = [npx, "--yes", PRISM_PACKAGE, "mock", str(spec), "--host", "127.0.0.1",
            "--port", str(port), "--errors", "false", "--dynamic", "false",
            "--verboseLevel", "warn"]
    try:
        return start("prism", args, port, "/AvailablePhoneNumbers", timeout=120)
    except RuntimeError as exc:
        print(f"  prism: skipped ({exc})", file=sys.stderr)
        return None


# -- the run -------------------------------------------------------------------------------------


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def merge(rounds: list[Result]) -> Result:
    """Rounds of one row: the median round's rate, every latency, all errors."""
    rates = sorted(rounds, key=lambda r: r.rps)
    median = rates[len(rates) // 2]
    return Result(median.requests, sum(r.errors for r in rounds), median.seconds,
                  [x for r in rounds for x in r.latencies],
                  statistics.fmean(r.cpu for r in rounds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_emulator")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; each measures every row once, in turn, so a busy moment "
                             "on the machine hits all rows alike (median round reported)")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--numbers", type=int, default=100_000, help="numbers in the database")
    parser.add_argument("--no-prism", action="store_true", help="leave Prism out")
    parser.add_argument("--ceiling-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every module its args
    if args.ceiling_server:
        ceiling_server(args.ceiling_server)
        return 0
    if not NUMSPEC.exists():
        print(f"{NUMSPEC} is missing: install the project first", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="numspec-bench-"))
    servers: list[Server] = []
    rows: list[tuple[Server, str, str, str | None]] = []
    results: dict[tuple[str, str], list[Result]] = {}
    rss: dict[str, float | None] = {}
    try:
        started = time.perf_counter()
        account, key, sid = seed_database(work / "bench.db", args.numbers)
        print(f"  seeded {args.numbers} numbers in {time.perf_counter() - started:.1f}s",
              file=sys.stderr, flush=True)
        auth = f"{account}:{key}"
        base = f"/apiserver/Accounts/{account}/IncomingPhoneNumbers"

        # Every server runs from the start (an idle one costs nothing); rows take turns.
        port = free_port()
        ceiling = start("starlette", [sys.executable, "-m", "bench.bench_emulator",
                                      "--ceiling-server", str(port)], port, "/")
        servers.append(ceiling)
        rows.append((ceiling, "constant JSON", "/constant", None))
        port = free_port()
        emulator = start("numspec serve", [str(NUMSPEC), "serve", "--port", str(port),
                                           "--db", str(work / "bench.db")], port, base)
        servers.append(emulator)
        rows += [(emulator, "get-one", f"{base}/{sid}", auth), (emulator, "list-100", base, auth)]
        port = free_port()
        quiet = start("serve --quiet", [str(NUMSPEC), "serve", "--port", str(port), "--quiet",
                                        "--db", str(work / "bench.db")], port, base)
        servers.append(quiet)
        rows.append((quiet, "get-one", f"{base}/{sid}", auth))
        prism = None if args.no_prism else start_prism(free_port())
        if prism is not None:  # Prism serves the paths without the server's /apiserver
            servers.append(prism)
            bare = base.removeprefix("/apiserver")
            rows += [(prism, "get-one", f"{bare}/{sid}", auth),
                     (prism, "list (example)", bare, auth)]

        for round_number in range(max(1, args.rounds)):
            for server, label, path, credentials in rows:
                result = load(server.port, path, credentials, args.connections, args.seconds,
                              args.warmup)
                results.setdefault((server.name, label), []).append(result)
            print(f"  round {round_number + 1} done", file=sys.stderr, flush=True)
        for server in servers:
            rss[server.name] = server.peak_rss_mb()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    merged = {key: merge(rounds) for key, rounds in results.items()}
    ceiling_rps = merged["starlette", "constant JSON"].rps
    get_one = merged["numspec serve", "get-one"]
    list_100 = merged["numspec serve", "list-100"]
    print(f"emulator vs bare Starlette (both uvicorn, h11); {args.connections} keep-alive connections, "
          f"{args.rounds} rounds of {args.seconds:g}s per row (median round), "
          f"{args.numbers} numbers in the database")
    print(f"{'server':<14} {'request':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'vs ceiling':>10} {'loadgen CPU':>11}")
    for (name, label), result in merged.items():
        print(f"{name:<14} {label:<14} {result.rps:8.0f} {fmt_ms(result.percentile(50))} "
              f"{fmt_ms(result.percentile(99))} {result.errors:6d} "
              f"{result.rps / ceiling_rps:9.0%} {result.cpu:10.0%}")
    print("peak RSS: " + ", ".join(
        f"{name} {'n/a' if mb is None else f'{mb:.0f} MB'}" for name, mb in rss.items()))
    share = get_one.rps / ceiling_rps
    spread = list_100.percentile(50) / get_one.percentile(50)
    print(f"get-one vs ceiling: {share:.0%} (goal >= {GOAL_SHARE:.0%}) "
          f"{'met' if share >= GOAL_SHARE else 'MISSED'}")
    print(f"list-100 p50 vs get-one p50: {spread:.2f}x (goal <= {GOAL_SPREAD:g}x) "
          f"{'met' if spread <= GOAL_SPREAD else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
