"""The label vocabulary: the terms annotators choose from, packaged by default and replaceable by a JSON file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from latentct.core.errors import InvalidInputError, NotFoundError

TERM_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TERM_NAME_CHARS = 200
MAX_TERM_DESCRIPTION_CHARS = 2000
MAX_TERMS = 500
MAX_POSITIVE_CHARS = 200


@dataclass(frozen=True)
class Term:
    """One label term; `requires_text` terms (like "other") need free text saying what changes.

    `positive` is the term's positive sense ("larger", "clockwise as displayed"), or None for terms that have no
    direction (artefact, no change): a label's `sign` says whether a positive shift moves the term in that sense.
    """

    id: str
    name: str
    description: str
    requires_text: bool = False
    positive: str | None = None

    @property
    def has_sense(self) -> bool:
        return self.positive is not None


@dataclass(frozen=True)
class Vocabulary:
    terms: tuple[Term, ...]
    source: str  # where it was read from, for error messages and logs

    def get(self, term_id: str) -> Term:
        """Return the term or raise NotFoundError listing the allowed ids."""
        for term in self.terms:
            if term.id == term_id:
                return term
        allowed = ", ".join(term.id for term in self.terms)
        raise NotFoundError(f"unknown term {term_id!r}; allowed: {allowed}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(term.id for term in self.terms)


def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """The packaged default CT vocabulary, or the one in `path` (same format: {"terms": [{id, name, ...}]})."""
    if path is None:
        text = resources.files("latentct.labels").joinpath("vocabulary.json").read_text(encoding="utf-8")
        return parse_vocabulary(text, source="packaged default vocabulary")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read vocabulary file {str(path)!r}: {exc}") from None
    return parse_vocabulary(text, source=f"vocabulary file {str(path)!r}")


def parse_vocabulary(text: str, source: str) -> Vocabulary:
    """Validate a vocabulary document; any problem raises InvalidInputError naming the source and the entry."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{source} is not valid JSON: {exc}") from None
    entries = document.get("terms") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(
            f'{source} must hold a non-empty list of terms (a list, or {{"terms": [...]}})'
        )
    if len(entries) > MAX_TERMS:
        raise InvalidInputError(f"{source} holds {len(entries)} terms; at most {MAX_TERMS} are allowed")
    terms = tuple(_parse_term(entry, position, source) for position, entry in enumerate(entries))
    ids = [term.id for term in terms]
    duplicates = sorted({term_id for term_id in ids if ids.count(term_id) > 1})
    if duplicates:
        raise InvalidInputError(f"{source} repeats term ids {duplicates}; each id must be unique")
    return Vocabulary(terms=terms, source=source)


def _parse_term(entry: Any, position: int, source: str) -> Term:
    where = f"{source}, term #{position}"
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where} must be an object with id, name, description")
    term_id, name = entry.get("id"), entry.get("name")
    # "other" is only useful with words saying what changes, so it needs text unless the file says otherwise
    description, requires_text = entry.get("description", ""), entry.get("requires_text", term_id == "other")
    if not isinstance(term_id, str) or not TERM_ID_PATTERN.match(term_id):
        raise InvalidInputError(f"{where}: id {term_id!r} must match {TERM_ID_PATTERN.pattern}")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TERM_NAME_CHARS:
        raise InvalidInputError(
            f"{where} ({term_id}): name must be a non-empty string of <= {MAX_TERM_NAME_CHARS}"
        )
    if not isinstance(description, str) or len(description) > MAX_TERM_DESCRIPTION_CHARS:
        raise InvalidInputError(
            f"{where} ({term_id}): description must be a string of <= {MAX_TERM_DESCRIPTION_CHARS} characters"
        )
    if not isinstance(requires_text, bool):
        raise InvalidInputError(f"{where} ({term_id}): requires_text must be true or false")
    return Term(
        id=term_id,
        name=name.strip(),
        description=description.strip(),
        requires_text=requires_text,
        positive=_parse_positive(entry.get("positive"), f"{where} ({term_id})"),
    )


def _parse_positive(value: Any, where: str) -> str | None:
    """A term's positive sense: absent or null (no sense), else a short one-line text."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_POSITIVE_CHARS
        or any(ord(ch) < 32 for ch in value)
    ):
        raise InvalidInputError(
            f"{where}: positive must be null or a one-line text of 1..{MAX_POSITIVE_CHARS} characters, "
            f"e.g. \"larger\"; got {value!r}"
        )
    return value.strip()
