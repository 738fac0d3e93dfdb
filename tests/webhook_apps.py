"""Two small receiver apps built on the generated webhook receivers, as a user would write them.

Each answers an inbound call with a greeting (PerCL for FreeClimb, RCML for Restcomm), records
every event its handler saw (typed payloads), and mounts the receiver under a prefix of its
own next to an ordinary route, so a test can check that the router fits into a larger app.
The emulator's delivery tests can ring these apps too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from numspec.generated.freeclimb import models as fc_models
from numspec.generated.freeclimb import receiver as fc_receiver
from numspec.generated.restcomm import models as rc_models
from numspec.generated.restcomm import receiver as rc_receiver
from starlette.requests import Request

# The demo secret these apps check FreeClimb events with (the tests sign with it).
FREECLIMB_SECRET = "sigsecret-receivers-demo"
GREETING = "Thanks for calling numspec."


@dataclass
class Seen:
    """What the handlers received, in order: (event name, payload model)."""

    events: list[tuple[str, Any]] = field(default_factory=list)


class FreeClimbApp:
    """Handlers for FreeClimb: greets callers (async, to show both kinds work), notes the rest."""

    def __init__(self, seen: Seen):
        self.seen = seen

    async def inbound_call(self, event: fc_models.InboundCallEvent,
                           request: Request) -> fc_receiver.InboundCallReply:
        await asyncio.sleep(0)
        self.seen.events.append(("inbound_call", event))
        return fc_receiver.PerclScript().say(GREETING).pause(500).hangup()

    def message_delivery(self, event: fc_models.MessageDeliveryEvent, request: Request) -> None:
        self.seen.events.append(("message_delivery", event))

    def call_status(self, event: fc_models.CallStatusEvent, request: Request) -> None:
        self.seen.events.append(("call_status", event))


class RestcommApp:
    """Handlers for Restcomm: greets callers by name unless the name is the text `null`."""

    def __init__(self, seen: Seen):
        self.seen = seen

    def inbound_call(self, event: rc_models.RestcommCallEvent,
                     request: Request) -> rc_receiver.InboundCallReply:
        self.seen.events.append(("inbound_call", event))
        name = "" if event.caller_name == "null" else f", {event.caller_name}"
        return rc_receiver.Rcml().say(f"{GREETING[:-1]}{name}.").hangup()

    def inbound_sms(self, event: rc_models.RestcommSmsEvent,
                    request: Request) -> rc_receiver.InboundSmsReply:
        self.seen.events.append(("inbound_sms", event))
        return rc_receiver.Rcml().sms(f"Got it: {event.body}")

    def status_callback(self, event: rc_models.RestcommCallEvent, request: Request) -> None:
        self.seen.events.append(("status_callback", event))


def freeclimb_app(seen: Seen, secrets: Sequence[str] = (FREECLIMB_SECRET,), tolerance_s: float = 300,
                  prefix: str = "/hooks/freeclimb", **options: Any) -> FastAPI:
    """The FreeClimb app; `secrets`: what it checks signatures with (e.g. the emulator's)."""
    app = FastAPI()
    app.include_router(fc_receiver.create_receiver(
        FreeClimbApp(seen), signing_secrets=secrets, tolerance_s=tolerance_s, **options),
        prefix=prefix)
    app.add_api_route("/", lambda: {"app": "freeclimb receiver"})
    return app


def restcomm_app(seen: Seen, prefix: str = "/hooks/restcomm", **options: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(rc_receiver.create_receiver(RestcommApp(seen), **options), prefix=prefix)
    app.add_api_route("/", lambda: {"app": "restcomm receiver"})
    return app
