"""The runtime: compiled rule table + relation data → envelope → message → SMTP.

It never imports lark, click, `mailpolicy.dsl` or `mailpolicy.compiler`: sending services load a
compiled table and call `resolve_message` (then `render_message`) per message. Public names are
imported lazily, so importing one submodule does not pay for the others (jsonschema, Babel).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailpolicy.runtime.batch import SelectionError, plan_messages
    from mailpolicy.runtime.data import Dataset, load_data
    from mailpolicy.runtime.errors import DataError, MessageError, MessageSkipped, TableError
    from mailpolicy.runtime.message import (
        ComposedMessage,
        build_email_message,
        compose_message,
        render_message,
    )
    from mailpolicy.runtime.resolve import Envelope, format_trace, resolve_message
    from mailpolicy.runtime.table import RuleTable, load_table

# Public name → the submodule that defines it. Other runtime modules add their names here.
_EXPORTS = {
    "load_table": "table",
    "RuleTable": "table",
    "load_data": "data",
    "Dataset": "data",
    "resolve_message": "resolve",
    "Envelope": "resolve",
    "format_trace": "resolve",
    "TableError": "errors",
    "DataError": "errors",
    "MessageError": "errors",
    "MessageSkipped": "errors",
    "compose_message": "message",
    "build_email_message": "message",
    "render_message": "message",
    "ComposedMessage": "message",
    "plan_messages": "batch",
    "SelectionError": "batch",
}

__all__ = [
    "ComposedMessage",
    "DataError",
    "Dataset",
    "Envelope",
    "MessageError",
    "MessageSkipped",
    "RuleTable",
    "SelectionError",
    "TableError",
    "build_email_message",
    "compose_message",
    "format_trace",
    "load_data",
    "load_table",
    "plan_messages",
    "render_message",
    "resolve_message",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mailpolicy.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mailpolicy.runtime.{module}"), name)
