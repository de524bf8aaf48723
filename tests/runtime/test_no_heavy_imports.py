"""The runtime never imports lark, click, the parser or the compiler (SPEC section 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.runtime.tables import make_table, write_data

FORBIDDEN = ("lark", "click", "mailpolicy.dsl", "mailpolicy.compiler", "mjml", "css_inline")


def test_resolving_a_message_imports_no_compiler_stage(tmp_path: Path) -> None:
    """Load a table and data, resolve a message, in a fresh interpreter: nothing forbidden loaded."""
    table = tmp_path / "table.json"
    table.write_text(json.dumps(make_table()), encoding="utf-8")
    data = write_data(tmp_path)
    script = f"""
import sys, json
import mailpolicy.runtime as rt
env = rt.resolve_message(rt.load_table({str(table)!r}), rt.load_data({str(data)!r}),
                         kind="invoice", relation="R001", document="F2026-0042")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {{"lark", "click", "mjml", "css_inline"}}
                or m.startswith(("mailpolicy.dsl", "mailpolicy.compiler")))
print(json.dumps({{"to": env.to, "loaded": loaded}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    out = json.loads(result.stdout)
    assert out == {"to": ["compta@garage-martin.be"], "loaded": []}


def test_importing_the_runtime_is_light() -> None:
    """`import mailpolicy.runtime` alone loads none of its heavy dependencies (lazy exports)."""
    script = (
        "import sys, mailpolicy.runtime\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'lark', 'click', 'jsonschema', 'babel', 'yaml', 'email_validator'}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert all(name not in result.stdout for name in FORBIDDEN)


def test_no_runtime_module_imports_a_compiler_stage() -> None:
    """Every module of mailpolicy.runtime, imported together, leaves lark, click and the compiler out."""
    script = """
import importlib, json, pkgutil, sys
import mailpolicy.runtime as runtime
for module in pkgutil.iter_modules(runtime.__path__):
    importlib.import_module(f"mailpolicy.runtime.{module.name}")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {"lark", "click", "mjml", "css_inline"}
                        or m.startswith(("mailpolicy.dsl", "mailpolicy.compiler", "mailpolicy.cli")))))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
