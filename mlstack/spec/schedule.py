"""EventBridge Scheduler schedule expressions: rate(), cron() and at().

The grammar of the Scheduler user guide's "Schedule types on EventBridge Scheduler":
`rate(value unit)` with a positive whole value and minute(s)/hour(s)/day(s) (singular for 1),
`at(yyyy-mm-ddThh:mm:ss)`, and `cron(minutes hours day-of-month month day-of-week year)`
where exactly one of day-of-month and day-of-week is `?`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_RATE = re.compile(r"rate\((?P<value>\S+) (?P<unit>\S+)\)")
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_CRON = re.compile(r"cron\((?P<fields>.*)\)")
_UNITS = ("minute", "hour", "day")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN-DEC / SUN-SAT, numbered from `low`
    step: bool = True  # `/` allowed
    special: str = ""  # extra characters: ? L W #

    def describe(self) -> str:
        values = f"{self.low}-{self.high}"
        if self.names:
            values += f" or {self.names[0]}-{self.names[-1]}"
        marks = ", - *" + (" /" if self.step else "") + "".join(f" {c}" for c in self.special)
        return f"{values} with {marks}"


FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, special="?LW"),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _DAYS, step=False, special="?L#"),
    _Field("year", 1970, 2199),
)


class _Bad(Exception):
    pass


def _number(field: _Field, text: str) -> int:
    upper = text.upper()
    if field.names and upper in field.names:
        return field.low + field.names.index(upper)
    if not text.isdigit():
        raise _Bad(f"'{text}' is not {field.describe()}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise _Bad(f"{value} is outside {field.low}-{field.high}")
    return value


def _item(field: _Field, item: str) -> None:
    """One comma-separated part of a field."""
    if field.name == "day-of-month":
        if item in ("L", "LW"):
            return
        if item.endswith("W"):
            _number(field, item[:-1])
            return
    if field.name == "day-of-week":
        if item == "L":
            return
        if item.endswith("L"):
            _number(field, item[:-1])
            return
        if "#" in item:
            day, _, nth = item.partition("#")
            _number(field, day)
            if nth not in ("1", "2", "3", "4", "5"):
                raise _Bad(f"'#{nth}' is not a week of the month (#1-#5)")
            return
    base, slash, step = item.partition("/")
    if slash:
        if not field.step:
            raise _Bad(f"'/' is not allowed here: it takes {field.describe()}")
        if not step.isdigit() or int(step) < 1:
            raise _Bad(f"the increment '{step}' is not a positive whole number")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    _number(field, start)
    if dash:
        _number(field, end)


def _cron(fields: list[str]) -> str | None:
    if len(fields) != len(FIELDS):
        return f"cron() takes six fields (minutes hours day-of-month month day-of-week year), not {len(fields)}"
    for field, whole in zip(FIELDS, fields, strict=True):
        if whole == "?":
            if "?" not in field.special:
                return f"the {field.name} field cannot be '?': only day-of-month or day-of-week can"
            continue
        try:
            for item in whole.split(","):
                if not item:
                    raise _Bad("a list item is empty")
                if item == "?":
                    raise _Bad("'?' must stand alone")
                _item(field, item)
        except _Bad as bad:
            return f"the {field.name} field '{whole}': {bad}"
    day_of_month, day_of_week = fields[2], fields[4]
    if day_of_month == "?" and day_of_week == "?":
        return "day-of-month and day-of-week are both '?': set one of them, e.g. cron(0 3 ? * MON *)"
    if day_of_month != "?" and day_of_week != "?":
        return (
            f"day-of-month ('{day_of_month}') and day-of-week ('{day_of_week}') are both set: "
            "make one of them '?', e.g. cron(0 3 ? * MON *) or cron(0 3 1 * ? *)"
        )
    return None


def _rate(value: str, unit: str) -> str | None:
    if not value.isdigit() or int(value) < 1:
        return f"the rate value '{value}' is not a positive whole number"
    singular = unit.removesuffix("s")
    if singular not in _UNITS:
        return f"the rate unit '{unit}' is not minute(s), hour(s) or day(s)"
    wanted = singular if int(value) == 1 else f"{singular}s"
    if unit != wanted:
        return f"rate({value} ...) takes the unit '{wanted}', not '{unit}'"
    return None


def problem(expression: str) -> str | None:
    """Why `expression` is not a schedule expression EventBridge Scheduler accepts, or None."""
    if match := _RATE.fullmatch(expression):
        return _rate(match["value"], match["unit"])
    if match := _CRON.fullmatch(expression):
        return _cron(match["fields"].split())
    if expression.startswith("at("):
        match = _AT.fullmatch(expression)
        if not match:
            return "at() takes a date and time as yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T03:00:00)"
        try:
            datetime(*(int(part) for part in match.groups()))
        except ValueError as error:
            return f"at() has no such date and time ({error})"
        return None
    return "use rate(value unit), cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
