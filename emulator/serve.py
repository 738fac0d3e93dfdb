"""`numspec serve`: run the emulator for both providers, state kept in SQLite."""

from __future__ import annotations

import argparse
import gc
import sys

from emulator import accounts
from emulator.store import SchemaTooNew, Store


def main(args: argparse.Namespace) -> int:
    import uvicorn

    from emulator.app import create_app
    from generator import specload

    options = {} if args.inventory is None else {"inventory_size": args.inventory}
    try:
        store = Store(args.db, **options)
    except SchemaTooNew as exc:
        print(f"error: {args.db}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot open {args.db}: {exc}", file=sys.stderr)
        return 1
    if args.config:
        try:
            added = accounts.load_accounts_file(store, args.config)
        except (OSError, ValueError) as exc:
            print(f"error: {args.config}: {exc}", file=sys.stderr)
            return 1
        print(f"added {len(added)} accounts from {args.config}")
    where = "in memory (lost on exit)" if args.db == ":memory:" else f"in {args.db}"
    base = f"http://{args.host}:{args.port}"
    print(f"numspec emulator: state {where}")
    print(f"  FreeClimb  {base}/apiserver")
    print(f"  Restcomm   {base}/restcomm/2012-04-24")
    print(f"  docs       {base}/docs")
    print("demo logins:")
    print(accounts.describe_demo_logins())
    sys.stdout.flush()
    app = create_app(store, docs_document=specload.load().document)
    # Everything built so far (the spec, models, routes) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise stall a request now and then.
    gc.collect()
    gc.freeze()
    # A page of 100 numbers allocates thousands of objects; collect the young ones less often.
    gc.set_threshold(20_000, 20, 100)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                    access_log=False, server_header=False)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
