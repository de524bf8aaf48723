"""The compiler: a policy AST → checked, deterministic, schema-valid rule table (docs/ARCHITECTURE.md).

compile_file(path)  ──read + dsl.parse_policy──►  compile_policy(ast, policy_dir=...)
                                                      │  checker.PolicyChecker (all checks)
                                                      ▼
                                  CompileResult(table | None, diagnostics)
dump_table(table) → JSON text (validated against schemas/ruletable.schema.json)
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mailpolicy.diagnostics import Diagnostic, DiagnosticError
from mailpolicy.dsl.ast import MAX_NESTING, Policy

__all__ = [
    "MAX_NESTING",
    "CompileResult",
    "compile_file",
    "compile_policy",
    "compile_text",
    "dump_table",
    "validate_table",
]


@dataclass
class CompileResult:
    """The outcome of compiling one policy: the table (None when there is an error) and findings.

    `source` is the policy text (for excerpts under diagnostics), when it could be read.
    """

    table: dict[str, Any] | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source: str | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics of severity error."""
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors


def compile_policy(policy: Policy, *, policy_dir: Path | str, strict: bool = False) -> CompileResult:
    """Check a parsed policy and build its rule table; POLICY_DIR anchors template paths.

    With STRICT, the warnings that only `check --strict` reports (MP502) are added.
    """
    from mailpolicy.compiler.checker import PolicyChecker

    checker = PolicyChecker(policy, Path(policy_dir), strict=strict)
    table = checker.run()
    diagnostics = sorted(
        checker.diagnostics,
        key=lambda d: (d.span.path, d.span.line, d.span.column) if d.span else ("", 0, 0),
    )
    return CompileResult(table, diagnostics, policy.source)


def compile_text(text: str, path: str, *, policy_dir: Path | str, strict: bool = False) -> CompileResult:
    """Parse and compile policy TEXT (shown as PATH in diagnostics)."""
    from mailpolicy.dsl.parser import parse_policy

    # Parsing and checking allocate hundreds of thousands of objects that all live until the
    # end: the cyclic garbage collector's passes over them are pure cost (30% of compiling a
    # 20,000-line policy). Paused meanwhile, then restored as it was.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            policy = parse_policy(text, path)
        except DiagnosticError as exc:
            return CompileResult(None, exc.diagnostics, text)
        return compile_policy(policy, policy_dir=policy_dir, strict=strict)
    finally:
        if collecting:
            gc.enable()


def compile_file(path: str | Path, *, strict: bool = False) -> CompileResult:
    """Read, parse and compile a policy file; OSError when it cannot be read at all."""
    from mailpolicy.dsl.parser import read_policy

    try:
        text = read_policy(path)
    except DiagnosticError as exc:
        return CompileResult(None, exc.diagnostics, None)
    return compile_text(text, str(path), policy_dir=Path(path).parent, strict=strict)


def _schema() -> dict[str, Any]:
    text = resources.files("mailpolicy").joinpath("schemas/ruletable.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate_table(table: dict[str, Any]) -> list[str]:
    """Schema violations of a rule table (empty when valid), as `where: message` lines."""
    import jsonschema  # lazily: `check` never writes a table and should not pay for it

    validator = jsonschema.Draft202012Validator(_schema())
    out = []
    for error in sorted(validator.iter_errors(table), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        out.append(f"{where}: {error.message}")
    return out


def dump_table(table: dict[str, Any]) -> str:
    """The table as deterministic JSON text, validated against the schema first (ValueError if not)."""
    problems = validate_table(table)
    if problems:
        raise ValueError("the compiled rule table does not match its schema: " + "; ".join(problems[:5]))
    return json.dumps(table, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
