"""The label store: annotators and their tokens, append-only label events, current labels and agreement per set."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, aliased, sessionmaker

from latentct.artifacts.catalog import SetIdentity
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.labels.agreement import SetAgreement, Vote, set_agreement
from latentct.labels.context import check_sign, context_from_json, context_json
from latentct.labels.db import WRITE_OPTION, create_label_engine, upgrade_database
from latentct.labels.errors import IdempotencyConflictError, LabelStoreUnavailableError
from latentct.labels.study_tables import StudyLabelRow
from latentct.labels.tables import (
    MAX_ANNOTATOR_NAME_CHARS,
    MAX_CHECKSUM_CHARS,
    MAX_ID_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_POLARITY_CHARS,
    MAX_TEXT_CHARS,
    ROLES,
    AnnotatorRow,
    LabelIdempotencyKeyRow,
    LabelRow,
)
from latentct.labels.tokens import (
    MIN_ADMIN_TOKEN_BITS,
    check_admin_token,
    estimate_token_bits,
    hash_token,
    new_token,
)
from latentct.labels.vocabulary import Term, Vocabulary, load_vocabulary

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 512
BOOTSTRAP_ADMIN_NAME = "admin (LATENTCT_ADMIN_TOKEN)"
MAX_CONFIDENCE = 5
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str
    role: str
    created_at: datetime
    revoked: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Label:
    """One stored label event; `current` tells whether it is its annotator's latest for that direction."""

    id: int
    annotator_id: int
    annotator_name: str
    created_at: datetime
    model_id: str
    model_checksum: str
    set_id: str
    set_checksum: str
    direction_index: int
    term: str
    text: str
    confidence: int
    polarity: str
    blinded: bool
    current: bool
    sign: int | None = None  # +1 / -1 against the term's positive sense; None unknown
    context: dict[str, Any] | None = None  # {"window", "seeds", "extent", "steps"} the annotator saw, if sent


@dataclass(frozen=True)
class LabelQuery:
    """Filters of a label listing; None means any. `current_only` keeps each annotator's latest per direction;
    `outside_studies` leaves out labels given in a blinded reader study (their set and direction are the study's
    secret: an annotator reads those answers through the study, which never names them)."""

    model_id: str | None = None
    set_id: str | None = None
    direction_index: int | None = None
    annotator_id: int | None = None
    current_only: bool = False
    outside_studies: bool = False
    limit: int = 1000
    offset: int = 0


@dataclass(frozen=True)
class _LabelFields:
    """A label's fields after the store's checks, ready to become a row."""

    identity: SetIdentity
    direction_index: int
    term: str  # the vocabulary's id of the term
    text: str
    confidence: int
    polarity: str
    blinded: bool  # what the client claimed; the stored value is decided in the write transaction
    sign: int | None = None
    context: str | None = None  # canonical JSON text

    def row(self, annotator_id: int) -> LabelRow:
        return LabelRow(
            annotator_id=annotator_id,
            created_at=_utc_now(),
            model_id=self.identity.model_id,
            model_checksum=self.identity.model_checksum,
            set_id=self.identity.set_id,
            set_checksum=self.identity.set_checksum,
            direction_index=self.direction_index,
            term=self.term,
            text=self.text,
            confidence=self.confidence,
            polarity=self.polarity,
            blinded=self.blinded,
            sign=self.sign,
            context=self.context,
        )


@dataclass(frozen=True)
class LabelWrite:
    """The answer to a label post: the stored label, and whether an earlier post with the same key stored it."""

    label: Label
    replayed: bool


def check_idempotency_key(key: str) -> str:
    """1..255 printable ASCII characters, no space at either end (headers lose those); else InvalidInputError."""
    allowed = (
        f"allowed: 1..{MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters, no space at either end, "
        "e.g. a UUID; use a new key per label and the same key for its retries"
    )
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidInputError(f"Idempotency-Key has {len(key)} characters; {allowed}")
    if not all(" " <= ch <= "~" for ch in key) or key[0] == " " or key[-1] == " ":
        shown = key if len(key) <= 80 else key[:77] + "..."
        raise InvalidInputError(f"Idempotency-Key {shown!r} is not allowed; {allowed}")
    return key


def check_text(value: str, what: str, max_chars: int, allow_newlines: bool) -> str:
    """Reject what no database should receive (NUL, lone surrogates, control characters) and oversize text."""
    if len(value) > max_chars:
        raise InvalidInputError(f"{what} has {len(value)} characters; at most {max_chars} are allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode text (lone surrogate)") from None
    allowed_controls = "\n\r\t" if allow_newlines else ""
    if any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed_controls for ch in value):
        raise InvalidInputError(f"{what} contains control characters; only printable text is allowed")
    return value


