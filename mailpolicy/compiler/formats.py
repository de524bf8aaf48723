"""Diagnostic output formats for `check --format`: text, json, github annotations and SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mailpolicy.diagnostics import Diagnostic, render_text

FORMATS = ("text", "json", "github", "sarif")

SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def format_text(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """Each diagnostic as `PATH:LINE:COL: severity[CODE]: message`, excerpt and help; blank-separated."""
    sources = sources or {}
    blocks = [render_text(d, sources.get(d.span.path) if d.span else None) for d in diagnostics]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def format_json(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """A JSON list of `{path, line, column, end_line, end_column, severity, code, message, help}`."""
    return json.dumps([d.as_dict() for d in diagnostics], ensure_ascii=False, indent=2) + "\n"


def _escape_data(text: str) -> str:
    # GitHub workflow commands end at a newline and use % as their escape character.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    # Property values are further delimited by ',' and ':'.
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """GitHub Actions annotations: `::error file=PATH,line=L,col=C::message`, one line each.

    Warnings use `::warning`. The code and the help lines follow the message (help after an
    escaped newline), so the annotation in the pull request reads like the text form.
    """
    lines = []
    for d in diagnostics:
        message = f"{d.message} [{d.code}]"
        if d.help:
            message += "\n" + "\n".join(f"help: {h}" for h in d.help)
        props = ""
        if d.span is not None:
            props = f" file={_escape_property(d.span.path)},line={d.span.line},col={d.span.column}"
        lines.append(f"::{d.severity}{props}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


def _artifact_uri(path: str) -> dict[str, str]:
    """A SARIF artifactLocation: relative paths stay relative to the checkout (%SRCROOT%)."""
    p = Path(path)
    if p.is_absolute():
        return {"uri": p.as_uri()}
    return {"uri": p.as_posix(), "uriBaseId": "%SRCROOT%"}


def sarif_log(
    diagnostics: Sequence[Diagnostic],
    *,
    tool_version: str | None = None,
    rule_descriptions: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The SARIF 2.1.0 log object: one run of the `mailpolicy` driver, one result per diagnostic.

    Columns count Unicode code points, as everywhere in mailpolicy, so the run says
    `columnKind: unicodeCodePoints` (SARIF's default would be UTF-16 code units).
    """
    if tool_version is None:
        from mailpolicy import __version__

        tool_version = __version__
    descriptions = dict(rule_descriptions or {})
    codes = sorted({d.code for d in diagnostics})
    rule_index = {code: i for i, code in enumerate(codes)}
    rules = []
    for code in codes:
        rule: dict[str, object] = {"id": code}
        first = next(d for d in diagnostics if d.code == code)
        rule["shortDescription"] = {"text": descriptions.get(code, first.message)}
        rule["defaultConfiguration"] = {"level": first.severity}
        rules.append(rule)
    results = []
    for d in diagnostics:
        text = d.message
        if d.help:
            text += "\n" + "\n".join(f"help: {h}" for h in d.help)
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": d.severity,
            "message": {"text": text},
        }
        if d.span is not None:
            info = d.as_dict()
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact_uri(d.span.path),
                        "region": {
                            "startLine": info["line"],
                            "startColumn": info["column"],
                            "endLine": info["end_line"],
                            "endColumn": info["end_column"],
                        },
                    }
                }
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mailpolicy",
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def format_sarif(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """The SARIF 2.1.0 log as indented JSON, for code-scanning uploads."""
    from mailpolicy.compiler.lint import LINT_DESCRIPTIONS

    log = sarif_log(diagnostics, rule_descriptions=LINT_DESCRIPTIONS)
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


FORMATTERS: dict[str, Callable[[Sequence[Diagnostic], Mapping[str, str] | None], str]] = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
    "sarif": format_sarif,
}


def format_diagnostics(
    diagnostics: Sequence[Diagnostic], fmt: str, sources: Mapping[str, str] | None = None
) -> str:
    """Render DIAGNOSTICS in FMT (one of `FORMATS`); SOURCES maps a path to its text for excerpts."""
    try:
        formatter = FORMATTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return formatter(diagnostics, sources)
