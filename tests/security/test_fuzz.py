"""Fuzzing `check` in the default test run (a modest number of examples; tests/fuzz/ runs many more).

Valid policies are generated from the grammar, then damaged (deleted, inserted and duplicated
spans, random bytes): the library and the CLI must always answer with located diagnostics.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from mailpolicy.diagnostics import DiagnosticError
from mailpolicy.dsl.parser import parse_policy
from tests.fuzz.properties import check_pipeline, check_policy_bytes
from tests.fuzz.strategies import mutated_policies, policies, sound_policies
from tests.runtime.tables import DATA

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(policies())
def test_generated_policies_are_valid_syntax(text: str) -> None:
    """GIVEN a policy generated from the grammar WHEN parsed THEN it parses (the generator is faithful)."""
    try:
        parse_policy(text, "policy.mail")
    except DiagnosticError as exc:  # pragma: no cover - the message says which rule of the grammar
        raise AssertionError(f"{[d.message for d in exc.diagnostics]}\n{text}") from None


@FUZZ
@given(policies())
def test_check_on_valid_syntax_answers_with_located_diagnostics(text: str) -> None:
    """GIVEN a syntactically valid policy WHEN checked THEN exit 0 or 1, every diagnostic at PATH:LINE:COL."""
    check_policy_bytes(text.encode("utf-8"))


@FUZZ
@given(mutated_policies())
def test_check_on_damaged_policies_never_crashes(data: bytes) -> None:
    """GIVEN a valid policy after random damage WHEN checked THEN exit 0 or 1, located errors only."""
    check_policy_bytes(data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sound_policies())
def test_compiled_policies_resolve_and_render_cleanly(text: str) -> None:
    """GIVEN a policy that compiles WHEN every kind is resolved and built for every relation
    THEN only MessageError stops a message, and each message holds exactly its envelope."""
    check_pipeline(text, DATA)
