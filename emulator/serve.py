"""`numspec serve`: run the emulator for both providers, state kept in SQLite."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from numspec.emulator import accounts, guard
from numspec.emulator.store import SchemaTooNew, Store

PUBLIC_DEMO_WARNING = (
    "warning: --host {host} is not a loopback address: the demo accounts have fixed, published "
    "credentials, so anyone who can reach port {port} can use them"
)


def _is_loopback_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (%eth0)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback one (127.0.0.0/8, ::1)."""
    host = host.strip("[]")
    if host.lower() in ("localhost", "localhost."):
        return True
    if _is_loopback_address(host):
        return True
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(_is_loopback_address(str(info[4][0])) for info in found)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, as uvicorn itself would bind it; OSError otherwise.

    Binding here, not inside uvicorn, turns "address in use" into a one-line error instead of
    a log record and exit code 3, and hands uvicorn the very socket that was checked.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(guard.LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def main(args: argparse.Namespace) -> int:
    import uvicorn
    from numspec.emulator.app import AccessLog, create_app
    from numspec.emulator.network import Limits, Network

    try:  # a bad option is refused before anything is opened
        limits = Limits.allowing(getattr(args, "allow_webhook_host", None) or [],
                                 reply_s=getattr(args, "webhook_timeout", Limits.reply_s))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {} if args.inventory is None else {"inventory_size": args.inventory}
    if getattr(args, "max_numbers_per_account", None):
        options["max_numbers_per_account"] = args.max_numbers_per_account
    folder = Path(args.db).parent
    if args.db != ":memory:" and not folder.is_dir():  # a typo must not create folders
        print(f"error: --db {args.db}: the folder {folder} does not exist (create it first, "
              "or check for a typo)", file=sys.stderr)
        return 1
    try:
        store = Store(args.db, **options)
        accounts.ensure_demo_accounts(store)  # on every start; never overwrites a changed one
    except SchemaTooNew as exc:
        print(f"error: {args.db}: {exc}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as exc:
        print(f"error: cannot open {args.db}: {exc}", file=sys.stderr)
        return 1
    if args.config:
        try:
            added = accounts.load_accounts_file(store, args.config)
        except (OSError, ValueError) as exc:
            print(f"error: {args.config}: {exc}", file=sys.stderr)
            return 1
        print(f"added {len(added)} accounts from {args.config}")
    if not is_loopback(args.host):
        print(PUBLIC_DEMO_WARNING.format(host=args.host, port=args.port), file=sys.stderr)
        sys.stderr.flush()
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]  # the one the system chose for --port 0
    tls = None
    if args.tls:
        tls = make_tls(args.host)
    scheme = "https" if tls else "http"
    where = "in memory (lost on exit)" if args.db == ":memory:" else f"in {args.db}"
    shown_host = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
    base = f"{scheme}://{shown_host}:{port}"
    print(f"numspec emulator: state {where}")
    print(f"  FreeClimb  {base}/apiserver")
    print(f"  Restcomm   {base}/restcomm/2012-04-24")
    print(f"  docs       {base}/docs")
    print(f"  network    {base}/_numspec (numspec call / sms / events; loopback clients only)")
    if tls:
        print(f"  TLS CA     {tls.ca} (made for this run; trust it, e.g. curl --cacert FILE)")
    print("demo logins:")
    print(accounts.describe_demo_logins())
    sys.stdout.flush()
    # /docs shows the contract the stubs were generated from, not whatever spec/ holds now.
    bundled = resources.files("numspec.generated").joinpath("openapi.json").read_text(encoding="utf-8")
    app: Any = guard.guard_app(create_app(store, docs_document=json.loads(bundled),
                                      network=Network(store, limits)))
    if not args.quiet:
        app = AccessLog(app)  # outermost, so the guard's own refusals are logged too
    # Everything built so far (the spec, models, routes) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise stall a request now and then.
    gc.collect()
    gc.freeze()
    # A page of 100 numbers allocates thousands of objects; collect the young ones less often.
    gc.set_threshold(20_000, 20, 100)
    limit = getattr(args, "max_connections", None) or guard.default_connection_limit()
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False,
        http=guard.guarded_protocol(getattr(args, "header_timeout", guard.DEFAULT_HEADER_TIMEOUT_S)),
        limit_concurrency=limit, backlog=guard.LISTEN_BACKLOG,
        timeout_keep_alive=getattr(args, "keep_alive_timeout", guard.DEFAULT_KEEP_ALIVE_S))
    guard.limit_log_floods()  # after Config, which sets the loggers up
    if tls:
        config.load()
        config.ssl = tls.context  # uvicorn takes only files; the key is never written out
        # uvicorn re-raises SIGTERM after its clean shutdown; end through `finally` instead,
        # so the CA's folder goes too.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    server = uvicorn.Server(config)
    try:
        with sock:
            server.run(sockets=[sock])
    finally:
        if tls:
            shutil.rmtree(tls.folder, ignore_errors=True)
    return 0 if server.started else 1  # uvicorn has logged why it did not start


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@dataclass(frozen=True)
class Tls:
    context: ssl.SSLContext  # the server's certificate and key, in memory
    folder: str
    ca: str  # the CA certificate clients trust


def make_tls(host: str) -> Tls:
    """A throwaway local CA and a certificate it signed for loopback (and ``host``). Only the
    CA certificate is written, to a private temporary folder removed on exit; nothing is
    downloaded."""
    import trustme

    names = ["127.0.0.1", "localhost", "::1"]
    bare = host.strip("[]")
    if bare not in names and bare not in ("0.0.0.0", "::"):
        names.append(bare)
    authority = trustme.CA(organization_name="numspec serve --tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(context)
    folder = tempfile.mkdtemp(prefix="numspec-tls-")
    ca = os.path.join(folder, "ca.pem")
    authority.cert_pem.write_to_path(ca)
    return Tls(context, folder, ca)
