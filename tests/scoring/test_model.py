"""Loading and validating model files (docs/scoring.md, 'The model file and versioning')."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from scoring import (
    Model,
    ModelError,
    default_model,
    load_model,
    load_model_text,
    score_arrays,
    score_vectors,
)
from scoring.model import DECAY_FUNCTIONS, DECAY_SETTLES, DEFAULT_MODEL_PATH
from tests.scoring.support import DEFAULT_TEXT, model_text_with, odd_model, random_columns

OP_001 = "MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0"


def write_model(tmp_path: Path, text: str, name: str = "model.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def section(header: str, text: str = DEFAULT_TEXT) -> str:
    """The text of one [table] from its header to the next header (or the end)."""
    start = text.index(f"[{header}]\n")
    following = text.find("\n[", start + 1)
    return text[start : following + 1] if following != -1 else text[start:]


# --- the default model ---------------------------------------------------------------------


def test_default_model_loads_with_contract_numbers() -> None:
    model = default_model()
    assert model.name == "sctac-default"
    assert model.version == 1
    assert model.label == "sctac-default:1"
    assert model.weights == (1.0, 1.0, 1.0, 1.0)
    assert model.scope == (1.0, 1.2, 1.4, 1.6, 1.8)
    assert model.vulnerability == (1.0, 1.2, 1.5)
    assert model.confidence == (0.7, 0.85, 1.0)  # L, M, H
    assert (model.p1_threshold, model.p2_threshold) == (90.0, 45.0)
    assert (model.strong_position, model.adequate_position) == (5, 3)
    assert (model.decay.function, model.decay.lifetime_days) == ("power", 180.0)
    assert (model.decay.shape, model.decay.floor) == (2.0, 0.5)


def test_default_model_grading_grid_matches_contract() -> None:
    model = default_model()
    assert model.grading[0] == ("Immediate: duty officer",) * 3
    assert model.grading[1] == ("Escalate or refer", "Adopt and seek support", "Adopt")
    assert model.grading[2] == ("Refer", "Develop with partners", "Adopt if capacity allows")
    assert model.grading[3] == ("Decline or refer", "Monitor", "Monitor (BCU-owned)")


def test_default_model_content_hash_is_sha256_of_file() -> None:
    expected = hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest()
    assert default_model().content_hash == expected
    assert load_model_text(DEFAULT_TEXT).content_hash == expected


def test_load_model_hashes_the_file_bytes_even_with_crlf(tmp_path: Path) -> None:
    path = write_model(tmp_path, DEFAULT_TEXT.replace("\n", "\r\n"))
    model = load_model(path)
    assert model.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.content_hash != default_model().content_hash
    assert dataclasses.replace(model, content_hash="", source="") == dataclasses.replace(
        default_model(), content_hash="", source=""
    )


def test_default_model_is_frozen_and_loaded_once() -> None:
    model = default_model()
    assert default_model() is model
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.version = 2  # type: ignore[misc]


def test_load_model_reads_a_copy_of_the_default(tmp_path: Path) -> None:
    model = load_model(write_model(tmp_path, DEFAULT_TEXT))
    assert model.label == "sctac-default:1"
    assert model.content_hash == default_model().content_hash
    assert model.source == str(tmp_path / "model.toml")


# --- malformed model files -----------------------------------------------------------------

MALFORMED = [
    # (description, (old, new) edits of the default text, setting named, words in the reason)
    ("missing weights", [(section("weights"), "")], "weights", "missing table"),
    ("missing bands", [(section("bands"), "")], "bands", "missing table"),
    ("missing decay", [(section("decay"), "")], "decay", "missing table"),
    ("missing grading row", [(section("grading.P1"), "")], "grading.P1", "missing table"),
    ("missing weight", [("Ps = 1.0 ", "# Ps = 1.0 ")], "weights.Ps", "missing"),
    (
        "missing confidence table",
        [("confidence = { L = 0.7, M = 0.85, H = 1.0 }", "")],
        "multipliers.confidence",
        "missing table",
    ),
    (
        "missing confidence level",
        [("confidence = { L = 0.7, M = 0.85, H = 1.0 }", "confidence = { L = 0.7, H = 1.0 }")],
        "multipliers.confidence.M",
        "missing",
    ),
    (
        "scope too short",
        [("scope = [1.0, 1.2, 1.4, 1.6, 1.8]", "scope = [1.0, 1.2, 1.4, 1.6]")],
        "multipliers.scope",
        "expected 5 values",
    ),
    (
        "vulnerability too long",
        [("vulnerability = [1.0, 1.2, 1.5]", "vulnerability = [1.0, 1.2, 1.5, 1.8]")],
        "multipliers.vulnerability",
        "expected 3 values",
    ),
    (
        "scope not a list",
        [("scope = [1.0, 1.2, 1.4, 1.6, 1.8]", "scope = 1.4")],
        "multipliers.scope",
        "must be a list",
    ),
    ("equal thresholds", [("P1 = 90.0", "P1 = 45.0")], "bands", "must increase"),
    ("inverted thresholds", [("P1 = 90.0", "P1 = 40.0")], "bands", "must increase"),
    ("negative threshold", [("P2 = 45.0", "P2 = -45.0")], "bands.P2", "at least 0"),
    ("negative weight", [("F = 1.0 ", "F = -1.0 ")], "weights.F", "at least 0"),
    ("text weight", [("C = 1.0 ", 'C = "one" ')], "weights.C", "must be a number"),
    ("boolean weight", [("P = 1.0 ", "P = true ")], "weights.P", "must be a number"),
    ("infinite weight", [("P = 1.0 ", "P = inf ")], "weights.P", "finite"),
    ("unknown weight", [("C = 1.0 ", "C = 1.0\nX = 1.0 ")], "weights.X", "unknown setting"),
    (
        "negative multiplier",
        [("vulnerability = [1.0, 1.2, 1.5]", "vulnerability = [-1.0, 1.2, 1.5]")],
        "multipliers.vulnerability[0]",
        "at least 0",
    ),
    ("unknown decay function", [('"power"', '"exponential"')], "decay.function", "unknown decay"),
    (
        "zero lifetime",
        [("lifetime_days = 180.0", "lifetime_days = 0.0")],
        "decay.lifetime_days",
        "greater than 0",
    ),
    ("zero shape", [("shape = 2.0", "shape = 0.0")], "decay.shape", "greater than 0"),
    ("floor above one", [("floor = 0.5", "floor = 1.5")], "decay.floor", "between 0 and 1"),
    ("negative floor", [("floor = 0.5", "floor = -0.5")], "decay.floor", "at least 0"),
    (
        "decreasing scope",
        [("scope = [1.0, 1.2, 1.4, 1.6, 1.8]", "scope = [1.0, 1.4, 1.2, 1.6, 1.8]")],
        "multipliers.scope",
        "must not decrease",
    ),
    (
        "decreasing vulnerability",
        [("vulnerability = [1.0, 1.2, 1.5]", "vulnerability = [1.0, 1.5, 1.2]")],
        "multipliers.vulnerability",
        "must not decrease",
    ),
    (
        "confidence L above M",
        [("L = 0.7, M = 0.85", "L = 0.9, M = 0.85")],
        "multipliers.confidence (L <= M <= H)",
        "must not decrease",
    ),
    (
        "unknown top-level key",
        [("version = 1\n", "version = 1\ncolour = 1\n")],
        "colour",
        "unknown",
    ),
    ("unknown table", [("[bands]", "[extras]\nx = 1\n\n[bands]")], "extras", "unknown setting"),
    ("version zero", [("version = 1\n", "version = 0\n")], "version", "at least 1"),
    ("version as text", [("version = 1\n", 'version = "1"\n')], "version", "whole number"),
    ("missing version", [("version = 1\n", "")], "version", "missing"),
    ("bad name", [('name = "sctac-default"', 'name = "SCTaC default"')], "name", "slug"),
    ("strong below adequate", [("strong = 5", "strong = 3")], "position", "must increase"),
    ("strong above six", [("strong = 5", "strong = 7")], "position.strong", "0..6"),
    ("grading cell missing", [('Weak = "Refer"\n', "")], "grading.P2.Weak", "missing"),
    ("grading cell empty", [('Weak = "Refer"', 'Weak = "  "')], "grading.P2.Weak", "non-empty"),
    (
        "unknown grading row",
        [("[grading.P0]", '[grading.P4]\nWeak = "x"\n\n[grading.P0]')],
        "grading.P4",
        "unknown setting",
    ),
    (
        "unknown grade",
        [('Weak = "Refer"', 'Weak = "Refer"\nGood = "x"')],
        "grading.P2.Good",
        "unknown setting",
    ),
    ("weights not a table", [(section("weights"), "weights = 1\n")], "weights", "must be a table"),
]


@pytest.mark.parametrize(
    ("edits", "setting", "reason"),
    [row[1:] for row in MALFORMED],
    ids=[row[0] for row in MALFORMED],
)
def test_load_model_rejects_malformed_file_naming_setting(
    tmp_path: Path, edits: list[tuple[str, str]], setting: str, reason: str
) -> None:
    path = write_model(tmp_path, model_text_with(*edits))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert caught.value.setting == setting
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{setting}: ")


def test_load_model_rejects_bad_toml(tmp_path: Path) -> None:
    path = write_model(tmp_path, model_text_with(("[bands]", "[bands")))
    with pytest.raises(ModelError, match="not valid TOML") as caught:
        load_model(path)
    assert caught.value.setting == str(path)


def test_load_model_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model(tmp_path / "absent.toml")


def test_load_model_rejects_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(DEFAULT_TEXT.replace("Default SCTaC", "D\xe9faut").encode("latin-1"))
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model(path)


def test_model_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"weights\.F"):
        load_model_text(model_text_with(("F = 1.0 ", "F = -2.0 ")))


def test_load_model_accepts_the_none_decay_function() -> None:
    model = load_model_text(model_text_with(('"power"', '"none"')))
    columns = random_columns(np.random.default_rng(5), 50)
    assert (score_arrays(columns, model=model)["freshness"] == 1.0).all()


def test_every_decay_shape_says_when_it_settles() -> None:
    assert set(DECAY_SETTLES) == set(DECAY_FUNCTIONS)


@pytest.mark.parametrize(
    "model",
    [default_model(), odd_model(), load_model_text(model_text_with(('"power"', '"none"')))],
    ids=["default", "odd", "no-decay"],
)
def test_freshness_is_the_same_bits_from_the_settled_age_on(model: Model) -> None:
    settled = model.settled_age_days
    later = settled + np.array([0.0, 1e-4, 0.5, 1.0, 17.25, 365.0, 1e6])
    fresh = model.freshness(later)
    assert (fresh == fresh[0]).all()
    if model.decay.function == "power":
        assert settled == model.decay.lifetime_days
        # ... and not before it: the settled age is the first one that stops moving.
        assert model.freshness(np.array([settled - 1e-4]))[0] > fresh[0]
    else:
        assert settled == 0.0


# --- a different model ---------------------------------------------------------------------


def doubled_model() -> Model:
    return load_model_text(
        model_text_with(
            ("version = 1\n", "version = 2\n"),
            ("P = 1.0 ", "P = 2.0 "),
            ("Ps = 1.0 ", "Ps = 2.0 "),
            ("F = 1.0 ", "F = 2.0 "),
            ("C = 1.0 ", "C = 2.0 "),
        )
    )


def test_load_model_new_version_changes_scores_and_label() -> None:
    model = doubled_model()
    assert model.label == "sctac-default:2"
    assert model.content_hash != default_model().content_hash
    columns = random_columns(np.random.default_rng(6), 1000)
    before = score_arrays(columns)
    after = score_arrays(columns, model=model)
    # Doubling every weight doubles every priority (exactly: doubling is exact in binary).
    np.testing.assert_array_equal(after["priority"], 2 * before["priority"])
    assert (after["band"] <= before["band"]).all()
    assert (after["band"] < before["band"]).any()


def test_score_vectors_records_the_model_used() -> None:
    model = doubled_model()
    (old,) = score_vectors([OP_001])
    (new,) = score_vectors([OP_001], model=model)
    assert (old["model"], new["model"]) == ("sctac-default:1", "sctac-default:2")
    assert new["model_hash"] == model.content_hash != old["model_hash"]
    assert new["priority"] == 2 * old["priority"] == 264.0
    assert new["vector"] == old["vector"]


def test_load_model_thresholds_drive_the_bands() -> None:
    model = load_model_text(model_text_with(("P1 = 90.0", "P1 = 133.0")))
    (result,) = score_vectors([OP_001], model=model)
    assert result["priority"] == 132.0
    assert result["band"] == "P2"
