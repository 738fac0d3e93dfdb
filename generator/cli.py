"""The `numspec` command line: one sub-command per job, each implemented in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from numspec.generator.specload import DEFAULT_SPEC, SpecError

EPILOG = """\
examples:
  numspec lint                      check spec/ and list its operations per provider
  numspec generate                  write models, clients and server stubs into generated/
  numspec generate --check          exit 1 when generated/ is stale (CI drift gate)
  numspec serve                     run the emulator for both providers on 127.0.0.1:8000
  numspec call +13125550123 TO      ring a number the running emulator holds (also: sms, events)
  numspec contract --provider freeclimb --url http://127.0.0.1:8000/apiserver --auth ID:KEY
  numspec docs build --out numspec-docs.html

exit status: the command's own (numspec COMMAND --help says which); 2 for bad options
"""


class Parser(argparse.ArgumentParser):
    """Bad options end in one line (and exit 2), as every other numspec error does."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; every option's default shown, unless it has none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or action.default in (None, False, argparse.SUPPRESS)
                or (not action.option_strings and action.nargs != "?")):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def command_parser(sub: Any, name: str, epilog: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, formatter_class=Help, epilog=epilog,
                                                     **kwargs)
    return parser


def output_file(text: str) -> str:
    """A file to write: refused when it is a folder or its folder is missing (a typo must not
    create folders), before anything runs."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name the file to write")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {path.parent} does not exist "
                                         "(create it first, or check for a typo)")
    return text


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value

SPEC_HELP = "contract root, a file or folder (default: the contract shipped with numspec, %(default)s)"
LINT_EPILOG = """\
exit status: 0 no errors (warnings are advice unless --strict), 1 errors found, warnings with
--strict, or the contract cannot be read

example:
  numspec lint spec/            check a checkout's contract and list its operations
"""
GENERATE_EPILOG = """\
--out never replaces a file, the working folder or a folder above it, and replaces a folder
only when numspec wrote it (its MANIFEST.json lists every file in it) unless --force.

exit status: 0 written, also when some operations were skipped (or up to date with --check);
1 stale with --check, nothing could be generated, a skip with --fail-on-skip, or an error;
2 no --out given to an installed numspec (in a checkout it defaults to generated/)

example:
  numspec generate --spec spec/ --out build/generated
"""
SERVE_EPILOG = """\
The demo logins (printed on start, fixed and public) come from numspec.emulator.accounts.

exit status: 0 stopped cleanly, 1 cannot open the database or listen on the port, 2 bad options

example:
  numspec serve --port 0 --db :memory:     any free port, state thrown away on exit
"""
CONTRACT_EPILOG = """\
exit status: 0 every check passed; 1 something failed (also: every answer was 401, 403, 404 or
405, an answer outlived --request-timeout, the run outlived --max-time); 2 the run could not
start (bad options, server down or not HTTP, credentials refused, none of the provider's
operations at --url); 130/143 stopped by SIGINT/SIGTERM

example:
  NUMSPEC_AUTH=ACCOUNT_ID:API_KEY numspec contract --provider freeclimb \\
      --url http://127.0.0.1:8000/apiserver --max-examples 10 --junit report.xml

With --webhooks the server under test is your webhook receiver: the provider's events go to
--url (or, per event, --url + --event-path), FreeClimb's signed with --signing-secret. Exit
status as above; 1 also when every answer was 404 or 405 (no receiver there), e.g.
  NUMSPEC_SIGNING_SECRET=SECRET numspec contract --webhooks --provider freeclimb \\
      --url http://127.0.0.1:5000/freeclimb
  numspec contract --webhooks --provider restcomm --url http://127.0.0.1:5000 \\
      --event-path inboundCall=/voice --event-path inboundSms=/sms --event-path statusCallback=/status
"""
DOCS_EPILOG = """\
exit status: 0 written (or served until Ctrl-C), 1 cannot write the file or listen, 2 bad options

example:
  numspec docs build --out numspec-docs.html     one offline HTML file