@contextlib.contextmanager
def _database_errors(action: str) -> Iterator[None]:
    """Turn 'the database is not there' into LabelStoreUnavailableError; other errors stay what they are."""
    try:
        yield
    except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
        raise LabelStoreUnavailableError(
            f"label database unavailable while {action}: {_first_line(exc)}"
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise LabelStoreUnavailableError(f"label database connection lost while {action}") from exc
        if _schema_missing(exc):
            raise SchemaMissingError(f"label database has no LatentCT tables while {action}; migrating again") from exc
        raise


def _schema_missing(exc: DBAPIError) -> bool:
    """A database dropped and re-created empty (lost volume, restore into a fresh server): our tables are gone."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


class SchemaMissingError(LabelStoreUnavailableError):
    """The database answers but its tables are gone; the store migrates again on the next request."""


class LabelStore:
    """Thread-safe facade over one database; every method opens and closes its own short transaction."""

    def __init__(self, engine: Engine, vocabulary: Vocabulary, admin_token: str | None = None) -> None:
        self._engine = engine
        self._read_sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        self.vocabulary = vocabulary
        check_admin_token(admin_token)  # before anything is stored: a weak token's hash never reaches the table
        self._admin_token = admin_token or None
        self._ready = False
        self._ready_lock = threading.Lock()
        self._bootstrap_admin: Annotator | None = None
        self._outage: str | None = None  # why the database failed last, until a request succeeds again

    # lifecycle ---------------------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    def initialize(self) -> None:
        """Migrate the schema and make sure the bootstrap admin exists; raises LabelStoreUnavailableError."""
        with self._ready_lock:
            if self._ready:
                return
            upgrade_database(self._engine)
            if self._admin_token:
                self._bootstrap_admin = self._ensure_bootstrap_admin(self._admin_token)
            self._ready = True

    def try_initialize(self) -> bool:
        """Like initialize() but a database that is down only logs: the store retries on first use."""
        try:
            self.initialize()
        except LabelStoreUnavailableError as exc:
            log.warning("%s; label endpoints answer 503 until it is back", exc)
            self._outage = str(exc)
            return False
        return True

    def close(self) -> None:
        self._engine.dispose()

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """`_database_errors`, and a vanished schema makes the next request migrate again (answered 503 meanwhile)."""
        try:
            with _database_errors(action):
                yield
        except LabelStoreUnavailableError as exc:
            if isinstance(exc, SchemaMissingError):
                with self._ready_lock:
                    self._ready = False
            if self._outage is None:  # one warning per outage, not one per request
                log.warning("%s; label endpoints answer 503 until it is back", exc)
            self._outage = str(exc)
            raise
        if self._outage is not None:
            log.warning("label database is back after: %s", self._outage)
            self._outage = None

    @property
    def status(self) -> str:
        """'ok', or 'unavailable: <why>' since the last failed request (readiness reports it)."""
        return "ok" if self._outage is None else f"unavailable: {self._outage}"

    def _session(self, write: bool = False) -> Session:
        self.initialize()
        return (self._write_sessions if write else self._read_sessions)()

    # annotators --------------------------------------------------------------------------------------------

    def create_annotator(self, name: str, role: str = "annotator") -> tuple[Annotator, str]:
        """Add an annotator; returns it with its token, which is shown this once and stored only hashed."""
        name = check_text(name.strip(), "annotator name", MAX_ANNOTATOR_NAME_CHARS, allow_newlines=False)
        if not name:
            raise InvalidInputError("annotator name must not be empty")
        if role not in ROLES:
            raise InvalidInputError(f"role {role!r} is not allowed; allowed: {', '.join(ROLES)}")
        token = new_token()
        row = AnnotatorRow(name=name, role=role, token_sha256=hash_token(token), created_at=_utc_now())
        with self._errors("adding an annotator"), self._session(write=True) as session, session.begin():
            session.add(row)
            session.flush()
            annotator = _annotator_record(row)
        return annotator, token

    def list_annotators(self) -> list[Annotator]:
        with self._errors("listing annotators"), self._session() as session:
            rows = session.scalars(select(AnnotatorRow).order_by(AnnotatorRow.id)).all()
            return [_annotator_record(row) for row in rows]

    def revoke_annotator(self, annotator_id: int) -> Annotator:
        """Invalidate an annotator's token; their labels stay."""
        with self._errors("revoking an annotator"), self._session(write=True) as session, session.begin():
            row = session.get(AnnotatorRow, annotator_id)
            if row is None:
                raise NotFoundError(f"annotator {annotator_id} does not exist")
            row.token_sha256 = None
            row.revoked_at = row.revoked_at or _utc_now()
            return _annotator_record(row)

    def authenticate(self, token: str | None) -> Annotator | None:
        """The annotator holding `token`, or None for a missing, unknown or revoked token."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        if self._admin_token and hmac.compare_digest(
            token.encode("utf-8"), self._admin_token.encode("utf-8")
        ):
            self.initialize()
            return self._bootstrap_admin
        if estimate_token_bits(token) < MIN_ADMIN_TOKEN_BITS:
            # every token we issue holds 256 bits; a weak one can only be a bootstrap admin token stored before
            # LATENTCT_ADMIN_TOKEN had to be strong (and since unset), which must not work any more
            return None
        try:
            token_hash = hash_token(token)
        except UnicodeEncodeError:
            return None
        with self._errors("checking a token"), self._session() as session:
            row = session.scalars(
                select(AnnotatorRow).where(
                    AnnotatorRow.token_sha256 == token_hash, AnnotatorRow.revoked_at.is_(None)
                )
            ).first()
            return _annotator_record(row) if row is not None else None

    def _ensure_bootstrap_admin(self, token: str) -> Annotator:
        """The admin behind LATENTCT_ADMIN_TOKEN: one row (bootstrap_slot 1), re-keyed when the token changes."""
        token_hash = hash_token(token)
        for attempt in range(2):
            try:
                with (
                    _database_errors("checking the admin token"),
                    self._write_sessions() as session,
                    session.begin(),
                ):
                    row = session.scalars(
                        select(AnnotatorRow).where(AnnotatorRow.bootstrap_slot == 1)
                    ).first()
                    if row is None:
                        row = AnnotatorRow(
                            name=BOOTSTRAP_ADMIN_NAME,
                            role="admin",
                            token_sha256=token_hash,
                            created_at=_utc_now(),
                            bootstrap_slot=1,
                        )
                        session.add(row)
                    elif row.token_sha256 != token_hash or row.revoked_at is not None or row.role != "admin":
                        # a changed LATENTCT_ADMIN_TOKEN retires the old one
                        row.token_sha256, row.revoked_at, row.role = token_hash, None, "admin"
                    session.flush()
                    return _annotator_record(row)
            except IntegrityError:
                if attempt:  # another process created it between our select and insert: read theirs
                    raise
        raise AssertionError("unreachable")

    # labels ------------------------------------------------------------------------------------------------

    def add_label(
        self,
        annotator: Annotator,
        identity: SetIdentity,
        direction_index: int,
        term: str,
        text: str = "",
        confidence: int = 3,
        polarity: str = "",
        blinded: bool | None = None,
        idempotency_key: str | None = None,
        sign: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Label:
        """Append one label event after checking every field; nothing is written when a check fails."""
        return self.write_label(
            annotator,
            identity,
            direction_index,
            term,
            text,
            confidence,
            polarity,
            blinded,
            idempotency_key,
            sign=sign,
            context=context,
        ).label

    def write_label(
        self,
        annotator: Annotator,
        identity: SetIdentity,
        direction_index: int,
        term: str,
        text: str = "",
        confidence: int = 3,
        polarity: str = "",
        blinded: bool | None = None,
        idempotency_key: str | None = None,
        sign: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> LabelWrite:
        """`add_label`, once per (annotator, idempotency_key): a retry with the same fields gets the first label back.

        The key row is inserted in the label's transaction, so a label and its key are stored together or not at all.
        The same key with other fields raises IdempotencyConflictError and stores nothing.

        `blinded` is the client's claim; the stored value is the server's: true only when this annotator could not
        have seen others' labels of the direction (see `_could_see_others`), and false whenever the client says false.
        """
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        # the fields as posted, before normalising: a retry is recognised by what the client sent
        fingerprint = _request_fingerprint(
            identity, direction_index, term, text, confidence, polarity, blinded, sign, context
        )
        fields = self._checked_fields(identity, direction_index, term, text, confidence, polarity, blinded)
        fields = replace(fields, sign=check_sign(sign, self._term(term)), context=context_json(context))
        for attempt in range(2):
            try:
                # a fresh row per attempt: a rolled-back one keeps stale state
                return self._store_label(annotator, fields.row(annotator.id), idempotency_key, fingerprint)
            except IntegrityError:
                # PostgreSQL: a concurrent request with the same key committed between our lookup and our insert,
                # and the primary key refused ours (our label rolled back with it); the next lookup finds theirs.
                # (SQLite writers are serialised by BEGIN IMMEDIATE and never get here.)
                if idempotency_key is None or attempt:
                    raise
        raise AssertionError("unreachable")

    def _checked_fields(
        self,
        identity: SetIdentity,
        direction_index: int,
        term: str,
        text: str,
        confidence: int,
        polarity: str,
        blinded: bool | None,
    ) -> _LabelFields:
        """A label's fields checked (InvalidInputError; NotFoundError for a direction the set lacks) and normalised."""
        _check_identity(identity)
        if isinstance(direction_index, bool) or not 0 <= direction_index < identity.count:
            raise NotFoundError(
                f"direction {direction_index} does not exist in set {identity.set_id!r} of model "
                f"{identity.model_id!r}; allowed: 0..{identity.count - 1}"
            )
        vocabulary_term = self._term(term)
        text = check_text(text, "text", MAX_TEXT_CHARS, allow_newlines=True).strip()
        polarity = check_text(polarity, "polarity", MAX_POLARITY_CHARS, allow_newlines=False).strip()
        if vocabulary_term.requires_text and not text:
            raise InvalidInputError(f"term {term!r} needs free text saying what changes")
        if isinstance(confidence, bool) or not 1 <= confidence <= MAX_CONFIDENCE:
            raise InvalidInputError(
                f"confidence {confidence!r} is out of range; allowed: 1..{MAX_CONFIDENCE}"
            )
        # None (not said) counts as a claim of blinding: the server decides whether it holds
        claimed = blinded is None or bool(blinded)
        return _LabelFields(identity, direction_index, vocabulary_term.id, text, confidence, polarity, claimed)

    def _store_label(
        self, annotator: Annotator, row: LabelRow, idempotency_key: str | None, fingerprint: str
    ) -> LabelWrite:
        """One write transaction: answer an earlier label with this key, or insert the label and its key together."""
        with self._errors("storing a label"), self._session(write=True) as session, session.begin():
            if idempotency_key is not None:
                earlier = self._earlier_label(session, annotator, idempotency_key, fingerprint)
                if earlier is not None:
                    return LabelWrite(earlier, replayed=True)
            # inside the write transaction: on SQLite writers are serialised, so no label slips in between
            row.blinded = bool(row.blinded) and not _could_see_others(session, annotator, row)
            session.add(row)
            session.flush()
            if idempotency_key is not None:
                session.add(
                    LabelIdempotencyKeyRow(
                        annotator_id=annotator.id,
                        idempotency_key=idempotency_key,
                        request_sha256=fingerprint,
                        label_id=row.id,
                        created_at=row.created_at,
                    )
                )
                session.flush()
            return LabelWrite(_label_record(row, annotator.name, current=True), replayed=False)

    def _earlier_label(self, session: Session, annotator: Annotator, key: str, fingerprint: str) -> Label | None:
        """The label first stored with (annotator, key), as it is now; IdempotencyConflictError if the fields differ."""
        key_row = session.get(LabelIdempotencyKeyRow, (annotator.id, key))
        if key_row is None:
            return None
        if not hmac.compare_digest(key_row.request_sha256, fingerprint):
            raise IdempotencyConflictError(
                f"Idempotency-Key {key!r} was already used by annotator {annotator.id} for label {key_row.label_id} "
                "with different fields; send a new key for a new label"
            )
        stored = session.execute(
            select(LabelRow, _is_current_expression().label("current")).where(LabelRow.id == key_row.label_id)
        ).one()
        return _label_record(stored[0], annotator.name, current=bool(stored[1]))

    def _term(self, term: str) -> Term:
        try:
            return self.vocabulary.get(term)
        except NotFoundError as exc:
            # an unknown term is a bad value in the request body (422), not a missing resource
            raise InvalidInputError(str(exc)) from None

    def list_labels(self, query: LabelQuery | None = None) -> list[Label]:
        """Label events matching `query`, oldest first, each flagged current or superseded."""
        query = query or LabelQuery()
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit {query.limit} is out of range; allowed: 1..{MAX_PAGE_SIZE}")
        if query.offset < 0:
            raise InvalidInputError(f"offset {query.offset} must be >= 0")
        is_current = _is_current_expression()
        statement = (
            select(LabelRow, AnnotatorRow.name, is_current.label("current"))
            .join(AnnotatorRow, AnnotatorRow.id == LabelRow.annotator_id)
            .order_by(LabelRow.id)
            .limit(query.limit)
            .offset(query.offset)
        )
        conditions = [
            column == value
            for column, value in (
                (LabelRow.model_id, query.model_id),
                (LabelRow.set_id, query.set_id),
                (LabelRow.direction_index, query.direction_index),
                (LabelRow.annotator_id, query.annotator_id),
            )
            if value is not None
        ]
        if query.current_only:
            conditions.append(is_current)
        if query.outside_studies:
            conditions.append(LabelRow.id.not_in(select(StudyLabelRow.label_id)))
        if conditions:
            statement = statement.where(and_(*conditions))
        with self._errors("listing labels"), self._session() as session:
            return [
                _label_record(row, name, bool(current)) for row, name, current in session.execute(statement)
            ]

    def iter_all_labels(self, batch_size: int = 1000) -> Iterator[Label]:
        """Every label event, oldest first, in pages (for exports)."""
        offset = 0
        while True:
            page = self.list_labels(LabelQuery(limit=batch_size, offset=offset))
            yield from page
            if len(page) < batch_size:
                return
            offset += batch_size

    def count_labels(self) -> int:
        with self._errors("counting labels"), self._session() as session:
            return int(session.scalar(select(func.count()).select_from(LabelRow)) or 0)

    def current_labels(self, identity: SetIdentity) -> list[Label]:
        """Each annotator's latest label per direction of exactly this set (model and set checksums must match)."""
        is_current = _is_current_expression()
        statement = (
            select(LabelRow, AnnotatorRow.name)
            .join(AnnotatorRow, AnnotatorRow.id == LabelRow.annotator_id)
            .where(
                LabelRow.model_id == identity.model_id,
                LabelRow.set_id == identity.set_id,
                LabelRow.model_checksum == identity.model_checksum,
                LabelRow.set_checksum == identity.set_checksum,
                is_current,
            )
            .order_by(LabelRow.direction_index, LabelRow.annotator_id)
        )
        with self._errors("reading current labels"), self._session() as session:
            return [_label_record(row, name, current=True) for row, name in session.execute(statement)]

    def agreement(self, identity: SetIdentity) -> SetAgreement:
        """Per-direction consensus and set-wide Fleiss' kappa / Krippendorff's alpha over current labels."""
        return self.agreement_and_labels(identity)[0]

    def agreement_and_labels(self, identity: SetIdentity) -> tuple[SetAgreement, list[Label]]:
        """`agreement` and the current labels it was computed from (one read: the two always match)."""
        labels = self.current_labels(identity)
        votes = [Vote(label.annotator_id, label.direction_index, label.term, label.sign) for label in labels]
        return set_agreement(votes, identity.count), labels


def consensus_for_set(store: LabelStore, identity: SetIdentity) -> dict[int, dict[str, Any]]:
    """Consensus per labelled direction for the server's own use: {index: {"term", "sign", "share", "n_labels"}}.

    Unblinded: what a caller may see is decided by labels/blinding.py. Directions nobody labelled are absent.
    `term` and `sign` are None when the top (term, sign) categories tie.
    Raises LabelStoreUnavailableError when the database is down.
    """
    agreement = store.agreement(identity)
    return {
        direction.index: {
            "term": direction.consensus.term,
            "sign": direction.consensus.sign,
            "share": direction.consensus.share,
            "n_labels": direction.consensus.n_labels,
        }
        for direction in agreement.directions
        if direction.consensus.n_labels > 0
    }


def open_label_store(settings: Any, initialize: bool = True) -> LabelStore:
    """Build the store from Settings (database URL, vocabulary file, admin token) and migrate the schema.

    A database that does not answer yet is not fatal: the store logs it and migrates on first use. A bad URL
    or vocabulary file raises InvalidInputError at once.
    """
    vocabulary = load_vocabulary(settings.vocabulary_file)
    engine = create_label_engine(settings.resolved_database_url())
    store = LabelStore(engine, vocabulary, admin_token=settings.admin_token)
    if initialize:
        store.try_initialize()
    return store


def _is_current_expression() -> Any:
    """SQL truth of 'no later event by the same annotator for the same direction of the same set'."""
    later = aliased(LabelRow)
    return ~exists().where(
        later.annotator_id == LabelRow.annotator_id,
        later.model_id == LabelRow.model_id,
        later.set_id == LabelRow.set_id,
        later.model_checksum == LabelRow.model_checksum,
        later.set_checksum == LabelRow.set_checksum,
        later.direction_index == LabelRow.direction_index,
        later.id > LabelRow.id,
    )


def _could_see_others(session: Session, annotator: Annotator, row: LabelRow) -> bool:
    """Whether the annotator could have seen others' labels of this direction before this one.

    Consensus is shown to admins always and to an annotator for directions they labelled, so it could have been seen
    when another annotator's label exists and the author is an admin or labelled this direction before. A first
    label of an annotator is blinded by construction.
    """
    same_direction = (
        LabelRow.model_id == row.model_id,
        LabelRow.set_id == row.set_id,
        LabelRow.model_checksum == row.model_checksum,
        LabelRow.set_checksum == row.set_checksum,
        LabelRow.direction_index == row.direction_index,
    )
    others = session.scalar(select(exists().where(*same_direction, LabelRow.annotator_id != annotator.id)))
    if not others:
        return False
    if annotator.is_admin:
        return True
    return bool(session.scalar(select(exists().where(*same_direction, LabelRow.annotator_id == annotator.id))))


def _request_fingerprint(
    identity: SetIdentity,
    direction_index: int,
    term: str,
    text: str,
    confidence: int,
    polarity: str,
    blinded: bool | None,
    sign: Any = None,
    context: Any = None,
) -> str:
    """sha256 of the label's fields as posted (canonical JSON): equal for a retry, different for another label.

    `sign` and `context` enter only when sent, and an unsent `blinded` counts as false, so a retry of a label
    posted before they existed still has the fingerprint stored with its key.
    """
    fields: dict[str, Any] = {
        "model": identity.model_id,
        "set": identity.set_id,
        "direction": direction_index,
        "term": term,
        "text": text,
        "confidence": confidence,
        "polarity": polarity,
        "blinded": bool(blinded),
    }
    if sign is not None:
        fields["sign"] = sign
    if context is not None:
        fields["context"] = context
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _check_identity(identity: SetIdentity) -> None:
    for what, value, max_chars in (
        ("model id", identity.model_id, MAX_ID_CHARS),
        ("set id", identity.set_id, MAX_ID_CHARS),
        ("model checksum", identity.model_checksum, MAX_CHECKSUM_CHARS),
        ("set checksum", identity.set_checksum, MAX_CHECKSUM_CHARS),
    ):
        if not value:
            raise InvalidInputError(f"{what} must not be empty")
        check_text(value, what, max_chars, allow_newlines=False)
    if identity.count < 1:
        raise InvalidInputError(
            f"set {identity.set_id!r} has {identity.count} directions; labels need at least one"
        )


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _annotator_record(row: AnnotatorRow) -> Annotator:
    return Annotator(
        id=row.id, name=row.name, role=row.role, created_at=row.created_at, revoked=row.revoked_at is not None
    )


def _label_record(row: LabelRow, annotator_name: str, current: bool) -> Label:
    return Label(
        id=row.id,
        annotator_id=row.annotator_id,
        annotator_name=annotator_name,
        created_at=row.created_at,
        model_id=row.model_id,
        model_checksum=row.model_checksum,
        set_id=row.set_id,
        set_checksum=row.set_checksum,
        direction_index=row.direction_index,
        term=row.term,
        text=row.text,
        confidence=row.confidence,
        polarity=row.polarity,
        blinded=row.blinded,
        current=current,
        sign=row.sign,
        context=context_from_json(row.context),
    )


def labels_to_dicts(labels: Sequence[Label]) -> list[dict[str, Any]]:
    return [label_to_dict(label) for label in labels]


def label_to_dict(label: Label) -> dict[str, Any]:
    """JSON-ready form of a label (the API's and the export's field names)."""
    return {
        "id": label.id,
        "annotator_id": label.annotator_id,
        "annotator_name": label.annotator_name,
        "created_at": label.created_at.isoformat().replace("+00:00", "Z"),
        "model": label.model_id,
        "model_checksum": label.model_checksum,
        "set": label.set_id,
        "set_checksum": label.set_checksum,
        "direction": label.direction_index,
        "term": label.term,
        "text": label.text,
        "confidence": label.confidence,
        "polarity": label.polarity,
        "blinded": label.blinded,
        "current": label.current,
        "sign": label.sign,
        "context": label.context,
    }
