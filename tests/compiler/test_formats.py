"""Diagnostic output formats: text, json, github annotations and SARIF 2.1.0 (schema-validated)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mailpolicy.compiler.formats import FORMATS, format_diagnostics, sarif_log
from mailpolicy.diagnostics import Diagnostic, Span

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "sarif-2.1.0.schema.json"

SOURCE = 'reply_to = responsable else company\ninvoice.bcc = free "office@firm.be"\n'

DIAGNOSTICS = [
    Diagnostic(
        code="E201",
        message="unknown source 'responsable'",
        span=Span("policies/firm.mail", 1, 12, 1, 23),
        help=["did you mean 'responsible'?"],
    ),
    Diagnostic(
        code="MP601",
        message="this `else` term is never reached: `company` always yields",
        span=Span("policies/firm.mail", 2, 15),
        severity="warning",
    ),
    Diagnostic(code="E001", message="cannot read: 50% done, a:b,c\nsecond line"),
]


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    """The pinned SARIF 2.1.0 schema (draft-04), checked itself before use."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_text_has_location_excerpt_caret_and_help() -> None:
    out = format_diagnostics(DIAGNOSTICS[:1], "text", {"policies/firm.mail": SOURCE})
    assert out == (
        "policies/firm.mail:1:12: error[E201]: unknown source 'responsable'\n"
        "  |\n"
        "1 | reply_to = responsable else company\n"
        "  |            ^^^^^^^^^^^\n"
        "  help: did you mean 'responsible'?\n"
    )


def test_text_of_nothing_is_empty() -> None:
    assert format_diagnostics([], "text") == ""


def test_json_is_a_list_of_flat_objects() -> None:
    data = json.loads(format_diagnostics(DIAGNOSTICS, "json"))
    assert data[0] == {
        "path": "policies/firm.mail",
        "line": 1,
        "column": 12,
        "end_line": 1,
        "end_column": 23,
        "severity": "error",
        "code": "E201",
        "message": "unknown source 'responsable'",
        "help": ["did you mean 'responsible'?"],
    }
    # A span without an end covers one character, so every consumer gets a range.
    assert (data[1]["end_line"], data[1]["end_column"]) == (2, 16)
    assert data[2]["path"] is None and data[2]["line"] is None


def test_github_annotations_escape_newlines_and_percent() -> None:
    out = format_diagnostics(DIAGNOSTICS, "github")
    assert out.splitlines() == [
        "::error file=policies/firm.mail,line=1,col=12::unknown source 'responsable' [E201]"
        "%0Ahelp: did you mean 'responsible'?",
        "::warning file=policies/firm.mail,line=2,col=15::"
        "this `else` term is never reached: `company` always yields [MP601]",
        "::error::cannot read: 50%25 done, a:b,c%0Asecond line [E001]",
    ]


def test_github_escapes_commas_and_colons_in_the_file_property() -> None:
    diag = Diagnostic(code="E1", message="m", span=Span("a,b:c.mail", 3, 4))
    assert format_diagnostics([diag], "github") == "::error file=a%2Cb%3Ac.mail,line=3,col=4::m [E1]\n"


def test_sarif_validates_against_the_pinned_schema(sarif_validator: jsonschema.Draft4Validator) -> None:
    log = json.loads(format_diagnostics(DIAGNOSTICS, "sarif"))
    sarif_validator.validate(log)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "mailpolicy"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["E001", "E201", "MP601"]
    first = run["results"][0]
    assert first["ruleId"] == "E201" and first["level"] == "error"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == "E201"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "policies/firm.mail", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1, "startColumn": 12, "endLine": 1, "endColumn": 23},
    }
    assert first["message"]["text"] == "unknown source 'responsable'\nhelp: did you mean 'responsible'?"
    assert run["results"][1]["level"] == "warning"
    assert "locations" not in run["results"][2]
    assert run["columnKind"] == "unicodeCodePoints"


def test_sarif_with_no_findings_is_still_a_valid_log(sarif_validator: jsonschema.Draft4Validator) -> None:
    log = sarif_log([], tool_version="9.9")
    sarif_validator.validate(log)
    assert log["runs"][0]["results"] == []  # type: ignore[index]


def test_sarif_absolute_path_becomes_a_file_uri(
    sarif_validator: jsonschema.Draft4Validator, tmp_path: Path
) -> None:
    path = tmp_path / "firm settings.mail"
    log = sarif_log([Diagnostic(code="E1", message="m", span=Span(str(path), 1, 1))])
    sarif_validator.validate(log)
    location = log["runs"][0]["results"][0]["locations"][0]  # type: ignore[index]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": path.as_uri()}


def test_the_schema_rejects_a_broken_log(sarif_validator: jsonschema.Draft4Validator) -> None:
    """The fixture really constrains: a result with an unknown level must not validate."""
    log = sarif_log(DIAGNOSTICS[:1])
    log["runs"][0]["results"][0]["level"] = "fatal"  # type: ignore[index]
    with pytest.raises(jsonschema.ValidationError):
        sarif_validator.validate(log)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'; expected one of text, json, github, sarif"):
        format_diagnostics([], "xml")
    assert FORMATS == ("text", "json", "github", "sarif")