"""


def _lint(args: argparse.Namespace) -> int:
    from numspec.generator import lint
    return lint.main(args)


def _generate(args: argparse.Namespace) -> int:
    from numspec.generator import codegen
    return codegen.main(args)


def _serve(args: argparse.Namespace) -> int:
    from numspec.emulator import serve
    return serve.main(args)


def _contract(args: argparse.Namespace) -> int:
    if args.webhooks:
        from numspec.generator import contract_webhooks
        return contract_webhooks.main(args)
    from numspec.generator import contract
    return contract.main(args)


def _docs(args: argparse.Namespace) -> int:
    from numspec.generator import docs
    return docs.main(args)


def port(text: str) -> int:
    """A TCP port number, for argparse: refuse what the OS would refuse later with a traceback."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


# One function per sub-command, so each command's options live (and change) in one place.
def add_lint_command(sub: Any) -> None:
    p = command_parser(sub, "lint", help="check that a contract is sound", epilog=LINT_EPILOG,
                       description="Validate a contract with openapi-spec-validator plus numspec's "
                                   "own rules (examples valid, no dangling $ref, security schemes "
                                   "defined, 4xx documented, unique operationIds, no unused "
                                   "components). Errors (not valid OpenAPI, dangling $ref, "
                                   "undefined security scheme, duplicate operationId) exit 1; "
                                   "the rest are warnings, which exit 1 only with --strict.")
    p.add_argument("path", nargs="?", default=str(DEFAULT_SPEC),
                   help="root file or folder of the contract (default: the contract shipped with "
                        "numspec, %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print findings only, not the table of operations")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 on warnings too (the bar for our own contract in CI)")
    p.set_defaults(func=_lint)


def add_generate_command(sub: Any) -> None:
    p = command_parser(sub, "generate", help="generate models, clients and server stubs",
                       epilog=GENERATE_EPILOG,
                       description="Generate Pydantic models, httpx clients and FastAPI server "
                                   "stubs per provider (first tag) from an OpenAPI 3.0/3.1 "
                                   "document. Lint findings are printed as advice; an operation "
                                   "the generator cannot express is skipped with one line saying "
                                   "why, and the rest is generated. Writes atomically.")
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help=SPEC_HELP)
    p.add_argument("--out", default=None,
                   help="output folder: missing, empty, or an earlier numspec output "
                        "(default, in a checkout only: its generated/ folder; "
                        "an installed numspec needs --out)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and list differences when the output is stale")
    p.add_argument("--force", action="store_true",
                   help="let --out replace a folder numspec did not write (its content is lost)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list every lint warning and the operations per provider")
    p.add_argument("--fail-on-skip", action="store_true",
                   help="exit 1, writing nothing, when any operation had to be skipped")
    p.set_defaults(func=_generate)


SERVE_CONFIG_HELP = """\
--config TOML format: one table per account, as below (optional keys may be left out). Any
other section or key is refused with an error naming it; nothing is added then.

  [[freeclimb.accounts]]
  account_id = "AC0123456789abcdef0123456789abcdef01234567"   # AC + 40 hex digits
  api_key = "my-api-key"                # the password clients send
  signing_secret = "my-secret"          # optional: signs its webhooks (default: random)

  [[restcomm.accounts]]
  sid = "AC0123456789abcdef0123456789abcd"   # AC + 32 hex digits
  auth_token = "my-password"            # the password clients send, or its MD5 in hex
  email = "ops@example.com"             # optional: a second user name
  parent_sid = "AC..."                  # optional: listed earlier, or already in the database
  organization_sid = "OR..."            # optional
  friendly_name = "Operations"          # optional

Accounts already in the database are kept; serve prints how many it added.
"""


