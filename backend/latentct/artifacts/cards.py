"""Typed cards: the json files beside weights (`model.json`, a direction set's json, `<set>.eval.json`,
`scorecard.json`) as dataclasses.

One idiom for all three: `Card.from_json(raw, path)` checks the fields it knows (a broken file is an ArtifactError
naming the file and the field) and keeps every field it does not know in `extra`, so that an older or newer writer's
additions survive a read-modify-write; `card.to_json()` writes the known fields first, in a fixed order, then the
extras. `update_card` is the one merge-update: dicts merged one level deep, protected fields refused, then validated
again and written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from latentct import INTENDED_USE
from latentct.artifacts._io import read_json, write_json
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets import COMPONENTS, check_arch

JsonDict = dict[str, Any]


def _field(raw: JsonDict, key: str, path: Path, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    """raw[key], checked to be of `kind`; a missing field takes `default`, or is an error when there is none."""
    if key not in raw:
        if default is ...:
            raise ArtifactError(f"{path}: missing field {key!r}")
        return default() if callable(default) else default
    value = raw[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ArtifactError(f"{path}: field {key!r} must be {names}, got {type(value).__name__}")
    return value


def _extras(raw: JsonDict, cls: type) -> JsonDict:
    known = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in raw.items() if k not in known}


def _known(card: Any) -> JsonDict:
    return {f.name: getattr(card, f.name) for f in fields(card) if f.name != "extra"}


@dataclass(frozen=True)
class ModelCard:
    """`model.json`: what a model folder holds and how it was made (research only, not for clinical use)."""

    id: str
    kind: str
    arch: JsonDict
    latent_dim: int
    image_size: int
    hu_range: tuple[float, float]
    checksums: dict[str, str]
    format_version: int = 1
    description: str = ""
    intended_use: str = INTENDED_USE
    data: JsonDict = field(default_factory=dict)
    training: JsonDict = field(default_factory=dict)
    metrics: JsonDict = field(default_factory=dict)
    provenance: JsonDict = field(default_factory=dict)
    extra: JsonDict = field(default_factory=dict)

    PROTECTED: ClassVar[frozenset[str]] = frozenset(
        {"id", "kind", "arch", "checksums", "latent_dim", "image_size", "format_version"}
    )
    WHAT: ClassVar[str] = "model.json"
    REMEDY: ClassVar[str] = "; save the model again"

    @property
    def generator_checksum(self) -> str:
        return self.checksums["generator"]

    @classmethod
    def from_json(cls, raw: JsonDict, path: Path) -> ModelCard:
        kind = _field(raw, "kind", path, str)
        if kind not in COMPONENTS:
            raise ArtifactError(f"{path}: field 'kind' must be one of {sorted(COMPONENTS)}, got {kind!r}")
        arch = _field(raw, "arch", path, dict)
        try:
            check_arch(kind, arch)
        except ValueError as exc:
            raise ArtifactError(f"{path}: field 'arch': {exc}") from None
        sizes = {key: _field(raw, key, path, int) for key in ("latent_dim", "image_size")}
        for key, value in sizes.items():
            if arch.get(key, value) != value:
                raise ArtifactError(f"{path}: field {key!r} = {value} disagrees with arch.{key} = {arch[key]}")
        checksums = _field(raw, "checksums", path, dict)
        if "generator" not in checksums:
            raise ArtifactError(f"{path}: field 'checksums' has no 'generator' entry")
        return cls(
            id=str(raw.get("id", "")), kind=kind, arch=arch, hu_range=_hu_range(raw, path), checksums=checksums,
            format_version=_field(raw, "format_version", path, int, 1),
            description=_field(raw, "description", path, str, ""),
            intended_use=_field(raw, "intended_use", path, str, INTENDED_USE),
            **sizes, **{k: _field(raw, k, path, dict, dict) for k in ("data", "training", "metrics", "provenance")},
            extra=_extras(raw, cls),
        )

    def to_json(self) -> JsonDict:
        known = _known(self)
        order = ("format_version", "id", "kind", "arch", "latent_dim", "image_size", "hu_range", "description",
                 "intended_use", "data", "training", "metrics", "provenance", "checksums")
        out = {key: known[key] for key in order}
        out["hu_range"] = [float(self.hu_range[0]), float(self.hu_range[1])]
        return {**out, **self.extra}


def _hu_range(raw: JsonDict, path: Path) -> tuple[float, float]:
    value = _field(raw, "hu_range", path, list)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low, high = 0.0, 0.0
    if len(value) != 2 or not low < high:
        raise ArtifactError(f"{path}: field 'hu_range' must be [low, high] with low < high, got {value!r}")
    return low, high


@dataclass(frozen=True)
class DirectionSetCard:
    """`directions/<set>.json`: a set's method, parameters, per-direction metrics and the generator it belongs to."""

    id: str
    model_id: str
    method: str
    count: int
    latent_dim: int
    generator_checksum: str
    checksum: str
    params: JsonDict = field(default_factory=dict)
    metrics: JsonDict = field(default_factory=dict)
    directions: list[JsonDict] = field(default_factory=list)
    intended_use: str = INTENDED_USE
    created: str = ""
    provenance: JsonDict = field(default_factory=dict)
    evaluation: JsonDict | None = None
    extra: JsonDict = field(default_factory=dict)

    PROTECTED: ClassVar[frozenset[str]] = frozenset({"id", "checksum", "generator_checksum", "count", "latent_dim"})
    WHAT: ClassVar[str] = "a direction set"
    REMEDY: ClassVar[str] = "; save the set again"

    @classmethod
    def from_json(cls, raw: JsonDict, path: Path) -> DirectionSetCard:
        card = cls(
            **{k: _field(raw, k, path, str) for k in ("id", "generator_checksum", "checksum")},
            model_id=_field(raw, "model_id", path, str, ""),
            method=_field(raw, "method", path, str, "unknown"),
            count=_field(raw, "count", path, int),
            latent_dim=_field(raw, "latent_dim", path, int),
            params=_field(raw, "params", path, dict, dict),
            metrics=_field(raw, "metrics", path, dict, dict),
            directions=_field(raw, "directions", path, list, list),
            intended_use=_field(raw, "intended_use", path, str, INTENDED_USE),
            created=_field(raw, "created", path, str, ""),
            provenance=_field(raw, "provenance", path, dict, dict),
            evaluation=_field(raw, "evaluation", path, (dict, type(None)), None),
            extra=_extras(raw, cls),
        )
        if card.directions and len(card.directions) != card.count:
            raise ArtifactError(f"{path}: field 'directions' has {len(card.directions)} entries for count {card.count}")
        return card

    def trained_share(self) -> float | None:
        """For a trained set (Voynov's), the share of its schedule it ran: steps done / steps asked, 1.0 when done;
        below 1 when a time budget stopped it. None for closed forms and cards that do not record both."""
        done, asked = self.metrics.get("steps_done"), self.params.get("steps")
        if isinstance(done, bool) or isinstance(asked, bool) or not isinstance(done, int) or not isinstance(asked, int):
            return None
        return min(1.0, done / asked) if asked > 0 and done >= 0 else None

    def direction_metrics(self) -> list[JsonDict]:
        """Each direction's metrics dict, one per direction (empty dicts where the card has none)."""
        found = [dict(entry.get("metrics") or {}) for entry in self.directions if isinstance(entry, dict)]
        return found if len(found) == self.count else [{} for _ in range(self.count)]

    def to_json(self) -> JsonDict:
        known = _known(self)
        order = ("id", "model_id", "method", "count", "latent_dim", "params", "metrics", "directions",
                 "generator_checksum", "checksum", "intended_use", "created", "provenance", "evaluation")
        out = {key: known[key] for key in order if known[key] is not None}
        return {**out, **self.extra}


