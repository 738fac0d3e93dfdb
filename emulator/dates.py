"""The providers' wire dates, written by hand so the host's locale cannot change the names."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.lru_cache(maxsize=4096)
def utc_second(seconds: int) -> tuple[str, str]:
    """One UTC second as RFC 1123 text and as ISO 8601 without the fraction. No datetime
    objects, and cached: a FreeClimb page of 100 numbers formats 400 dates."""
    t = time.gmtime(seconds)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    day = f"{DAYS[t.tm_wday]}, {t.tm_mday:02d} {MONTHS[t.tm_mon - 1]} {t.tm_year:04d}"
    return f"{day} {clock} GMT", f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{clock}"


def rfc1123(ms: int) -> str:
    """FreeClimb: ``Mon, 07 Nov 2016 15:25:18 GMT``"""
    return utc_second(ms // 1000)[0]


def rfc2822(ms: int) -> str:
    """Restcomm, Java's ``EEE, d MMM yyyy HH:mm:ss Z`` in UTC:
    ``Wed, 23 Sep 2015 15:55:47 +0000``."""
    t = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return (f"{DAYS[t.weekday()]}, {t.day} {MONTHS[t.month - 1]} {t.year} "
            f"{t:%H:%M:%S} +0000")
