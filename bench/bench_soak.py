"""Soak: does `numspec serve` stay flat under hours-like mixed traffic, squeezed into minutes?

One real `numspec serve` on loopback with a fresh SQLite file, seeded with numbers for both
providers' demo accounts. W workers (keep-alive httpx clients) loop over a mix for T seconds:

* FreeClimb: list (plain, and with a filter no list used before, which issues a new cursor),
  follow a nextPageUri, available numbers with a costly accepted pattern, buy + release, get;
* Restcomm: a page at a random offset, a filtered page, create + delete a SIP number, fetch;
* a probe on its own connection: the worst-case filter of the report (`((.)?){1000}` to 252
  characters, a new tail each time) then a plain GET of the same listing, every 0.1 s, so
  both latencies come from the same moments under the same load.

Every window of S seconds samples the server's RSS, the database's size (file + WAL), the
cursor rows and each kind's p99 as the client saw it. The first 40 % of the windows are
warm-up; the report sets the first window after it ("start") beside the last ("end"). The
server's own access log gives the worst filter's time inside the server, which the machine's
load does not inflate as much as the client's view.

Then the memory-amplification case: one Restcomm account filled to the per-account cap and
20 clients that ask for `PageSize=1000000` and never read; RSS before, while they hang, and
after they leave.

Goals: RSS and database within 10 % from start to end; worst filter p99 < 50 ms; no 5xx.

    python -m bench.bench_soak [--seconds T] [--window S] [--workers W] [--pause P]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NUMSPEC = Path(sys.executable).with_name("numspec")
WORST = ("((.)?){1000}" * 30)[:252]
COSTLY = "(.?){200}"  # accepted, close to the program cap: matches every pool row
RC_BASE = "/restcomm/2012-04-24"
WARM_UP_SHARE = 0.4  # of the windows; the run's bounded caches (patterns, matches) fill here
GREEDY_CLIENTS = 20
MAX_FILL = 10_000  # the default --max-numbers-per-account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed(db: Path, freeclimb: int, restcomm: int) -> None:
    from numspec.emulator import accounts
    from numspec.emulator.freeclimb_logic import FreeClimb
    from numspec.emulator.restcomm_logic import Restcomm
    from numspec.emulator.store import Store

    store = Store(db)
    try:
        accounts.ensure_demo_accounts(store)
        FreeClimb(store).seed_numbers(accounts.FREECLIMB_DEMO.username, freeclimb)
        Restcomm(store).seed_numbers(accounts.RESTCOMM_DEMO.username, restcomm)
    finally:
        store.close()


def fill(db: Path, account: str) -> None:
    """Give a Restcomm account as many numbers as the server lets one account hold."""
    from numspec.emulator.restcomm_logic import Restcomm
    from numspec.emulator.store import Store

    store = Store(db)
    try:
        Restcomm(store).seed_numbers(account, MAX_FILL, seed=7)
    finally:
        store.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def db_mb(db: Path) -> float:
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return sum(f.stat().st_size for f in files if f.exists()) / (1 << 20)


def cursor_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM cursors").fetchone()[0])


@dataclass
class Window:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    rss: float = 0.0
    db: float = 0.0
    cursors: int = 0
    threads: int = 0

    def p99(self, kind: str) -> float:
        values = sorted(self.latencies.get(kind, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(len(values) * 0.99))]


class Soak:
    def __init__(self, base: str, windows: list[Window]) -> None:
        from numspec.emulator import accounts

        self.base = base
        self.windows = windows
        self.fc_auth = (accounts.FREECLIMB_DEMO.username, accounts.FREECLIMB_DEMO.password)
        self.rc_auth = (accounts.RESTCOMM_DEMO.username, accounts.RESTCOMM_DEMO.password)
        self.fc_path = f"/apiserver/Accounts/{self.fc_auth[0]}/IncomingPhoneNumbers"
        self.rc_path = f"{RC_BASE}/Accounts/{self.rc_auth[0]}/IncomingPhoneNumbers"
        self.counter = 0

    def record(self, kind: str, seconds: float, status: int) -> None:
        window = self.windows[-1]
        window.latencies[kind].append(seconds)
        window.statuses[status] += 1

    async def timed(self, kind: str, client: httpx.AsyncClient, method: str, url: str,
                    **options: object) -> httpx.Response:
        start = time.perf_counter()
        response = await client.request(method, url, **options)  # type: ignore[arg-type]
        self.record(kind, time.perf_counter() - start, response.status_code)
        return response

    def tick(self) -> int:
        self.counter += 1
        return self.counter

    async def freeclimb(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        n = self.tick()
        page = await self.timed("fc list", client, "GET", self.fc_path)
        # A filter no earlier list used: a new cursor row each time.
        filtered = await self.timed("fc list filtered", client, "GET", self.fc_path,
                                    params={"phoneNumber": rf"^\+1|x{{{n % 1500 + 1}}}"})
        link = filtered.json().get("nextPageUri") or page.json().get("nextPageUri")
        if link:
            await self.timed("fc next page", client, "GET", "/apiserver" + link)
        await self.timed("fc costly filter", client, "GET", "/apiserver/AvailablePhoneNumbers",
                         params={"phoneNumber": COSTLY})
        available = (await client.get("/apiserver/AvailablePhoneNumbers",
                                      params={"region": rng.choice(["IL", "CA", "NY", "TX"])}))
        lines = available.json()["availablePhoneNumbers"]
        if lines:
            number = rng.choice(lines)["phoneNumber"]
            bought = await self.timed("fc buy", client, "POST", self.fc_path,
                                      json={"phoneNumber": number})
            if bought.status_code == 200:
                pid = bought.json()["phoneNumberId"]
                await self.timed("fc get", client, "GET", f"{self.fc_path}/{pid}")
                await self.timed("fc release", client, "DELETE", f"{self.fc_path}/{pid}")

    async def restcomm(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        n = self.tick()
        await self.timed("rc page", client, "GET", self.rc_path + ".json",
                         params={"Page": rng.randrange(0, 20), "PageSize": 50})
        await self.timed("rc filtered", client, "GET", self.rc_path + ".json",
                         params={"PhoneNumber": str(rng.randrange(100, 999))})
        made = await self.timed("rc create", client, "POST", self.rc_path + ".json",
                                data={"PhoneNumber": f"soak-{n}", "isSIP": "true"})
        if made.status_code == 200:
            sid = made.json()["sid"]
            await self.timed("rc fetch", client, "GET", f"{self.rc_path}/{sid}.json")
            await self.timed("rc delete", client, "DELETE", f"{self.rc_path}/{sid}.json")

    async def worker(self, index: int, end: float, pause: float) -> None:
        rng = random.Random(index)
        async with httpx.AsyncClient(base_url=self.base, auth=self.fc_auth, timeout=30) as fc, \
                httpx.AsyncClient(base_url=self.base, auth=self.rc_auth, timeout=30) as rc:
            while time.monotonic() < end:
                await self.freeclimb(fc, rng)
                await asyncio.sleep(pause)
                await self.restcomm(rc, rng)
                await asyncio.sleep(pause)

    async def probe(self, end: float, every: float) -> None:
        """The worst-case filter (a new tail each time, so no cache helps) and a plain GET of
        the same listing, one after the other, on their own connection."""
        async with httpx.AsyncClient(base_url=self.base, auth=self.fc_auth, timeout=30) as fc:
            while time.monotonic() < end:
                worst = WORST[:-6] + f"{self.tick():06d}"
                await self.timed("worst filter", fc, "GET", "/apiserver/AvailablePhoneNumbers",
                                 params={"phoneNumber": worst})
                await self.timed("plain GET", fc, "GET", "/apiserver/AvailablePhoneNumbers")
                await asyncio.sleep(every)


async def soak(base: str, pid: int, db: Path, seconds: float, window_s: float,
               workers: int, pause: float) -> list[Window]:
    windows = [Window()]
    runner = Soak(base, windows)
    end = time.monotonic() + seconds
    tasks = [asyncio.create_task(runner.worker(i, end, pause)) for i in range(workers)]
    tasks.append(asyncio.create_task(runner.probe(end, 0.1)))
    while time.monotonic() < end:
        await asyncio.sleep(min(window_s, max(0.0, end - time.monotonic())))
        current = windows[-1]
        current.rss, current.db, current.cursors = rss_mb(pid), db_mb(db), cursor_rows(db)
        current.threads = len(os.listdir(f"/proc/{pid}/task"))  # each keeps a SQLite cache
        if time.monotonic() < end:
            windows.append(Window())
    await asyncio.gather(*tasks)
    return windows


def greedy_readers(port: int, pid: int, account: str, password: str) -> None:
    """Clients that ask for a whole account in one page and never read the answer."""
    import base64

    token = base64.b64encode(f"{account}:{password}".encode()).decode()
    request = (f"GET {RC_BASE}/Accounts/{account}/IncomingPhoneNumbers.json?PageSize=1000000 "
               f"HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\r\n").encode()
    before = rss_mb(pid)
    sockets = []
    for _ in range(GREEDY_CLIENTS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request)
        sockets.append(sock)
    time.sleep(8)
    during = rss_mb(pid)
    for sock in sockets:
        sock.close()
    time.sleep(3)
    after = rss_mb(pid)
    print(f"{GREEDY_CLIENTS} clients asking PageSize=1000000 of {MAX_FILL} numbers, never "
          f"reading: RSS {before:.1f} MB before, {during:.1f} MB while they hang, "
          f"{after:.1f} MB after they leave")


def server_times(log: Path) -> list[float]:
    """Milliseconds the server spent on each worst-filter request (its access log: the
    only 400s on AvailablePhoneNumbers here)."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] == "/apiserver/AvailablePhoneNumbers" \
                and parts[2] == "400" and parts[3].endswith("ms"):
            times.append(float(parts[3][:-2]) / 1000)
    return sorted(times)