@dataclass(frozen=True)
class SetEvaluation:
    """`directions/<set>.eval.json`: what `latentct evaluate` measured for one version of a set.

    The header is typed (which set, which version, which generator, which method); the measurements themselves
    (`set`, `random_baseline`, `comparison`, `directions`, ...) stay as the evaluate package wrote them, in `body`.
    """

    set_id: str
    set_checksum: str
    model_id: str
    generator_checksum: str
    method: str
    body: JsonDict = field(default_factory=dict)

    HEADER: ClassVar[tuple[str, ...]] = ("set_id", "set_checksum", "model_id", "generator_checksum", "method")

    @classmethod
    def from_json(cls, raw: JsonDict, path: Path) -> SetEvaluation:
        header = {key: _field(raw, key, path, str) for key in cls.HEADER}
        return cls(**header, body={k: v for k, v in raw.items() if k not in cls.HEADER})

    def is_of(self, set_checksum: str) -> bool:
        """Whether this evaluation measured the set version with this checksum (not an older one)."""
        return self.set_checksum == set_checksum

    def to_json(self) -> JsonDict:
        return {**{key: getattr(self, key) for key in self.HEADER}, **self.body}


@dataclass(frozen=True)
class FactorScore:
    """One cell of the scorecard: a set's best direction for one factor and whether it *found* that factor."""

    direction: int
    effect_sd: float
    share: float
    sign_agreement: float
    chance: float
    found: bool

    @classmethod
    def from_json(cls, raw: Any, path: Path, where: str) -> FactorScore:
        if not isinstance(raw, dict):
            raise ArtifactError(f"{path}: field {where!r} must be dict, got {type(raw).__name__}")
        number = (int, float)
        return cls(direction=_field(raw, "direction", path, int), found=_field(raw, "found", path, bool),
                   **{k: float(_field(raw, k, path, number)) for k in ("effect_sd", "share", "sign_agreement", "chance")})

    def to_json(self) -> JsonDict:
        return _known(self)


