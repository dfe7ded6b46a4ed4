"""Recognising date layouts in sample cells and the strptime formats that read them (no parsing here)."""
from __future__ import annotations

import re
from collections import Counter

_ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_TIME = r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*([AaPp][Mm])?)?"
_DMY = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME + "$")
_YMD = re.compile(r"^(\d{4})([/.])(\d{1,2})\2(\d{1,2})" + _TIME + "$")
_DIGITS = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def date_layout(sample: list[str]) -> str:
    """Which layout most of the sample cells follow: 'iso', 'dmy', 'ymd', 'epoch' or 'other'.

    'dmy' covers both dd/mm/yyyy and mm/dd/yyyy; 'epoch' means plain digits.
    """
    if not sample:
        return "iso"
    counts = Counter()
    for v in sample:
        if _ISO.match(v):
            counts["iso"] += 1
        elif _DMY.match(v):
            counts["dmy"] += 1
        elif _YMD.match(v):
            counts["ymd"] += 1
        elif _DIGITS.match(v):
            counts["epoch"] += 1
    if not counts:
        return "other"
    family, n = counts.most_common(1)[0]
    return family if n * 2 >= len(sample) else "other"


def decide_dayfirst(sample: list[str], hint: bool | None) -> tuple[bool, str, bool]:
    """(dayfirst, a deciding cell, whether it was assumed) from the sample's first two parts."""
    first_big: list[str] = []
    second_big: list[str] = []
    for v in sample:
        m = _DMY.match(v)
        if m and int(m.group(1)) > 12:
            first_big.append(v)
        elif m and int(m.group(3)) > 12:
            second_big.append(v)
    if not first_big and not second_big:
        return bool(hint), "", True
    dayfirst = len(first_big) >= len(second_big)
    return dayfirst, (first_big if dayfirst else second_big)[0], False


def dmy_formats(sample: list[str], dayfirst: bool) -> list[str]:
    """strptime formats for the sample's layouts, most common first, then common fallbacks."""
    seen: Counter[str] = Counter()
    for v in sample:
        m = _DMY.match(v)
        if m:
            seen[_slash_format(m, dayfirst)] += 1
    formats = [f for f, _ in seen.most_common()]
    sep = formats[0][2] if formats else "/"
    head = "%d{0}%m{0}".format(sep) if dayfirst else "%m{0}%d{0}".format(sep)
    for year in ("%Y", "%y"):
        for time in ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p"):
            if head + year + time not in formats:
                formats.append(head + year + time)
    return formats


def ymd_formats(sample: list[str]) -> list[str]:
    """strptime formats for the sample's yyyy/mm/dd layouts, most common first, then time fallbacks."""
    seen: Counter[str] = Counter()
    for v in sample:
        m = _YMD.match(v)
        if m:
            sep = m.group(2)
            seen[f"%Y{sep}%m{sep}%d" + _time_format(m.group(5), m.group(7), m.group(8), m.group(9))] += 1
    formats = [f for f, _ in seen.most_common()] or ["%Y/%m/%d"]
    for time in ("", " %H:%M", " %H:%M:%S"):
        if formats[0][:8] + time not in formats:
            formats.append(formats[0][:8] + time)
    return formats


def late_day_pattern(fmt: str) -> str:
    """A regex for cells whose day part is 29, 30 or 31 under ``fmt``."""
    if fmt.startswith("%d"):
        prefix = "^"
    elif fmt.startswith("%Y"):
        prefix = r"^\d{4}\D\d{1,2}\D"
    else:
        prefix = r"^\d{1,2}\D"
    return prefix + r"(29|30|31)(\D|$)"


def _slash_format(m: re.Match, dayfirst: bool) -> str:
    sep = m.group(2)
    head = f"%d{sep}%m{sep}" if dayfirst else f"%m{sep}%d{sep}"
    year = "%Y" if len(m.group(4)) == 4 else "%y"
    return head + year + _time_format(m.group(5), m.group(7), m.group(8), m.group(9))


def _time_format(hour: str | None, sec: str | None, frac: str | None, ampm: str | None) -> str:
    if hour is None:
        return ""
    h = "%I" if ampm else "%H"
    out = f" {h}:%M" + (":%S" if sec else "") + (".%f" if frac else "")
    return out + (" %p" if ampm else "")