def add_serve_command(sub: Any) -> None:
    p = command_parser(sub, "serve", help="run the emulator for both providers",
                       epilog=SERVE_CONFIG_HELP + "\n" + SERVE_EPILOG,
                       description="Serve FreeClimb under /apiserver and Restcomm under /restcomm "
                                   "from one process, with state in SQLite.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=port, default=8000,
                   help="port to listen on; 0 lets the system pick a free one (printed at start)")
    p.add_argument("--db", default="numspec.db",
                   help="SQLite file (default: numspec.db); ':memory:' for a throwaway run")
    p.add_argument("--inventory", type=positive, default=None,
                   help="how many available numbers to seed into a new database")
    p.add_argument("--config", default=None, metavar="TOML",
                   help="file with extra accounts (format below)")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a certificate from a local CA made at start; "
                        "prints where the CA file is, for clients to trust")
    p.add_argument("--quiet", action="store_true",
                   help="no access log (by default one line per request: method, path, status, "
                        "ms; never headers or query strings)")
    p.add_argument("--allow-webhook-host", action="append", default=[], metavar="HOST",
                   help="also deliver webhooks to this host name, address or network (CIDR), "
                        "e.g. 10.0.0.0/8 or host.docker.internal; repeatable (default: "
                        "loopback addresses only)")
    p.add_argument("--webhook-timeout", type=seconds, default=5.0, metavar="SECONDS",
                   help="longest wait for a receiver's whole answer before the fallback")
    from numspec.emulator.guard import add_limit_options

    add_limit_options(p)
    p.set_defaults(func=_serve)


# -- the network: numspec call / sms / events (a running serve's /_numspec endpoints) ----
NETWORK_EPILOG = """The number's provider decides what is sent: Restcomm to its VoiceUrl/SmsUrl (fallback, status
callbacks), FreeClimb to its application's URLs, signed. Each step is printed.

exit status: 0 answered (call) or delivered (sms) with a valid reply; 1 placed, but the number
routes nowhere or every URL failed; 2 bad input, nobody owns TO, or the server is unreachable

example:
  numspec {name}    (against numspec serve on its default port)
"""
EVENTS_EPILOG = """exit status: 0 listed, 2 bad options or the server is unreachable

example:
  numspec events --limit 20 --json
"""


def _network(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from numspec.emulator import network_cli
        func: Callable[[argparse.Namespace], int] = getattr(network_cli, name)
        return func(args)
    return run


def _server_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default="http://127.0.0.1:8000",
                   help="the running numspec serve to talk to")


def add_call_command(sub: Any) -> None:
    p = command_parser(sub, "call", help="ring a number on a running emulator",
                       epilog=NETWORK_EPILOG.format(name="call +13125550123 +13125550100"),
                       description="Call TO from FROM: the emulator delivers the inbound-call "
                                   "webhooks as the owning provider does and logs them.")
    p.add_argument("from_", metavar="FROM", help="the caller, E.164 (e.g. +13125550123)")
    p.add_argument("to", metavar="TO", help="the number called: one an account owns")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _server_option(p)
    p.set_defaults(func=_network("call"))


def add_sms_command(sub: Any) -> None:
    p = command_parser(sub, "sms", help="text a number on a running emulator",
                       epilog=NETWORK_EPILOG.format(name="sms +13125550123 +13125550100 hello"),
                       description="Send TEXT to TO from FROM: the emulator delivers the "
                                   "inbound-message webhook as the owning provider does.")
    p.add_argument("from_", metavar="FROM", help="the sender, E.164")
    p.add_argument("to", metavar="TO", help="the number texted: one an account owns")
    p.add_argument("text", metavar="TEXT", help="the message")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _server_option(p)
    p.set_defaults(func=_network("sms"))


def add_events_command(sub: Any) -> None:
    p = command_parser(sub, "events", help="list the webhooks a running emulator sent",
                       epilog=EVENTS_EPILOG,
                       description="What the emulator sent as the network (request, reply, "
                                   "verdict, time), oldest first, grouped by call or message.")
    p.add_argument("--limit", type=positive, default=100, help="how many of the newest events")
    p.add_argument("--call", default=None, metavar="ID",
                   help="only the events of this call or message id (default: all)")
    p.add_argument("--json", action="store_true", help="print the events as a JSON array")
    _server_option(p)
    p.set_defaults(func=_network("events"))


