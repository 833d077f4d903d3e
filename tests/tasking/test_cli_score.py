"""`tasking score` through click's test runner: table, stdin, JSON, explain and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scoring import score_vectors
from scoring.model import DEFAULT_MODEL_PATH
from tasking.cli import main

KNOWN = "MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0"  # 132.0, P1, Adopt
AGED = "MoRiLE:1/P:1/Ps:0/F:2/C:1/S:2/V:0/L:3/Cf:M/Ca:1/Cb:0/O:1/T:0/A:90"  # 10.7, P3
THREAT = "MoRiLE:1/P:4/Ps:4/F:0/C:0/S:1/V:2/L:2/Cf:L/Ca:0/Cb:0/O:0/T:1"  # P0


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `tasking score ARGS`; returns exit code, stdout and stderr."""
    result = CliRunner().invoke(main, ["score", *args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def table_row(stdout: str, number: int) -> list[str]:
    """The cells of table row `number` (1-based), split on the column gaps."""
    for line in stdout.splitlines():
        if line.startswith(f"{number} "):
            return line.split()
    raise AssertionError(f"no row {number} in:\n{stdout}")


def test_score_table_shows_priority_band_and_grading() -> None:
    code, out, err = run(KNOWN)
    assert code == 0, err
    assert "sctac-default:1" in out
    row = table_row(out, 1)
    assert row[1] == KNOWN
    assert "132.0" in row
    assert "P1" in row
    assert row[-1] == "Adopt"
    header = out.splitlines()[1].split()
    for heading in ("harm_base", "total_harm", "risk", "freshness", "priority", "band"):
        assert heading in header


def test_score_table_is_aligned_and_labels_model_once() -> None:
    code, out, _ = run(KNOWN, AGED, THREAT)
    assert code == 0
    lines = out.splitlines()
    assert out.count("sctac-default:1") == 1
    header, rows = lines[1], lines[2:]
    assert len(rows) == 3
    # Right-aligned numbers: every priority ends in the same column as its heading.
    end = header.index("priority") + len("priority")
    assert [row[end - 5 : end] for row in rows] == ["132.0", " 10.7", " 16.8"]
    assert "P0" in table_row(out, 3)
    assert lines[4].endswith("Immediate: duty officer")
    assert "Decline or refer" in lines[3]


def test_score_reads_stdin_skipping_blanks_and_comments() -> None:
    stdin = f"# board export\n\n{KNOWN}\n   \n# another\n{AGED}\n"
    code, out, _ = run(stdin=stdin)
    assert code == 0
    assert table_row(out, 1)[1] == KNOWN
    assert table_row(out, 2)[1] == AGED
    assert len(out.strip().splitlines()) == 4  # model line, header, two rows


def test_score_json_matches_score_vectors() -> None:
    code, out, _ = run("--json", KNOWN, AGED, THREAT)
    assert code == 0
    assert json.loads(out) == score_vectors([KNOWN, AGED, THREAT])


def test_score_json_from_stdin_keeps_full_precision() -> None:
    code, out, _ = run("--json", stdin=f"{AGED}\n")
    assert code == 0
    (result,) = json.loads(out)
    assert result["priority"] == score_vectors([AGED])[0]["priority"]
    assert result["priority"] != round(result["priority"], 1)


def test_score_explain_prints_contributions_and_moves() -> None:
    code, out, _ = run("--explain", KNOWN, THREAT)
    assert code == 0
    assert "#1 " + KNOWN in out
    assert "harm_base   11.0 = P 3 + Ps 3 + F 2 + C 3" in out
    assert "moves P1 to P2" in out
    assert "threat to life" in out


def test_score_json_explain_adds_explanation() -> None:
    code, out, _ = run("--json", "--explain", KNOWN)
    assert code == 0
    (result,) = json.loads(out)
    explanation = result.pop("explanation")
    assert result == score_vectors([KNOWN])[0]
    assert sum(explanation["harm_contributions"].values()) == result["harm_base"]
    assert explanation["moves"]


def test_score_bad_vector_exits_2_naming_index_and_key() -> None:
    bad = KNOWN.replace("Cf:H", "Cf:X")
    code, out, err = run(KNOWN, bad, AGED)
    assert code == 2
    assert out == ""  # all or nothing: not even the good vectors
    assert "vector #2" in err
    assert "Cf" in err
    assert "must be one of H, M, L" in err


def test_score_bad_vector_on_stdin_names_line() -> None:
    code, out, err = run(stdin=f"# header\n{KNOWN}\n\n{KNOWN.replace('/T:0', '')}\n")
    assert code == 2
    assert out == ""
    assert "vector #2 (stdin line 4)" in err
    assert "T: missing" in err


def test_score_bad_vector_in_json_mode_prints_nothing() -> None:
    code, out, err = run("--json", KNOWN, KNOWN + "/A:-1")
    assert code == 2
    assert out == ""
    assert "vector #2" in err
    assert "A:" in err


def write_model(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the default model file with one text replacement."""
    text = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "model.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_score_uses_another_model_file(tmp_path: Path) -> None:
    path = write_model(tmp_path, "version = 1", "version = 2")
    path.write_text(path.read_text().replace("P1 = 90.0", "P1 = 140.0"), encoding="utf-8")
    code, out, err = run("--model", str(path), KNOWN)
    assert code == 0, err
    assert "sctac-default:2" in out
    row = table_row(out, 1)
    assert "132.0" in row
    assert "P2" in row
    assert "Adopt if capacity allows" in out


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("scope = [1.0, 1.2, 1.4, 1.6, 1.8]", "scope = [1.0, 1.2]", "multipliers.scope"),
        ("P1 = 90.0", "P1 = 10.0", "bands"),
        ('function = "power"', 'function = "exponential"', "decay.function"),
        ("[weights]", "[weights", "not valid TOML"),
    ],
)
def test_score_bad_model_file_fails_clearly(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    path = write_model(tmp_path, old, new)
    code, out, err = run("--model", str(path), KNOWN)
    assert code != 0
    assert out == ""
    assert "bad model file" in err
    assert str(path) in err
    assert reason in err


def test_score_missing_model_file_fails_clearly(tmp_path: Path) -> None:
    code, out, err = run("--model", str(tmp_path / "absent.toml"), KNOWN)
    assert code != 0
    assert out == ""
    assert "cannot read model file" in err


def test_score_empty_stdin_prints_no_table() -> None:
    code, out, err = run(stdin="# nothing here\n\n")
    assert code == 0
    assert out == ""
    assert "no vectors" in err
    code, out, _ = run("--json", stdin="")
    assert code == 0
    assert json.loads(out) == []


def test_score_explain_age_move_names_the_first_whole_day_and_reads_below_the_threshold() -> None:
    """Issue 14: '0.0 days -> 143.6 days moves P1 to P2 (priority 90.0)' read as no move."""
    code, out, _ = run("--explain", KNOWN)
    assert code == 0
    (line,) = [x.strip() for x in out.splitlines() if x.strip().startswith("intelligence age")]
    assert line.startswith("intelligence age 0.0 days -> 144 days moves P1 to P2 (priority ")
    shown = float(line.rsplit("priority ", 1)[1].rstrip(")"))
    assert shown < 90.0  # P1 is 90 or more (the default model)
    (at_144,) = score_vectors([KNOWN + "/A:144"])
    (at_143,) = score_vectors([KNOWN + "/A:143"])
    assert (at_143["band"], at_144["band"]) == ("P1", "P2")
    assert shown == round(at_144["priority"], 1)


def test_score_explain_age_move_from_a_fractional_age() -> None:
    code, out, _ = run("--explain", KNOWN + "/A:12.5")
    assert code == 0
    assert "intelligence age 12.5 days -> 144 days moves P1 to P2" in out


@pytest.mark.parametrize(
    ("after", "priority", "shown"),
    [("P2", 89.96, "89.96"), ("P2", 89.9999, "89.9999"), ("P2", 87.84, "87.8"),
     ("P1", 90.0, "90.0"), ("P3", 44.97, "44.97"), ("P2", 45.0, "45.0")],
)  # fmt: skip
def test_a_move_priority_reads_as_its_new_band(after: str, priority: float, shown: str) -> None:
    from scoring import BandMove, default_model
    from tasking.cli.score import priority_in_band

    move = BandMove("V", "2", "0", "P1", after, priority)
    assert priority_in_band(move, default_model()) == shown


def test_score_json_explain_keeps_the_exact_age_move() -> None:
    code, out, _ = run("--json", "--explain", KNOWN)
    assert code == 0
    (result,) = json.loads(out)
    (age,) = [m for m in result["explanation"]["moves"] if m["factor"] == "A"]
    assert age["after"] == "143.6 days"
    assert 89.99 < age["priority_after"] < 90.0
