"""What a webhook receiver answers a voice or message event: RCML (Restcomm) and PerCL
(FreeClimb), read and checked the way the provider would before running them.

One place for both users: the emulator records whether each reply it got was valid, and
`numspec contract --webhooks` fails a receiver whose replies are not. Nothing of ours is
imported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from xml.etree import ElementTree

# Restcomm's verbs (restcomm.interpreter.rcml.Verbs) and the nouns that live inside some of them.
RCML_VERBS = frozenset({
    "Dial", "Email", "Enqueue", "Fax", "Gather", "Hangup", "Language", "Leave", "Pause", "Play",
    "Record", "Redirect", "Reject", "Say", "Sms", "UssdCollect", "UssdMessage",
})
RCML_NOUNS = {
    "Dial": frozenset({"Client", "Conference", "Number", "Queue", "Sip", "Video"}),
    "Gather": frozenset({"Pause", "Play", "Say"}),
    "UssdCollect": frozenset({"Language", "UssdMessage"}),
}

# FreeClimb's PerCL commands, as its SDKs model them.
PERCL_COMMANDS = frozenset({
    "AddToConference", "CreateConference", "Dequeue", "Enqueue", "GetDigits", "GetSpeech", "Hangup",
    "OutDial", "Park", "Pause", "Play", "PlayEarlyMedia", "RecordUtterance", "Redirect", "Reject",
    "RemoveFromConference", "Say", "SendDigits", "SetDTMFPassThrough", "SetListen", "SetTalk", "Sms",
    "StartRecordCall", "TerminateConference", "TranscribeUtterance", "Unpark",
})


@dataclass(frozen=True)
class ReplyCheck:
    """The verdict on one reply: the verbs (or commands) it uses, in order, or what is wrong."""

    verbs: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_rcml(body: bytes) -> ReplyCheck:
    """An RCML document: empty (Restcomm then does nothing), or a `<Response>` of known verbs."""
    if not body.strip():
        return ReplyCheck()
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return ReplyCheck(problem="RCML must not declare a DOCTYPE or entities")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        return ReplyCheck(problem=f"RCML is not well-formed XML: {error}")
    if root.tag != "Response":
        return ReplyCheck(problem=f"RCML's root element is <{root.tag}>, not <Response>")
    verbs = []
    for position, verb in enumerate(root, start=1):
        if verb.tag not in RCML_VERBS:
            return ReplyCheck(problem=f"RCML verb {position}: <{verb.tag}> is not a Restcomm verb")
        allowed = RCML_NOUNS.get(verb.tag, frozenset())
        for child in verb:
            if child.tag not in allowed:
                return ReplyCheck(problem=f"RCML verb {position}: <{child.tag}> cannot be inside <{verb.tag}>")
        verbs.append(verb.tag)
    return ReplyCheck(verbs=tuple(verbs))


def check_percl(body: bytes) -> ReplyCheck:
    """A PerCL script: a JSON array of one-key objects, each a known command with an object value."""
    try:
        script = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        return ReplyCheck(problem=f"PerCL is not JSON: {error}")
    if not isinstance(script, list):
        return ReplyCheck(problem=f"PerCL must be a JSON array, not {type(script).__name__}")
    commands = []
    for position, item in enumerate(script, start=1):
        if not isinstance(item, dict) or len(item) != 1:
            return ReplyCheck(problem=f"PerCL command {position}: not an object with exactly one key")
        (name, options), = item.items()
        if name not in PERCL_COMMANDS:
            return ReplyCheck(problem=f"PerCL command {position}: {name!r} is not a PerCL command")
        if not isinstance(options, dict):
            return ReplyCheck(problem=f"PerCL command {position}: {name}'s options are not an object")
        commands.append(name)
    return ReplyCheck(verbs=tuple(commands))