@dataclass(frozen=True)
class SetScore:
    """One set's row of the scorecard: per factor its best direction, which factors it found, DCI and baselines."""

    count: int
    per_factor: dict[str, FactorScore]
    method: str | None = None
    checksum: str | None = None  # the set version scored (None in scorecards written before it was recorded)
    extra: JsonDict = field(default_factory=dict)  # paper_found, found, DCI, random, normalised: as scorecard.py wrote

    @classmethod
    def from_json(cls, raw: Any, path: Path, set_id: str) -> SetScore:
        if not isinstance(raw, dict):
            raise ArtifactError(f"{path}: field 'sets.{set_id}' must be dict, got {type(raw).__name__}")
        cells = _field(raw, "per_factor", path, dict)
        per_factor = {name: FactorScore.from_json(cell, path, f"sets.{set_id}.per_factor.{name}")
                      for name, cell in cells.items()}
        return cls(count=_field(raw, "count", path, int), per_factor=per_factor,
                   method=_field(raw, "method", path, str, None), checksum=_field(raw, "checksum", path, (str, type(None)), None),
                   extra=_extras(raw, cls))

    def is_of(self, set_checksum: str) -> bool:
        """Whether this row scored the set version with this checksum (rows without a checksum are taken as current)."""
        return self.checksum in (None, set_checksum)

    def found_by_direction(self) -> dict[int, set[str]]:
        """Direction index -> the factors the scorecard *found* for it (every factor has a best direction; these passed)."""
        found: dict[int, set[str]] = {}
        for name, cell in self.per_factor.items():
            if cell.found:
                found.setdefault(cell.direction, set()).add(name)
        return found

    def to_json(self) -> JsonDict:
        out: JsonDict = {"count": self.count, "per_factor": {k: v.to_json() for k, v in self.per_factor.items()}}
        out.update(self.extra)
        if self.method is not None:
            out["method"] = self.method
        if self.checksum is not None:
            out["checksum"] = self.checksum
        return out


