"""The seeded pool of US numbers: the same numbers, in the same order, for every fresh database."""

from __future__ import annotations

import random
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

Kind = Literal["local", "tollfree", "mobile"]

DEFAULT_SIZE = 5000
DEFAULT_SEED = 20161107  # fixed, so every fresh database offers the same pool

# Real geographic area codes and their states; enough to give every filter something to find.
AREA_CODES: dict[str, str] = {
    "205": "AL", "907": "AK", "480": "AZ", "602": "AZ", "501": "AR", "213": "CA",
    "415": "CA", "619": "CA", "303": "CO", "203": "CT", "302": "DE", "202": "DC",
    "305": "FL", "407": "FL", "404": "GA", "808": "HI", "208": "ID", "224": "IL",
    "312": "IL", "317": "IN", "515": "IA", "316": "KS", "502": "KY", "504": "LA",
    "207": "ME", "410": "MD", "617": "MA", "313": "MI", "612": "MN", "601": "MS",
    "314": "MO", "406": "MT", "402": "NE", "702": "NV", "603": "NH", "201": "NJ",
    "505": "NM", "212": "NY", "718": "NY", "704": "NC", "701": "ND", "614": "OH",
    "405": "OK", "503": "OR", "215": "PA", "401": "RI", "803": "SC", "605": "SD",
    "615": "TN", "512": "TX", "713": "TX", "214": "TX", "801": "UT", "802": "VT",
    "804": "VA", "206": "WA", "304": "WV", "414": "WI", "307": "WY",
}
TOLL_FREE_CODES = ("800", "833", "844", "855", "866", "877", "888")
# Share of each kind in the pool; the rest is local.
TOLL_FREE_SHARE = 0.15
MOBILE_SHARE = 0.15


@dataclass(frozen=True)
class Line:
    """One telephone line as the network knows it, owned or not."""

    phone_number: str  # E.164
    country: str
    region: str | None  # two-letter state; None for toll-free numbers
    kind: Kind
    voice: bool
    sms: bool
    toll_free: bool
    ten_dlc: bool
    short_code: bool

    def as_row(self) -> tuple[str, str, str | None, str, int, int, int, int, int]:
        return (
            self.phone_number, self.country, self.region, self.kind,
            int(self.voice), int(self.sms), int(self.toll_free), int(self.ten_dlc),
            int(self.short_code),
        )


def _exchange(rng: random.Random) -> str:
    # NXX: first digit 2-9, and never an N11 service code or the fictional 555.
    while True:
        nxx = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        if nxx[1:] != "11" and nxx != "555":
            return nxx


def _one_line(rng: random.Random, codes: list[str]) -> Line:
    roll = rng.random()
    line_digits = f"{rng.randint(0, 9999):04d}"
    if roll < TOLL_FREE_SHARE:
        npa = rng.choice(TOLL_FREE_CODES)
        return Line(f"+1{npa}{_exchange(rng)}{line_digits}", "US", None, "tollfree",
                    voice=True, sms=True, toll_free=True, ten_dlc=False, short_code=False)
    npa = rng.choice(codes)
    number = f"+1{npa}{_exchange(rng)}{line_digits}"
    if roll < TOLL_FREE_SHARE + MOBILE_SHARE:
        return Line(number, "US", AREA_CODES[npa], "mobile",
                    voice=True, sms=True, toll_free=False, ten_dlc=False, short_code=False)
    # Some landlines cannot take SMS; those that can send it through 10DLC.
    sms = rng.random() < 0.9
    return Line(number, "US", AREA_CODES[npa], "local",
                voice=True, sms=sms, toll_free=False, ten_dlc=sms, short_code=False)


def generate_lines(
    count: int, seed: int = DEFAULT_SEED, exclude: AbstractSet[str] = frozenset()
) -> Iterator[Line]:
    """``count`` distinct lines from ``seed``, skipping numbers in ``exclude``.

    The same (count, seed, exclude) always yields the same lines in the same order.
    """
    rng = random.Random(seed)
    codes = sorted(AREA_CODES)
    seen: set[str] = set()
    while len(seen) < count:
        line = _one_line(rng, codes)
        if line.phone_number in seen or line.phone_number in exclude:
            continue
        seen.add(line.phone_number)
        yield line


def national_format(e164: str) -> str:
    """``+13125550100`` → ``(312) 555-0100``; other numbers are returned unchanged."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164
