"""The service policy (policies/service.toml): touchpoint deadlines, the
working-day calendar, care lead times, satisfaction — and the arithmetic on them.

Loading goes through the published policy set. A database initialised before
this policy shipped has no ``service`` file in its set: then the shipped
default file is used (and ``source`` says so) until head office publishes one.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..policy import sets as policy_lib
from ..kernel.checks import array, number, table, text
from ..kernel.errors import BrokerCRMError, PolicyError

DURATION_RE = re.compile(r"^\s*(\d+)\s*(m|h|d|wd)\s*$")


def parse_duration(value, where="within"):
    """'24h' -> (24, 'h'); units m, h, d, wd (working days)."""
    m = DURATION_RE.match(value) if isinstance(value, str) else None
    if not m:
        raise PolicyError(f"{where}: 时限须如 10m, 24h, 3d, 5wd (a duration like 10m, 24h, 3d, 5wd), got {value!r}")
    return int(m.group(1)), m.group(2)


@lru_cache(maxsize=256)
def _duration(value):
    """parse_duration for the hot path (the task engine asks once per event)."""
    return parse_duration(value)


def _date(value, where):
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PolicyError(f"{where}: 须为日期 YYYY-MM-DD (must be a date), got {value!r}") from None


def validate(doc):
    for i, tp in enumerate(array(doc, "touchpoints", "")):
        where = f"touchpoints[{i}]"
        text(tp, "event", where)
        text(tp, "task", where)
        text(tp, "title", where)
        parse_duration(tp.get("within"), f"{where}.within")
        if "ignore_after" in tp:
            parse_duration(tp["ignore_after"], f"{where}.ignore_after")
        if "queue" in tp:
            text(tp, "queue", where)  # a position id (positions policy); its tasks go to that group's queue
    cal = doc.get("calendar", {})
    if not isinstance(cal, dict):
        raise PolicyError("calendar: 须为表 (must be a table)")
    for j, d in enumerate(cal.get("workdays", [])):
        _date(d, f"calendar.workdays[{j}]")
    for i, h in enumerate(doc.get("holidays", [])):
        where = f"holidays[{i}]"
        text(h, "name", where)
        _date(h.get("date"), f"{where}.date")
        if "off" in h:
            off = h["off"]
            if not isinstance(off, list) or len(off) != 2:
                raise PolicyError(f"{where}.off: 须为 [首日, 末日] (must be [first, last])")
            first, last = _date(off[0], f"{where}.off[0]"), _date(off[1], f"{where}.off[1]")
            if last < first or (last - first).days > 31:
                raise PolicyError(f"{where}.off: 末日须在首日之后且不超过31天 (last day after first, ≤ 31 days)")
    care = table(doc, "care", "")
    for key in ("birthday_days_ahead", "holiday_days_ahead", "moment_days_ahead", "horizon_days"):
        number(care, key, "care")
    tiers = care.get("holiday_tiers", [])
    if not isinstance(tiers, list) or not all(isinstance(t, str) for t in tiers):
        raise PolicyError("care.holiday_tiers: 须为文本列表 (must be a list of tier names)")
    sat = table(doc, "satisfaction", "")
    low = number(sat, "low_score", "satisfaction")
    if not 0 <= low <= 5:
        raise PolicyError("satisfaction.low_score: 须在 0–5 (must be 0–5)")


@dataclass
class Calendar:
    """Working days: Monday–Friday, minus holidays off, plus make-up working days."""

    days_off: set = field(default_factory=set)
    workdays: set = field(default_factory=set)

    def is_working_day(self, day):
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.days_off

    def add_working_days(self, moment, n):
        """The same clock time on the n-th working day after ``moment``'s date."""
        day, counted = moment.date(), 0
        while counted < n:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return dt.datetime.combine(day, moment.timetz())


@dataclass
class ServicePolicy:
    doc: dict
    source: str  # "policy vN" or "default file" (db lacks a published service policy)
    calendar: Calendar

    def touchpoints(self, event_kind):
        return [tp for tp in self.doc["touchpoints"] if tp["event"] == event_kind]

    def due(self, moment, within):
        n, unit = _duration(within)
        if unit == "m":
            return moment + dt.timedelta(minutes=n)
        if unit == "h":
            return moment + dt.timedelta(hours=n)
        if unit == "d":
            return moment + dt.timedelta(days=n)
        return self.calendar.add_working_days(moment, n)

    @property
    def care(self):
        return self.doc["care"]

    @property
    def holidays(self):
        return [(dt.date.fromisoformat(h["date"]), h["name"]) for h in self.doc.get("holidays", [])]

    @property
    def low_score(self):
        return self.doc["satisfaction"]["low_score"]


def build(doc, source):
    days_off = set()
    for h in doc.get("holidays", []):
        if "off" in h:
            first, last = (dt.date.fromisoformat(x) for x in h["off"])
            days_off.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    workdays = {dt.date.fromisoformat(d) for d in doc.get("calendar", {}).get("workdays", [])}
    return ServicePolicy(doc, source, Calendar(days_off, workdays))


_CACHE = {}


def load_named(db, name, filename):
    """(doc, source) of policy ``name`` in force, else the shipped default file.

    Parsed documents are cached by the set's digest: the task engine asks once
    per event, and an import may emit an event per client.
    """
    row = db.execute("SELECT version, digest FROM policy_versions ORDER BY version DESC LIMIT 1").fetchone()
    key = (name, row[1] if row else None)
    if key in _CACHE:
        return _CACHE[key]
    result = None
    if row is not None:
        found = db.execute(
            "SELECT body FROM policy_files WHERE version = ? AND name = ?", [row[0], name]
        ).fetchone()
        if found:
            pf = policy_lib.parse(found[0], f"{name} policy v{row[0]}")
            result = (pf.doc, f"policy v{row[0]}")
    if result is None:
        path = policy_lib.default_policy_dir() / filename
        if not path.exists():
            raise BrokerCRMError(f"没有 {name} 策略 (no '{name}' policy published and no default {filename})")
        result = (policy_lib.load_file(path).doc, f"默认文件 default {filename} (未发布 not published)")
    _CACHE[key] = result
    return result


def load(db):
    doc, source = load_named(db, "service", "service.toml")
    key = ("service-built", source, id(doc))
    if key not in _CACHE:
        _CACHE[key] = build(doc, source)
    return _CACHE[key]
