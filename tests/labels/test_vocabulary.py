"""The packaged CT vocabulary and its replacement by a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.labels.vocabulary import load_vocabulary, parse_vocabulary

DEFAULT_IDS = (
    "rotation",
    "breast_size",
    "body_thickness",
    "body_size",
    "vertical_position",
    "horizontal_position",
    "slice_level",
    "lung_volume",
    "heart_size",
    "brightness_contrast",
    "noise_texture",
    "artefact",
    "entangled",
    "no_change",
    "other",
)


def test_default_vocabulary_is_the_ct_list_and_other_needs_text() -> None:
    vocabulary = load_vocabulary()
    assert vocabulary.ids == DEFAULT_IDS
    assert all(term.name and term.description for term in vocabulary.terms)
    assert [term.id for term in vocabulary.terms if term.requires_text] == ["other"]
    with pytest.raises(NotFoundError, match=r"'tumour'.*allowed: rotation"):
        vocabulary.get("tumour")


def test_a_file_replaces_the_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "vocab.json"
    terms = [{"id": "aorta", "name": "Aorta", "description": "aortic size"}, {"id": "other", "name": "Other"}]
    path.write_text(json.dumps(terms))
    vocabulary = load_vocabulary(path)
    assert vocabulary.ids == ("aorta", "other")
    assert vocabulary.get("other").requires_text  # "other" needs text unless the file says otherwise


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "non-empty list"),
        ('[{"id": "Bad Id", "name": "x"}]', "must match"),
        ('[{"id": "a", "name": ""}]', "name must be"),
        ('[{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]', "repeats term ids"),
    ],
)
def test_bad_vocabulary_files_are_refused_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "vocab.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        load_vocabulary(path)
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_vocabulary(tmp_path / "missing.json")


def test_positive_senses_are_optional_one_line_texts() -> None:
    document = '{"terms": [{"id": "size", "name": "Size", "positive": " larger "}, {"id": "blur", "name": "Blur"}]}'
    terms = parse_vocabulary(document, source="test").terms
    assert [(term.positive, term.has_sense) for term in terms] == [("larger", True), (None, False)]
    for bad in ('""', "3", '"two\\nlines"', '"' + "x" * 201 + '"'):
        with pytest.raises(InvalidInputError, match="positive must be null or a one-line text"):
            parse_vocabulary(f'{{"terms": [{{"id": "size", "name": "Size", "positive": {bad}}}]}}', source="test")
