"""Blinded reader studies: several direction sets of one model shown to annotators as opaque items in a per-annotator
random order, labelled through the study as ordinary blinded labels.

How the set stays hidden: an item id is random hex drawn when the study is created (never derived from the set or the
direction), annotators' answers (`StudyView`, `ItemView`, `StudyLabel`) carry no set id, checksum or direction, and
errors raised while serving an item are re-worded with the set id replaced (`hide_sets`). Only admins read the
item-to-set mapping (results, `StudyDetail`).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from latentct.artifacts.catalog import DirectionCatalog, SetIdentity
from latentct.core.errors import InvalidInputError, LatentCTError, NotFoundError
from latentct.labels.db import WRITE_OPTION
from latentct.labels.errors import ConflictError, LabelStoreUnavailableError, PermissionDeniedError
from latentct.labels.store import Annotator, LabelStore, check_text
from latentct.labels.study_tables import (
    ITEM_ID_CHARS,
    MAX_STUDY_NAME_CHARS,
    StudyItemRow,
    StudyLabelRow,
    StudyRow,
    StudySetRow,
)
from latentct.labels.tables import LabelRow

MAX_SETS = 16
MAX_ITEMS = 4096
HIDDEN = "[hidden]"


@dataclass(frozen=True)
class StudySet:
    set_id: str
    set_checksum: str
    directions: int  # how many of its directions the study shows


@dataclass(frozen=True)
class StudyDetail:
    """A study as its admin sees it: sets named."""

    id: int
    name: str
    model_id: str
    model_checksum: str
    created_at: datetime
    created_by: int
    sets: list[StudySet]


@dataclass(frozen=True)
class StudyItem:
    """Admin-side: an item and the set direction behind it."""

    item_id: str
    set_id: str
    direction: int


@dataclass(frozen=True)
class StudyView:
    """A study as an annotator sees it: no set ids, only counts and the next item in their own order."""

    id: int
    name: str
    model_id: str
    items: int
    labelled: int
    next_item: str | None


@dataclass(frozen=True)
class ItemView:
    item_id: str
    position: int  # 1-based place in this annotator's order
    labelled: bool


@dataclass(frozen=True)
class StudyLabel:
    """What an annotator gets back after labelling an item: the label's own fields, never its set or direction."""

    label_id: int
    study_id: int
    item_id: str
    term: str
    text: str
    confidence: int
    polarity: str
    sign: int | None
    blinded: bool
    created_at: datetime
    next_item: str | None


@dataclass(frozen=True)
class LabelAnswer:
    """An annotator's latest label for a study item (what results need of it)."""

    item_id: str
    label_id: int
    annotator_id: int
    set_id: str
    direction: int
    term: str
    confidence: int


def annotator_order(study_id: int, annotator_id: int, item_ids: Sequence[str]) -> list[str]:
    """The items in this annotator's order: a shuffle seeded by (study, annotator), stable across sessions.

    Sorting first makes the order independent of how the database returns rows.
    """
    digest = hashlib.sha256(f"latentct-study:{study_id}:annotator:{annotator_id}".encode("ascii")).digest()
    ordered = sorted(item_ids)
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(ordered)
    return ordered


def hide_sets(exc: LatentCTError, set_ids: Sequence[str]) -> LatentCTError:
    """The same error with every set id in its message replaced, for answers an annotator reads."""
    message = str(exc)
    for set_id in sorted(set_ids, key=len, reverse=True):
        message = message.replace(set_id, HIDDEN)
    exc.args = (message,)
    return exc