def add_contract_command(sub: Any) -> None:
    p = command_parser(sub, "contract", help="prove a live server honours the contract",
                       epilog=CONTRACT_EPILOG,
                       description="Run Schemathesis against a live server for one provider, "
                                   "with numspec's provider checks on top.")
    p.add_argument("--provider", required=True, choices=["freeclimb", "restcomm"],
                   help="which provider's operations (or, with --webhooks, events) to test")
    p.add_argument("--url", required=True,
                   help="base URL, e.g. http://127.0.0.1:8000/apiserver (with --webhooks: the "
                        "receiver's URL)")
    p.add_argument("--auth", default=None, metavar="USER:PASS",
                   help="Basic-auth credentials (default: the NUMSPEC_AUTH environment variable)")
    p.add_argument("--read-only", action="store_true",
                   help="only safe methods (GET): for production endpoints where buying costs money")
    p.add_argument("--max-examples", type=positive, default=None,
                   help="examples per operation in the fuzzing phase (default: Schemathesis' 100)")
    p.add_argument("--phases", default=None,
                   help="comma-separated phases: examples,coverage,fuzzing,stateful (default: all)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed, for a repeatable run (default: a new one each run)")
    p.add_argument("--junit", type=output_file, default=None, metavar="PATH",
                   help="write a JUnit XML report here (its folder must exist)")
    p.add_argument("--account", default=None,
                   help="account id for the path when the user name is not one (e.g. an e-mail; "
                        "default: the --auth user)")
    p.add_argument("--workers", type=positive, default=1,
                   help="concurrent Schemathesis workers (1 is repeatable with --seed)")
    p.add_argument("--request-timeout", type=seconds, default=10.0, metavar="SECONDS",
                   help="longest wait for one complete answer, however slowly it arrives")
    p.add_argument("--max-time", type=seconds, default=None, metavar="SECONDS",
                   help="stop the whole run (and fail) after this long (default: no limit)")
    # --webhooks: the same runner pointed at a user's receiver (generator.contract_webhooks).
    p.add_argument("--webhooks", action="store_true",
                   help="test a webhook receiver at --url with the provider's events instead of "
                        "the provider's server (--auth, --read-only, --account do not apply)")
    p.add_argument("--signing-secret", default=None, metavar="SECRET",
                   help="with --webhooks: the secret FreeClimb events are signed with (default: "
                        "the NUMSPEC_SIGNING_SECRET environment variable)")
    p.add_argument("--event-path", action="append", default=None, metavar="EVENT=PATH",
                   help="with --webhooks: send EVENT (e.g. inboundCall) to --url + PATH instead "
                        "of --url itself; repeatable")
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help=SPEC_HELP)
    p.set_defaults(func=_contract)


def add_docs_command(sub: Any) -> None:
    p = command_parser(sub, "docs", help="browse the contract as documentation",
                       epilog=DOCS_EPILOG,
                       description="'numspec docs build' writes one self-contained HTML file; "
                                   "'numspec docs' (or 'docs serve') serves it on loopback.")
    p.add_argument("action", nargs="?", default="serve", choices=["serve", "build"],
                   help="serve the page on loopback, or build the file")
    p.add_argument("--out", type=output_file, default="numspec-docs.html",
                   help="file to write with 'build' (its folder must exist)")
    p.add_argument("--host", default="127.0.0.1", help="address 'docs serve' listens on")
    p.add_argument("--port", type=port, default=8001, help="port 'docs serve' listens on")
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help=SPEC_HELP)
    p.set_defaults(func=_docs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="numspec",
        description="Tools for one OpenAPI 3.1 contract covering FreeClimb's and Restcomm's "
                    "phone-number APIs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_lint_command(sub)
    add_generate_command(sub)
    add_serve_command(sub)
    add_call_command(sub)
    add_sms_command(sub)
    add_events_command(sub)
    add_contract_command(sub)
    add_docs_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except SpecError as exc:
        for finding in exc.findings:
            print(finding.line_text(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
