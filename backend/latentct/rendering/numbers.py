"""The number grammar of request text (`shift=k:v`, `window=W,L`, the keys of JSON `shifts`): ASCII only.

Python's own parsers are wider than a URL should be: `str.isdigit()` is true for '²' and '①', which `int()` then
refuses (a 500 before this module); `int()` and `float()` take Arabic-Indic and full-width digits ('٣', '３') and
'_' separators ('1_0'), and `float()` takes 'nan', 'inf' and 'infinity'. A value that looks different from what is
rendered also makes caches and logs lie, so requests get exactly the grammar below, and `int()` / `float()` only
ever see text that matched it. Surrounding ASCII blanks are allowed, as before ('1500, -600').
"""

from __future__ import annotations

import re

# [0-9], never \d: \d matches every Unicode decimal digit
_INDEX = re.compile(r"[ \t]*([0-9]+)[ \t]*")
_DECIMAL = re.compile(r"[ \t]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[ \t]*")
INDEX_HELP = "a non-negative integer of ASCII digits 0-9"
DECIMAL_HELP = "a finite decimal number of ASCII digits 0-9, e.g. -1.5 or 2e-1 (no nan, inf or '_')"


def ascii_index(text: str, max_digits: int) -> int | None:
    """'3' -> 3; None unless `text` is 1..max_digits ASCII digits (leading zeros allowed, blanks around)."""
    match = _INDEX.fullmatch(text)
    if match is None or len(match.group(1)) > max_digits:
        return None
    return int(match.group(1))


def ascii_decimal(text: str) -> float | None:
    """'-1.5' -> -1.5; None unless `text` is an ASCII decimal. Can be +-inf when the exponent overflows: callers
    check finiteness and range as they did before."""
    match = _DECIMAL.fullmatch(text)
    return float(match.group(1)) if match is not None else None