@contextlib.contextmanager
def _database_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise LabelStoreUnavailableError(f"label database unavailable while {action}") from exc


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _new_item_ids(count: int) -> list[str]:
    """Random hex ids, unique within the study, in the order drawn: neither an id nor its rank says which set."""
    ids: list[str] = []
    while len(ids) < count:
        item_id = secrets.token_hex(ITEM_ID_CHARS // 2)
        if item_id not in ids:
            ids.append(item_id)
    return ids


class StudyStore:
    """Reader studies over a LabelStore's database; labels themselves go through the LabelStore."""

    def __init__(self, labels: LabelStore) -> None:
        self.labels = labels
        self._read = sessionmaker(labels.engine, expire_on_commit=False)
        self._write = sessionmaker(labels.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)

    def _session(self, write: bool = False) -> Session:
        self.labels.initialize()  # migrated before the first study query
        return (self._write if write else self._read)()

    # creation ----------------------------------------------------------------------------------------------

    def create(
        self,
        admin: Annotator,
        identities: Sequence[SetIdentity],
        name: str = "",
        directions_per_set: int | None = None,
    ) -> StudyDetail:
        """A study over `identities` (sets of one model), showing the first `directions_per_set` of each (all if None)."""
        if not admin.is_admin:
            raise PermissionDeniedError(f"annotator {admin.id} has role {admin.role!r}; creating a study needs 'admin'")
        sets = _checked_sets(identities, directions_per_set)
        name = _checked_name(name, identities)
        plan = [(identity.set_id, d) for identity, count in sets for d in range(count)]
        if len(plan) > MAX_ITEMS:
            raise InvalidInputError(f"a study of {len(plan)} items is too large; at most {MAX_ITEMS} are allowed")
        with _database_errors("creating a study"), self._session(write=True) as session, session.begin():
            row = StudyRow(
                name=name or "reader study",
                model_id=identities[0].model_id,
                model_checksum=identities[0].model_checksum,
                created_at=_utc_now(),
                created_by=admin.id,
            )
            session.add(row)
            session.flush()
            session.add_all(
                StudySetRow(study_id=row.id, set_id=identity.set_id, set_checksum=identity.set_checksum)
                for identity, _ in sets
            )
            session.flush()
            session.add_all(
                StudyItemRow(study_id=row.id, item_id=item_id, set_id=set_id, direction=direction)
                for item_id, (set_id, direction) in zip(_new_item_ids(len(plan)), plan, strict=True)
            )
            study_id = row.id
        return self.detail(study_id)

    # reading -----------------------------------------------------------------------------------------------

    def detail(self, study_id: int) -> StudyDetail:
        """The study with its sets (admin-side)."""
        with _database_errors("reading a study"), self._session() as session:
            row = session.get(StudyRow, study_id)
            if row is None:
                raise NotFoundError(f"study {study_id} does not exist")
            set_rows = session.scalars(
                select(StudySetRow).where(StudySetRow.study_id == study_id).order_by(StudySetRow.set_id)
            ).all()
            items = session.scalars(select(StudyItemRow.set_id).where(StudyItemRow.study_id == study_id)).all()
        sets = [StudySet(s.set_id, s.set_checksum, sum(1 for i in items if i == s.set_id)) for s in set_rows]
        return StudyDetail(
            row.id, row.name, row.model_id, row.model_checksum, row.created_at, row.created_by, sets
        )

    def study_ids(self) -> list[int]:
        with _database_errors("listing studies"), self._session() as session:
            return list(session.scalars(select(StudyRow.id).order_by(StudyRow.id)).all())

    def items(self, study_id: int) -> list[StudyItem]:
        """Every item with its set and direction (admin-side), in item id order."""
        with _database_errors("reading study items"), self._session() as session:
            if session.get(StudyRow, study_id) is None:
                raise NotFoundError(f"study {study_id} does not exist")
            rows = session.scalars(
                select(StudyItemRow).where(StudyItemRow.study_id == study_id).order_by(StudyItemRow.item_id)
            ).all()
            return [StudyItem(row.item_id, row.set_id, row.direction) for row in rows]

    def item(self, study_id: int, item_id: str) -> StudyItem:
        """One item (NotFoundError naming only the study and the item id the client sent)."""
        with _database_errors("reading a study item"), self._session() as session:
            row = session.get(StudyItemRow, (study_id, item_id)) if len(item_id) <= ITEM_ID_CHARS else None
            if row is None:
                raise NotFoundError(f"study {study_id} has no item {item_id!r}")
            return StudyItem(row.item_id, row.set_id, row.direction)

    def answers(self, study_id: int, annotator_id: int | None = None) -> list[LabelAnswer]:
        """Each annotator's latest label per item of the study (of one annotator when given)."""
        statement = (
            select(StudyLabelRow.item_id, LabelRow)
            .join(LabelRow, LabelRow.id == StudyLabelRow.label_id)
            .where(StudyLabelRow.study_id == study_id)
            .order_by(LabelRow.id)
        )
        if annotator_id is not None:
            statement = statement.where(LabelRow.annotator_id == annotator_id)
        latest: dict[tuple[int, str], LabelAnswer] = {}
        with _database_errors("reading study labels"), self._session() as session:
            for item_id, row in session.execute(statement):
                latest[(row.annotator_id, item_id)] = LabelAnswer(
                    item_id, row.id, row.annotator_id, row.set_id, row.direction_index, row.term, row.confidence
                )
        return list(latest.values())

    def annotator_items(self, study_id: int, annotator: Annotator) -> list[ItemView]:
        """The study's items in this annotator's order, each marked labelled or not (by this annotator)."""
        item_ids = [item.item_id for item in self.items(study_id)]
        done = {answer.item_id for answer in self.answers(study_id, annotator.id)}
        order = annotator_order(study_id, annotator.id, item_ids)
        return [ItemView(item_id, position, item_id in done) for position, item_id in enumerate(order, start=1)]

    def view(self, study_id: int, annotator: Annotator) -> StudyView:
        """The study as this annotator sees it."""
        detail = self.detail(study_id)
        items = self.annotator_items(study_id, annotator)
        pending = [item.item_id for item in items if not item.labelled]
        return StudyView(
            detail.id,
            detail.name,
            detail.model_id,
            len(items),
            len(items) - len(pending),
            pending[0] if pending else None,
        )

    # labelling ---------------------------------------------------------------------------------------------

    def served_identity(self, study_id: int, item: StudyItem, catalog: DirectionCatalog) -> SetIdentity:
        """The served set behind an item, checked against the checksums the study was created with."""
        detail = self.detail(study_id)
        set_ids = [s.set_id for s in detail.sets]
        try:
            identity = catalog.direction_set_identity(detail.model_id, item.set_id)
        except LatentCTError as exc:
            raise hide_sets(exc, set_ids) from None
        expected = next(s.set_checksum for s in detail.sets if s.set_id == item.set_id)
        if identity.set_checksum != expected or identity.model_checksum != detail.model_checksum:
            raise ConflictError(
                f"the directions of study {study_id} changed on the server since it was created (retrained); "
                "ask the admin for a new study"
            )
        return identity

    def label_item(
        self,
        annotator: Annotator,
        study_id: int,
        item_id: str,
        catalog: DirectionCatalog,
        fields: LabelFields,
        idempotency_key: str | None = None,
    ) -> StudyLabel:
        """Store a blinded label for the item's direction and link it to the item.

        The label and the link are two transactions (the label store owns the first). The label is posted with an
        idempotency key derived from the item and the client's key, so a retry after a failure between the two
        replays the same label and then writes the missing link: never a second label, never a lost link.
        """
        item = self.item(study_id, item_id)
        identity = self.served_identity(study_id, item, catalog)
        key = _derived_key(study_id, item_id, idempotency_key)
        try:
            written = self.labels.write_label(
                annotator,
                identity,
                direction_index=item.direction,
                term=fields.term,
                text=fields.text,
                confidence=fields.confidence,
                polarity=fields.polarity,
                blinded=True,  # a study shows no consensus and no measured hint before the label
                idempotency_key=key,
                sign=fields.sign,
                context=fields.context,
            )
        except LatentCTError as exc:
            raise hide_sets(exc, [s.set_id for s in self.detail(study_id).sets]) from None
        self._link(written.label.id, study_id, item_id)
        label = written.label
        return StudyLabel(
            label.id, study_id, item_id, label.term, label.text, label.confidence, label.polarity, label.sign,
            label.blinded, label.created_at, self.view(study_id, annotator).next_item,
        )

    def _link(self, label_id: int, study_id: int, item_id: str) -> None:
        with _database_errors("linking a study label"), self._session(write=True) as session, session.begin():
            if session.get(StudyLabelRow, label_id) is None:  # a replayed label is linked already
                session.add(StudyLabelRow(label_id=label_id, study_id=study_id, item_id=item_id))


@dataclass(frozen=True)
class LabelFields:
    """What an annotator posts for an item; the store checks each field."""

    term: str
    text: str = ""
    confidence: int = 3
    polarity: str = ""
    sign: int | None = None  # +1 / -1 against the term's positive sense, None unknown
    context: Mapping[str, Any] | None = None  # {"window", "seeds", "extent", "steps"} the annotator saw


def _derived_key(study_id: int, item_id: str, client_key: str | None) -> str:
    """The label's idempotency key: per item, and per client key when the client sent one (else a fresh one)."""
    client_part = client_key if client_key is not None else secrets.token_hex(16)
    digest = hashlib.sha256(client_part.encode("utf-8", "backslashreplace")).hexdigest()[:32]
    return f"study:{study_id}:{item_id}:{digest}"


def _checked_sets(
    identities: Sequence[SetIdentity], directions_per_set: int | None
) -> list[tuple[SetIdentity, int]]:
    """Two or more distinct sets of one model, with how many directions of each the study shows."""
    if len(identities) < 2:
        raise InvalidInputError(f"a study compares several direction sets; got {len(identities)}, need 2..{MAX_SETS}")
    if len(identities) > MAX_SETS:
        raise InvalidInputError(f"a study takes at most {MAX_SETS} direction sets; got {len(identities)}")
    ids = [identity.set_id for identity in identities]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"direction sets are repeated: {', '.join(ids)}; name each once")
    models = {(identity.model_id, identity.model_checksum) for identity in identities}
    if len(models) != 1:
        raise InvalidInputError("the direction sets of a study must belong to one model")
    if directions_per_set is not None and not 1 <= directions_per_set <= MAX_ITEMS:
        raise InvalidInputError(f"directions per set {directions_per_set} is out of range; allowed: 1..{MAX_ITEMS}")
    return [
        (identity, identity.count if directions_per_set is None else min(directions_per_set, identity.count))
        for identity in identities
    ]


def _checked_name(name: str, identities: Sequence[SetIdentity]) -> str:
    """Annotators read the study's name, so it may not name a set."""
    name = check_text(name.strip(), "study name", MAX_STUDY_NAME_CHARS, allow_newlines=False)
    for identity in identities:
        if identity.set_id.lower() in name.lower():
            raise InvalidInputError(
                f"study name {name!r} names direction set {identity.set_id!r}; annotators see the name, "
                "so it must not reveal the sets"
            )
    return name