def fmt(ms: float) -> str:
    return f"{ms * 1000:7.1f} ms"


def report(windows: list[Window]) -> int:
    if len(windows) < 3:
        print("too short a run: need warm-up, start and end windows (raise --seconds)")
        return 1
    warm = max(1, int(len(windows) * WARM_UP_SHARE))  # caches fill during the first part
    start, end = windows[warm], windows[-1]
    kinds = sorted({k for w in windows for k in w.latencies})
    print(f"{'':22}{'start':>12}{'end':>12}")
    print(f"{'RSS':22}{start.rss:9.1f} MB{end.rss:9.1f} MB")
    print(f"{'database + WAL':22}{start.db:9.1f} MB{end.db:9.1f} MB")
    print(f"{'cursor rows':22}{start.cursors:12d}{end.cursors:12d}")
    for kind in kinds:
        print(f"{kind + ' p99':22}{fmt(start.p99(kind)):>12}{fmt(end.p99(kind)):>12}")
    statuses: dict[int, int] = defaultdict(int)
    for window in windows:
        for status, count in window.statuses.items():
            statuses[status] += count
    total = sum(statuses.values())
    print(f"requests {total}; by status: "
          + ", ".join(f"{s}: {c}" for s, c in sorted(statuses.items())))
    print("per window (RSS MB / db MB / cursors / threads):",
          " ".join(f"{w.rss:.0f}/{w.db:.1f}/{w.cursors}/{w.threads}" for w in windows))
    worst = max(w.p99("worst filter") for w in windows[warm:])
    plain = max(w.p99("plain GET") for w in windows[warm:])
    rss_ok = end.rss <= start.rss * 1.10
    db_ok = end.db <= start.db * 1.10
    errors = sum(c for s, c in statuses.items() if s >= 500)
    print()
    print(f"goal RSS flat (end within 10 % of start): {'met' if rss_ok else 'NOT met'} "
          f"({(end.rss / start.rss - 1) * 100:+.1f} %)")
    print(f"goal database flat (within 10 %):         {'met' if db_ok else 'NOT met'} "
          f"({(end.db / start.db - 1) * 100:+.1f} %)")
    print(f"goal worst filter p99 < 50 ms:            {'met' if worst < 0.050 else 'NOT met'} "
          f"(worst {fmt(worst).strip()}, plain GET {fmt(plain).strip()}, same run)")
    print(f"goal no 5xx:                              {'met' if errors == 0 else 'NOT met'} "
          f"({errors})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.05,
                        help="each worker's pause between rounds: a steady load, not a flood")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench its args
    seconds = min(args.seconds, 600.0)  # bounded, whatever is asked
    with tempfile.TemporaryDirectory(prefix="numspec-soak-") as folder:
        db = Path(folder) / "numspec.db"
        seed(db, freeclimb=2000, restcomm=2000)
        port = free_port()
        command = [str(NUMSPEC), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--db", str(db)]
        access = Path(folder) / "access.log"
        proc = subprocess.Popen(command, cwd=ROOT, stdout=open(access, "wb"),  # noqa: SIM115
                                stderr=open(Path(folder) / "stderr.log", "wb"),  # noqa: SIM115
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(base + "/apiserver/AvailablePhoneNumbers", timeout=1)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print("numspec serve did not start")
                        return 1
                    time.sleep(0.1)
            print(f"soak: {seconds:g} s, {args.workers} workers pausing {args.pause:g} s, "
                  f"windows of {args.window:g} s, on loopback ({base}); load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
            windows = asyncio.run(soak(base, proc.pid, db, seconds, args.window,
                                       args.workers, args.pause))
            status = report(windows)
            inside = server_times(access)
            if inside:
                p99 = inside[min(len(inside) - 1, int(len(inside) * 0.99))]
                print(f"worst filter inside the server: p50 {fmt(inside[len(inside) // 2])}, "
                      f"p99 {fmt(p99)} over {len(inside)} requests")
            from numspec.emulator import accounts

            fill(db, accounts.RESTCOMM_DEMO_SUBS[0].username)
            greedy_readers(port, proc.pid, accounts.RESTCOMM_DEMO_SUBS[0].username,
                           accounts.RESTCOMM_DEMO_SUBS[0].password)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        stderr = (Path(folder) / "stderr.log").read_text(errors="replace")
    print(f"server stderr: {len(stderr)} bytes")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