@dataclass(frozen=True)
class Scorecard:
    """`scorecard.json`: every scored set of one model against one random pool (discovery/scorecard.py writes it).

    The parts code reads are typed (which model and generator, the factors, the reference, each set's cells); the
    run's settings and baselines (`config`, `natural_sd`, `rule`, `pool`, ...) are kept in `extra` as written.
    """

    model_id: str
    generator_checksum: str
    factor_names: list[str]
    paper_factors: list[str]
    sets: dict[str, SetScore]
    reference: str | None = None
    intended_use: str = INTENDED_USE
    extra: JsonDict = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: JsonDict, path: Path) -> Scorecard:
        sets = {set_id: SetScore.from_json(row, path, set_id) for set_id, row in _field(raw, "sets", path, dict).items()}
        reference = _field(raw, "reference", path, (str, type(None)), None)
        if reference is not None and reference not in sets:
            raise ArtifactError(f"{path}: field 'reference' names set {reference!r}, which is not among {sorted(sets)}")
        return cls(
            model_id=_field(raw, "model_id", path, str), generator_checksum=_field(raw, "generator_checksum", path, str),
            factor_names=_field(raw, "factor_names", path, list), paper_factors=_field(raw, "paper_factors", path, list),
            sets=sets, reference=reference, intended_use=_field(raw, "intended_use", path, str, INTENDED_USE),
            extra=_extras(raw, cls),
        )

    def best_direction(self, set_id: str, factor: str) -> int | None:
        """The set's best direction for `factor` (found or not); None when the scorecard has no such cell."""
        row = self.sets.get(set_id)
        cell = row.per_factor.get(factor) if row is not None else None
        return None if cell is None else cell.direction

    ORDER: ClassVar[tuple[str, ...]] = ("model_id", "generator_checksum", "config", "precision_used", "factor_names",
                                        "paper_factors", "natural_sd", "probe_checksum", "rule", "pool", "reference",
                                        "sets")

    def to_json(self) -> JsonDict:
        """The file's fields in the order discovery/scorecard.py writes them (shipped scorecards round-trip)."""
        fields_ = {**_known(self), **self.extra, "sets": {k: v.to_json() for k, v in self.sets.items()}}
        intended_use = fields_.pop("intended_use")
        out = {key: fields_.pop(key) for key in self.ORDER if key in fields_}
        return {**out, **fields_, "intended_use": intended_use}


class _Card(Protocol):
    def to_json(self) -> JsonDict: ...


CardT = TypeVar("CardT", ModelCard, DirectionSetCard)


def read_card(path: Path, card_type: type[CardT]) -> CardT:
    return card_type.from_json(read_json(path), path)


def write_card(path: Path, card: _Card) -> None:
    write_json(path, card.to_json())


def merged(card: CardT, updates: JsonDict, path: Path) -> CardT:
    """`card` with `updates` merged in (dicts one level deep); protected fields are refused, the result is checked."""
    clash = card.PROTECTED & set(updates)
    if clash:
        raise InvalidInputError(f"fields {sorted(clash)} of {card.WHAT} cannot be updated{card.REMEDY}")
    raw = card.to_json()
    for key, value in updates.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict) else value
    return type(card).from_json(raw, path)


def update_card(path: Path, card_type: type[CardT], updates: JsonDict) -> CardT:
    """The one merge-update of a card file: read, merge, check, write atomically; returns the card written."""
    card = merged(read_card(path, card_type), updates, path)
    write_card(path, card)
    return card


__all__ = [
    "DirectionSetCard", "FactorScore", "ModelCard", "Scorecard", "SetEvaluation", "SetScore", "merged", "read_card",
    "update_card", "write_card",
]
