"""Bearer tokens of the label store: how they are made, stored (sha256) and how strong a configured one must be.

Stored form: the unsalted sha256 of the token. That is enough because every token we accept is long and random:
`new_token()` draws 256 bits, and LATENTCT_ADMIN_TOKEN is refused below 128 estimated bits. A salt or a slow hash
(bcrypt, argon2) only helps secrets that can be guessed; a 128-bit token cannot be found from its hash by trying,
and an unsalted hash keeps authentication one indexed lookup per request.

Strength estimate (`estimate_token_bits`), deliberately simple and conservative:
- the pool is the sum of the character classes the token uses: a-z 26, A-Z 26, 0-9 10, other printable ASCII 32
  (at most 94);
- the first character counts, then each character that neither repeats a pair of adjacent characters already seen
  in the token (`abab...`, `xyzxyz`) nor equals or neighbours the previous character in ASCII order (`aaa`, `abc`,
  `321`);
- bits = counted characters x log2(pool).
It scores what a random token of that shape would hold; it cannot tell words from random letters, so a phrase of
ordinary words can pass it: generate the token, do not make it up.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import secrets
import string

from latentct.core.errors import InvalidInputError

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits
MIN_ADMIN_TOKEN_BITS = 128
ADMIN_TOKEN_SETTING = "LATENTCT_ADMIN_TOKEN"
MAKE_TOKEN_HINT = "make one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\""

_CLASSES = ((frozenset(string.ascii_lowercase), 26), (frozenset(string.ascii_uppercase), 26), (frozenset(string.digits), 10))
_OTHER_PRINTABLE = 32  # printable ASCII without space that is not a letter or digit: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~


class WeakAdminTokenError(InvalidInputError):
    """LATENTCT_ADMIN_TOKEN is too weak or cannot travel in a header: the server and the label store refuse it."""


def hash_token(token: str) -> str:
    """sha256 hex of a bearer token: the only form in which tokens are stored (see the module docstring)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_header_safe(token: str) -> bool:
    """Printable ASCII without spaces: what survives an `Authorization: Bearer` header byte for byte."""
    return bool(token) and all("!" <= ch <= "~" for ch in token)


def estimate_token_bits(token: str) -> float:
    """Estimated entropy of `token` in bits, as the module docstring defines it (0 for an empty token)."""
    if not token:
        return 0.0
    pool = sum(size for chars, size in _CLASSES if any(ch in chars for ch in token))
    if any(not any(ch in chars for chars, _ in _CLASSES) for ch in token):
        pool += _OTHER_PRINTABLE
    return _counted_characters(token) * math.log2(pool) if pool > 1 else 0.0


def _counted_characters(token: str) -> int:
    """Characters that add guesswork: not a repeated adjacent pair, not a run or step from the previous character."""
    counted, seen_pairs = 1, set[str]()
    for previous, current in itertools.pairwise(token):
        pair = previous + current
        if pair not in seen_pairs and abs(ord(current) - ord(previous)) > 1:
            counted += 1
        seen_pairs.add(pair)
    return counted


def admin_token_problem(token: str | None) -> str | None:
    """Why `token` may not be LATENTCT_ADMIN_TOKEN (one line, naming the setting and how to fix it), or None.

    None or "" means no admin token is configured, which is allowed.
    """
    if not token:
        return None
    if not is_header_safe(token):
        return (
            f"{ADMIN_TOKEN_SETTING} must be printable ASCII without spaces (it travels in an Authorization header); "
            f"{MAKE_TOKEN_HINT}"
        )
    bits = estimate_token_bits(token)
    if bits < MIN_ADMIN_TOKEN_BITS:
        return (
            f"{ADMIN_TOKEN_SETTING} is too weak: about {bits:.0f} bits estimated, at least {MIN_ADMIN_TOKEN_BITS} "
            f"needed (length x log2 of the character classes used; repeats and runs do not count); {MAKE_TOKEN_HINT}"
        )
    return None


def check_admin_token(token: str | None) -> None:
    """Raise WeakAdminTokenError when `token` is set but may not be the admin token (see admin_token_problem)."""
    problem = admin_token_problem(token)
    if problem is not None:
        raise WeakAdminTokenError(problem)
