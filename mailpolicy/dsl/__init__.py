"""The policy language: `*.mail` text → typed AST with source spans (Lark LALR grammar)."""

from mailpolicy.dsl.ast import MAX_NESTING, Policy
from mailpolicy.dsl.parser import MAX_POLICY_BYTES, decode_policy, parse_file, parse_policy, read_policy

__all__ = [
    "MAX_NESTING",
    "MAX_POLICY_BYTES",
    "Policy",
    "decode_policy",
    "parse_file",
    "parse_policy",
    "read_policy",
]
