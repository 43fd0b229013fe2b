"""Timestamps: ISO 8601 text, local time of the brokerage (Asia/Shanghai)."""

import datetime as dt
import os

from .errors import BrokerCRMError

from .errors import BrokerCRMError

CST = dt.timezone(dt.timedelta(hours=8), "CST")


def now():
    """Current time; $BROKERCRM_NOW (ISO) pins it for reproducible demos and tests."""
    pinned = os.environ.get("BROKERCRM_NOW")
    if pinned:
        try:
            value = dt.datetime.fromisoformat(pinned.strip())
        except ValueError:
            raise BrokerCRMError(f"环境变量 BROKERCRM_NOW={pinned!r} 不是 ISO 时间, 如 2026-06-30T10:00:00+08:00 "
                                 "(not an ISO date-time)") from None
        return value if value.tzinfo else value.replace(tzinfo=CST)
    return dt.datetime.now(CST)


def now_iso():
    return now().isoformat(timespec="seconds")


def today():
    return now().date()


def add_months(day, months):
    """Same day ``months`` later, clamped to the month's end (2024-02-29 + 12 → 2025-02-28)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def parse_moment(value):
    """An event or user time as an aware datetime in CST; a bare date is midnight."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and len(value) == 25 and value.endswith("+08:00"):
        return dt.datetime.fromisoformat(value)  # already the stored form (the common case)
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
        except ValueError:
            raise BrokerCRMError(f"{value!r} 不是有效时间 (not an ISO date/time)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    return moment.astimezone(CST)


def iso(moment):
    """Stored form: seconds, +08:00 — one offset everywhere so text order is time order."""
    return parse_moment(moment).isoformat(timespec="seconds")
