"""The compiler's checks: resolve every name of a policy AST, find its errors, and build the rule table.

One visitor walks the statements (`visit_<Node>`), collecting declarations first so that names may
be used before they are declared; the rules are then resolved against them. Each finding is a
`Diagnostic` with a stable code (docs/diagnostics.md). A part that fails a check is left out of
the table and out of later checks, so one mistake gives one diagnostic, not a cascade.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailpolicy.compiler import builtins as b
from mailpolicy.compiler.placeholders import check_path, split_placeholders
from mailpolicy.diagnostics import Diagnostic, Span, did_you_mean
from mailpolicy.dsl import ast
from mailpolicy.dsl.ast import MAX_NESTING

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z")

FORMAT = "mailpolicy-ruletable"
FORMAT_VERSION = 1


def _loc(span: Span | None) -> dict[str, int] | None:
    return None if span is None else {"line": span.line, "column": span.column}


def _start(span: Span) -> Span:
    """The span cut to its first line, for diagnostics about a whole multi-line statement."""
    if span.end_line in (None, span.line):
        return span
    return Span(span.path, span.line, span.column)


@functools.lru_cache(maxsize=4096)
def normalise_address(address: str) -> str:
    """A bare address checked with email-validator and normalised (domain lower-cased); ValueError."""
    if address != address.strip() or "<" in address:
        raise ValueError("write the bare address, without spaces or a display name")
    # Importing email-validator is a tenth of a cold `check`: the verdicts (errors too) are kept
    # in the user cache, keyed by the address and the code that decides (mailpolicy.cache).
    from mailpolicy.cache import memo

    key = f"{_address_code_stamp()}\0{address}"
    verdict, _, text = memo("address", key, lambda: _validate_address(address)).partition(":")
    if verdict != "ok":
        raise ValueError(text)
    return text


@functools.lru_cache(maxsize=1)
def _address_code_stamp() -> str:
    """The code that decides an address verdict (email-validator's and this module's), once a run."""
    from mailpolicy.cache import code_stamp, module_stamp

    return f"{module_stamp('email_validator')};{code_stamp(__file__)}"


def _validate_address(address: str) -> str:
    """`ok:<normalised address>` or `error:<why>`, from email-validator."""
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"error:{exc}"
    return f"ok:{info.normalized}"


def _domain_verified(address: str, verified: list[str]) -> bool:
    domain = address.rsplit("@", 1)[-1].lower()
    return any(domain == d or domain.endswith("." + d) for d in verified)


@dataclass
class _RuleInfo:
    """A rule that passed its checks, with what the table and the later checks need."""

    node: ast.Rule
    kind: str
    field_name: str
    lang: str | None
    entry: dict[str, Any]
    refs: set[str] = field(default_factory=set)  # `from` / `reply_to` / `general` sources used


class PolicyChecker:
    """Checks one policy and builds its rule table (see `compile_policy`)."""

    def __init__(self, policy: ast.Policy, policy_dir: Path, *, strict: bool = False) -> None:
        self.policy = policy
        self.path = policy.path
        self.policy_dir = policy_dir
        self.strict = strict
        self.diagnostics: list[Diagnostic] = []
        self.firm_decls: list[ast.FirmDecl] = []
        self.role_decls: list[ast.RoleDecl] = []
        self.kind_decls: list[ast.KindDecl] = []
        self.audience_decls: list[ast.AudienceDecl] = []
        self.smtp_decls: list[ast.SmtpDecl] = []
        self.rule_nodes: list[ast.Rule] = []
        self.roles: set[str] = set(b.BUILTIN_ROLES)
        self.kinds: dict[str, str | None] = dict(b.BUILTIN_KINDS)
        self.kind_locs: dict[str, dict[str, int] | None] = {k: None for k in b.BUILTIN_KINDS}
        self.verified_domains: list[str] | None = None
        self.templates: dict[str, Any] = {}
        self._template_failed: set[str] = set()

    # --- helpers ---------------------------------------------------------------------------------

    def error(self, code: str, message: str, span: Span | None, help: list[str] | None = None) -> None:
        """Record an error."""
        self.diagnostics.append(Diagnostic(code, message, span, "error", list(help or [])))

    def warn(self, code: str, message: str, span: Span | None, help: list[str] | None = None) -> None:
        """Record a warning (fails `check` only with --strict)."""
        self.diagnostics.append(Diagnostic(code, message, span, "warning", list(help or [])))

    def too_deep(self, node: Any) -> bool:
        """MP304 when an expression nests deeper than MAX_NESTING (then it is not walked at all)."""
        depth = getattr(node, "depth", 1)
        if depth <= MAX_NESTING:
            return False
        self.error(
            "MP304",
            f"this expression is nested {depth} levels deep; the limit is {MAX_NESTING}",
            Span(node.span.path, node.span.line, node.span.column),
            help=["split it into simpler rules or audiences"],
        )
        return True

    # --- pass 1: collect declarations ------------------------------------------------------------

    def visit(self, node: ast.Statement) -> None:
        """Dispatch to `visit_<NodeClass>`."""
        getattr(self, f"visit_{type(node).__name__}")(node)

    def visit_FirmDecl(self, node: ast.FirmDecl) -> None:
        """The firm block, kept for pass 2 (declarations may follow their use)."""
        self.firm_decls.append(node)

    def visit_RoleDecl(self, node: ast.RoleDecl) -> None:
        """A `role` declaration, kept for pass 2 (declarations may follow their use)."""
        self.role_decls.append(node)

    def visit_KindDecl(self, node: ast.KindDecl) -> None:
        """A `kind` declaration, kept for pass 2 (declarations may follow their use)."""
        self.kind_decls.append(node)

    def visit_AudienceDecl(self, node: ast.AudienceDecl) -> None:
        """An `audience` declaration, kept for pass 2 (declarations may follow their use)."""
        self.audience_decls.append(node)

    def visit_SmtpDecl(self, node: ast.SmtpDecl) -> None:
        """An `smtp` block, kept for pass 2 (declarations may follow their use)."""
        self.smtp_decls.append(node)

    def visit_Rule(self, node: ast.Rule) -> None:
        """A rule, kept for pass 2 (declarations may follow their use)."""
        self.rule_nodes.append(node)

    # --- the run ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any] | None:
        """Check everything; the rule table when there is no error, else None."""
        for statement in self.policy.statements:
            self.visit(statement)
        firm = self.check_firm()
        self.check_roles()
        self.check_kinds()
        audiences = self.check_audiences()
        smtp = self.check_smtp()
        infos = [info for node in self.rule_nodes if (info := self.check_rule(node)) is not None]
        self.check_duplicates(infos)
        self.check_cycles(infos)
        self.lint(infos)
        if any(d.severity == "error" for d in self.diagnostics):
            return None
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "policy": Path(self.path).name,
            "firm": firm,
            "roles": sorted(self.roles),
            "kinds": {
                name: {"parent": parent, "declared": self.kind_locs.get(name)}
                for name, parent in self.kinds.items()
            },
            "rules": self.rule_table(infos),
            "audiences": audiences,
            "smtp": smtp,
            "templates": self.templates,
        }

    # --- firm ------------------------------------------------------------------------------------

    def _settings(self, settings: list[ast.Setting], known: tuple[str, ...], where: str) -> dict[str, Any]:
        """Settings by name, after the unknown-name (MP105) and duplicate (MP109) checks."""
        seen: dict[str, ast.Setting] = {}
        for s in settings:
            if s.name not in known:
                self.error(
                    "MP105", f"unknown {where} setting '{s.name}'", s.name_span, did_you_mean(s.name, known)
                )
            elif s.name in seen:
                first = seen[s.name]
                self.error(
                    "MP109",
                    f"'{s.name}' is set twice in this {where} block (first on line {first.span.line})",
                    s.name_span,
                )
            else:
                seen[s.name] = s
        return seen

    def check_firm(self) -> dict[str, Any] | None:
        """The firm block: exactly one, required fields present, addresses and language valid."""
        if not self.firm_decls:
            self.error(
                "MP205",
                "the policy has no firm block",
                Span(self.path, 1, 1),
                help=["add: firm { name = ..., company = ..., platform = ..., verified_domains = [...] }"],
            )
            return None
        decl = self.firm_decls[0]
        for extra in self.firm_decls[1:]:
            self.error(
                "MP109",
                f"a second firm block (the first is on line {decl.span.line})",
                _start(extra.span),
            )
        settings = self._settings(decl.settings, b.FIRM_FIELDS, "firm")
        firm: dict[str, Any] = {
            "name": None,
            "company": None,
            "functional": None,
            "communication": None,
            "platform": None,
            "verified_domains": [],
            "language": "fr",
        }
        for name in b.FIRM_REQUIRED:
            if name not in settings:
                self.error("MP205", f"the firm block lacks the required setting '{name}'", _start(decl.span))
        for name, s in settings.items():
            value = s.value
            if name == "verified_domains":
                firm[name] = self._domains(s)
            elif not isinstance(value, ast.StringLit):
                self.error("MP204", f"firm setting '{name}' takes a text in double quotes", value.span)
            elif name == "name":
                firm[name] = value.value
            elif name == "language":
                if value.value in b.LANGUAGES:
                    firm[name] = value.value
                else:
                    self.error(
                        "MP110",
                        f"unknown language '{value.value}': expected one of {', '.join(b.LANGUAGES)}",
                        value.span,
                        did_you_mean(value.value, b.LANGUAGES),
                    )
            else:
                try:
                    firm[name] = normalise_address(value.value)
                except ValueError as exc:
                    self.error("MP204", f"firm setting '{name}' is not a valid address: {exc}", value.span)
        self.verified_domains = firm["verified_domains"]
        return firm

    def _domains(self, s: ast.Setting) -> list[str]:
        value = s.value
        if not isinstance(value, ast.ListLit):
            self.error(
                "MP204",
                "verified_domains takes a list of domains in brackets",
                value.span,
                help=['for example: verified_domains = ["dupont-associes.be"]'],
            )
            return []
        domains: list[str] = []
        for item in value.items:
            if not isinstance(item, ast.StringLit) or not _DOMAIN.match(item.value.strip()):
                self.error("MP204", 'not a domain name (expected a text like "firm.be")', item.span)
                continue
            domain = item.value.strip().lower()
            if domain not in domains:
                domains.append(domain)
        if not value.items:
            self.error("MP204", "verified_domains lists no domain", value.span)
        return domains

    # --- roles, kinds, audiences -----------------------------------------------------------------

    def _declared_name_ok(self, name: ast.Name, what: str, taken: dict[str, str]) -> bool:
        """MP108 when a declared name reuses a reserved word or a built-in name."""
        for part, span in zip(name.parts, name.part_spans, strict=False):
            if part in b.RESERVED_WORDS:
                self.error("MP108", f"'{part}' is a reserved word and cannot name a {what}", span)
                return False
        text = name.text
        if text in taken:
            self.error("MP108", f"'{text}' is already the name of a built-in {taken[text]}", name.span)
            return False
        return True

    def check_roles(self) -> None:
        """Declared roles: undotted, new names, declared once."""
        taken = {r: "role" for r in b.BUILTIN_ROLES}
        taken.update({s: "address source" for s in b.SOURCES})
        taken.update({f: "field" for f in b.FIELDS})
        seen: dict[str, ast.RoleDecl] = {}
        for decl in self.role_decls:
            name = decl.name
            if len(name.parts) > 1:
                self.error("MP108", f"a role name has no dots: '{name.text}'", name.span)
                continue
            if not self._declared_name_ok(name, "role", taken):
                continue
            if name.text in seen:
                self.error(
                    "MP109",
                    f"role '{name.text}' is declared twice (first on line {seen[name.text].span.line})",
                    name.span,
                )
                continue
            seen[name.text] = decl
            self.roles.add(name.text)

    def check_kinds(self) -> None:
        """Declared kinds: new names, declared once, a known parent, no cycle of `extends`."""
        taken = {k: "kind" for k in b.BUILTIN_KINDS}
        taken.update({f: "field" for f in b.FIELDS})
        declared: list[ast.KindDecl] = []
        seen: dict[str, ast.KindDecl] = {}
        for decl in self.kind_decls:
            name = decl.name.text
            if not self._declared_name_ok(decl.name, "kind", taken):
                continue
            if name in seen:
                self.error(
                    "MP109",
                    f"kind '{name}' is declared twice (first on line {seen[name].span.line})",
                    decl.name.span,
                )
                continue
            seen[name] = decl
            declared.append(decl)
            self.kinds[name] = "general"
            self.kind_locs[name] = _loc(decl.span)
        for decl in declared:
            if decl.parent is None:
                continue
            parent = decl.parent.text
            if parent in self.kinds:
                self.kinds[decl.name.text] = parent
            else:
                self.error(
                    "MP106",
                    f"'{decl.name.text}' extends the unknown kind '{parent}'",
                    decl.parent.span,
                    did_you_mean(parent, self.kinds),
                )
        # A cycle of `extends` never reaches `general`; report it once, at its first declaration.
        # Each kind is walked once: `done` kinds are known to reach `general` (or a reported cycle).
        done: set[str] = set()
        for decl in declared:
            position: dict[str, int] = {}
            chain: list[str] = []
            current: str | None = decl.name.text
            while current is not None and current not in done and current not in position:
                position[current] = len(chain)
                chain.append(current)
                current = self.kinds.get(current)
            done.update(chain)
            if current is None or current not in position:
                continue
            cycle = chain[position[current] :]
            first = min((seen[k] for k in cycle), key=lambda d: (d.span.line, d.span.column))
            shown = " → ".join([*cycle, cycle[0]])
            self.error(
                "MP107",
                f"the kinds {shown} extend each other in a cycle",
                _start(first.span),
                help=[
                    "one of them must extend a kind outside the cycle, or nothing (then it extends general)"
                ],
            )
            for k in cycle:
                self.kinds[k] = "general"

    def check_audiences(self) -> dict[str, Any]:
        """Audiences: new names, declared once, a valid condition."""
        out: dict[str, Any] = {}
        seen: dict[str, ast.AudienceDecl] = {}
        for decl in self.audience_decls:
            name = decl.name
            if len(name.parts) > 1:
                self.error("MP108", f"an audience name has no dots: '{name.text}'", name.span)
                continue
            if name.text in seen:
                self.error(
                    "MP109",
                    f"audience '{name.text}' is declared twice (first on line {seen[name.text].span.line})",
                    name.span,
                )
                continue
            seen[name.text] = decl
            cond = self.check_condition(decl.condition)
            if cond is not None:
                out[name.text] = {"when": cond, "loc": _loc(decl.span)}
        return out

    # --- smtp ------------------------------------------------------------------------------------

    def check_smtp(self) -> dict[str, Any]:
        """SMTP blocks: `smtp` or `smtp sender ID`, each once, with valid settings and env secrets."""
        out: dict[str, Any] = {"default": None, "senders": {}}
        firsts: dict[str | None, ast.SmtpDecl] = {}
        for decl in self.smtp_decls:
            user: str | None = None
            if decl.word is not None and decl.user is not None:
                if decl.word.text != "sender":
                    self.error(
                        "MP112",
                        f"unknown word '{decl.word.text}' after smtp: expected 'smtp sender USER'",
                        decl.word.span,
                        did_you_mean(decl.word.text, ["sender"]) or ["write: smtp sender USER_ID {"],
                    )
                    continue
                user = decl.user.text
            if user in firsts:
                what = "the firm's SMTP server" if user is None else f"the SMTP server of sender '{user}'"
                self.error(
                    "MP109",
                    f"{what} is set twice (first on line {firsts[user].span.line})",
                    _start(decl.span),
                )
                continue
            firsts[user] = decl
            server = self._smtp_server(decl)
            if server is None:
                continue
            if user is None:
                out["default"] = server
            else:
                out["senders"][user] = server
        return out

    def _smtp_server(self, decl: ast.SmtpDecl) -> dict[str, Any] | None:
        settings = self._settings(decl.settings, b.SMTP_FIELDS, "smtp")
        ok = True
        server: dict[str, Any] = {"login": None, "password": None, "loc": _loc(decl.span)}
        if "host" not in settings:
            self.error("MP207", "this smtp block has no host", _start(decl.span))
            ok = False
        security = "starttls"
        for name, s in settings.items():
            value = s.value
            if name == "host":
                if isinstance(value, ast.StringLit) and value.value.strip():
                    server["host"] = value.value.strip()
                else:
                    self.error("MP207", "host takes a server name in double quotes", value.span)
                    ok = False
            elif name == "port":
                if (
                    isinstance(value, ast.NumberLit)
                    and isinstance(value.value, int)
                    and 0 < value.value < 65536
                ):
                    server["port"] = value.value
                else:
                    self.error("MP207", "port takes a whole number from 1 to 65535", value.span)
                    ok = False
            elif name == "security":
                word = value.name.text if isinstance(value, ast.Word) else None
                if word in b.SMTP_SECURITY:
                    security = str(word)
                else:
                    self.error(
                        "MP207",
                        f"security takes one of {', '.join(b.SMTP_SECURITY)}",
                        value.span,
                        did_you_mean(word or "", b.SMTP_SECURITY),
                    )
                    ok = False
            elif name in ("login", "password"):
                secret = self._smtp_secret(name, value)
                if secret is None:
                    ok = False
                server[name] = secret
        server["security"] = security
        server.setdefault("port", b.SMTP_DEFAULT_PORT[security])
        return server if ok else None

    def _smtp_secret(self, name: str, value: ast.SettingValue) -> dict[str, str] | None:
        if isinstance(value, ast.EnvRef):
            var = value.var.value
            if _ENV_NAME.match(var):
                return {"env": var}
            self.error("MP207", f"'{var}' is not an environment variable name", value.var.span)
            return None
        if name == "password":
            self.error(
                "MP206",
                "an SMTP password may not be written in the policy",
                value.span,
                help=['read it from the environment: password = env "SMTP_PASSWORD"'],
            )
            return None
        if isinstance(value, ast.StringLit):
            return {"value": value.value}
        self.error("MP207", 'login takes a text in double quotes or env "VAR"', value.span)
        return None

    # --- rules -----------------------------------------------------------------------------------

    def check_rule(self, node: ast.Rule) -> _RuleInfo | None:
        """One rule: target kind and field, language, value for its field, condition."""
        target = node.target
        field_name = target.parts[-1]
        kind = ".".join(target.parts[:-1]) or "general"
        ok = True
        field_span = target.part_spans[-1] if target.part_spans else target.span
        swapped = len(target.parts) >= 2 and target.parts[0] in b.FIELDS and field_name in self.kinds
        if swapped:
            # `bcc.invoice`: both names are known, in the wrong order; one diagnostic says so.
            order = ".".join([*target.parts[1:], target.parts[0]])
            self.error(
                "MP102",
                f"'{field_name}' is a kind, not a field: the kind comes first",
                target.span,
                help=[f"did you mean '{order}'?"],
            )
            return None
        if field_name not in b.FIELDS:
            self.error(
                "MP102", f"unknown field '{field_name}'", field_span, did_you_mean(field_name, b.FIELDS)
            )
            ok = False
        if kind not in self.kinds:
            span = Span(
                target.span.path, target.span.line, target.span.column, field_span.line, field_span.column - 1
            )
            self.error("MP101", f"unknown kind '{kind}'", span, did_you_mean(kind, self.kinds))
            ok = False
        lang: str | None = None
        if node.lang is not None:
            lang = node.lang.text
            if lang not in b.LANGUAGES:
                self.error(
                    "MP110",
                    f"unknown language '{lang}': expected one of {', '.join(b.LANGUAGES)}",
                    node.lang.span,
                    did_you_mean(lang, b.LANGUAGES),
                )
                ok = False
        entry: dict[str, Any] = {"lang": lang, "when": None, "loc": _loc(node.span)}
        refs: set[str] = set()
        if field_name in b.FIELDS:
            value = self.check_value(field_name, node.expr, refs)
            if value is None:
                ok = False
            else:
                entry.update(value)
        if node.when is not None:
            cond = self.check_condition(node.when)
            if cond is None:
                ok = False
            entry["when"] = cond
        if not ok:
            return None
        return _RuleInfo(node, kind, field_name, lang, entry, refs)

    def check_value(self, field_name: str, expr: ast.AddressExpr, refs: set[str]) -> dict[str, Any] | None:
        """The value of a rule for its field: an EXPR, PARTS, a template path or an attach word."""
        if self.too_deep(expr):
            return None
        inner = expr
        while isinstance(inner, ast.Group):
            inner = inner.inner
        if field_name in b.ADDRESS_FIELDS:
            address = self.check_address(expr, field_name, refs)
            return None if address is None else {"expr": address}
        if field_name in b.TEXT_FIELDS:
            if not isinstance(inner, ast.TextTerm):
                self.error(
                    "MP203",
                    f"'{field_name}' takes a text in double quotes",
                    expr.span,
                    help=['for example: subject = "Facture {{ document.number }}"'],
                )
                return None
            return self.check_text(inner.text)
        if field_name == "template":
            if not isinstance(inner, ast.TextTerm):
                self.error(
                    "MP203",
                    "'template' takes the path of an MJML file in double quotes",
                    expr.span,
                    help=['for example: invoice.template = "templates/invoice.mjml"'],
                )
                return None
            rel = self.check_template(inner.text)
            return None if rel is None else {"template": rel}
        # attach
        word = inner.name.text if isinstance(inner, ast.SourceRef) else None
        if word not in b.ATTACH_VALUES:
            self.error(
                "MP203",
                "'attach' takes document.file or none",
                expr.span,
                did_you_mean(word, b.ATTACH_VALUES) if word else [],
            )
            return None
        return {"attach": word}

    def check_text(self, text: ast.StringLit) -> dict[str, Any] | None:
        """A template string (subject, display name) split into PARTS with its paths checked."""
        offsets = text.offsets or tuple(range(text.span.column + 1, text.span.column + 2 + len(text.value)))
        line = text.span.line

        def locate(index: int) -> tuple[int, int]:
            return line, offsets[min(index, len(offsets) - 1)]

        parts, diags = split_placeholders(text.value, locate, self.path)
        self.diagnostics.extend(diags)
        if any(d.severity == "error" for d in diags):
            return None
        return {"text": parts}

    def check_address(self, expr: ast.AddressExpr, field_name: str, refs: set[str]) -> dict[str, Any] | None:
        """An address expression as EXPR; None (after its diagnostics) when any term is wrong."""
        loc = _loc(expr.span)
        if isinstance(expr, ast.Group):
            return self.check_address(expr.inner, field_name, refs)
        if isinstance(expr, ast.Else | ast.Union_):
            children = expr.terms if isinstance(expr, ast.Else) else expr.items
            checked = [self.check_address(c, field_name, refs) for c in children]
            if any(c is None for c in checked):
                return None
            if isinstance(expr, ast.Else):
                return {"op": "else", "terms": checked, "loc": loc}
            return {"op": "union", "items": checked, "loc": loc}
        if isinstance(expr, ast.FreeAddress):
            raw = expr.address.value
            try:
                address = normalise_address(raw)
            except ValueError as exc:
                self.error("MP201", f"'{raw}' is not a valid address: {exc}", expr.address.span)
                return None
            if field_name == "from" and self.verified_domains is not None and self.verified_domains:
                if not _domain_verified(address, self.verified_domains):
                    self.error(
                        "MP202",
                        f"'{address}' is not on a verified domain, so it can never be the From address",
                        expr.address.span,
                        help=[
                            f"verified domains: {', '.join(self.verified_domains)}",
                            "add its domain to verified_domains in the firm block once it is verified",
                        ],
                    )
                    return None
            return {"op": "free", "address": address, "loc": loc}
        if isinstance(expr, ast.TextTerm):
            self.error(
                "MP203",
                "a text is not an address source",
                expr.span,
                help=[f'for a fixed address write: free "{expr.text.value}"'],
            )
            return None
        assert isinstance(expr, ast.SourceRef)
        name = expr.name.text
        if name in b.SOURCES:
            if name in ("from", "reply_to", "general"):
                refs.add(name)
            return {"op": "source", "name": name, "loc": loc}
        if name in self.roles:
            return {"op": "role", "name": name, "loc": loc}
        helps = did_you_mean(name, [*b.SOURCES, *sorted(self.roles)])
        if name in self.kinds or name in b.FIELDS:
            pass
        elif not helps and len(expr.name.parts) == 1:
            helps = [f"declare it as a role if relations carry it: role {name}"]
        self.error("MP103", f"unknown address source '{name}'", expr.name.span, helps)
        return None

    def check_template(self, text: ast.StringLit) -> str | None:
        """A template path: relative, inside the policy's folder (symlinks resolved), existing."""
        rel = text.value
        span = text.span
        if not rel.strip():
            self.error("MP401", "the template path is empty", span)
            return None
        posix = rel.replace("\\", "/")
        if Path(rel).is_absolute() or posix.startswith("/") or re.match(r"[A-Za-z]:", rel):
            self.error(
                "MP401",
                f"the template path '{rel}' is absolute; write it relative to the policy file",
                span,
            )
            return None
        root = self.policy_dir.resolve()
        target = (root / rel).resolve()
        if not target.is_relative_to(root):
            lexical = Path(*[p for p in Path(posix).parts])
            through_link = ".." not in lexical.parts
            how = " through a symbolic link" if through_link else ""
            self.error(
                "MP401",
                f"the template '{rel}' leads outside the policy's folder{how}",
                span,
                help=["templates must live in the policy's folder or below it"],
            )
            return None
        if not target.is_file():
            folder = target.parent
            near: list[str] = []
            if folder.is_dir():
                near = did_you_mean(target.name, [p.name for p in folder.iterdir() if p.is_file()])
            self.error("MP402", f"template file not found: '{rel}'", span, near)
            return None
        if rel not in self.templates and rel not in self._template_failed:
            self.compile_template(rel, self.policy_dir / rel)
        return None if rel in self._template_failed else rel

    def compile_template(self, rel: str, target: Path) -> None:
        """Render the MJML once (compiler.templates); a failed template is remembered, not retried."""
        # Imported here: the template stage loads only for policies that name a template.
        from mailpolicy.compiler import templates

        compiled, diags = templates.compile_template(target, self.policy_dir, rel)
        self.diagnostics.extend(diags)
        if compiled is None or any(d.severity == "error" for d in diags):
            self._template_failed.add(rel)
            return
        self.templates[rel] = compiled

    # --- conditions ------------------------------------------------------------------------------

    def check_condition(self, node: ast.Condition) -> dict[str, Any] | None:
        """A condition as COND, after its paths and types are checked (SPEC 2.5)."""
        if self.too_deep(node):
            return None
        return self._cond(node)

    def _cond(self, node: ast.Condition) -> dict[str, Any] | None:
        if isinstance(node, ast.CondGroup):
            return self._cond(node.inner)
        if isinstance(node, ast.Or | ast.And):
            args = [self._cond(a) for a in node.args]
            if any(a is None for a in args):
                return None
            return {"op": "or" if isinstance(node, ast.Or) else "and", "args": args}
        if isinstance(node, ast.Not):
            arg = self._cond(node.arg)
            return None if arg is None else {"op": "not", "arg": arg}
        if isinstance(node, ast.PathRef):
            path = node.name.text
            kind, diags = check_path(path, node.name.span)
            self.diagnostics.extend(diags)
            if kind is None:
                return None
            if kind not in ("boolean", b.UNTYPED):
                self.error(
                    "MP303",
                    f"'{path}' is {_article(kind)}, not a yes/no value",
                    node.span,
                    help=[f"compare it with a value, for example: {path} == ..."],
                )
                return None
            return {"op": "truthy", "path": path}
        if isinstance(node, ast.Compare):
            return self._compare(node)
        self.error(
            "MP303",
            "a condition needs a data path or a comparison, not a fixed value",
            node.span,
            help=["for example: relation.accepts_promotional, or document.amount >= 10000"],
        )
        return None

    def _operand(self, node: ast.Condition) -> tuple[dict[str, Any], str, ast.Condition] | None:
        """An operand as OPERAND with its type (a path type, or string/number/boolean/list)."""
        while isinstance(node, ast.CondGroup):
            node = node.inner
        if isinstance(node, ast.PathRef):
            path = node.name.text
            kind, diags = check_path(path, node.name.span)
            self.diagnostics.extend(diags)
            return None if kind is None else ({"path": path}, kind, node)
        if isinstance(node, ast.StringLit | ast.NumberLit | ast.BoolLit):
            return {"value": node.value}, _literal_type(node), node
        if isinstance(node, ast.ListLit):
            values = []
            for item in node.items:
                if isinstance(item, ast.ListLit):
                    self.error("MP303", "a list holds texts, numbers or true/false, not lists", item.span)
                    return None
                values.append(item.value)
            return {"value": values}, "list", node
        self.error(
            "MP303",
            "a comparison compares data paths and values, not conditions",
            node.span,
            help=["put parentheses around whole comparisons: (a == 1) or (b == 2)"],
        )
        return None

    def _compare(self, node: ast.Compare) -> dict[str, Any] | None:
        left = self._operand(node.left)
        right = self._operand(node.right)
        if left is None or right is None:
            return None
        op = node.op
        result = {"op": "cmp", "cmp": op, "left": left[0], "right": right[0]}
        if op in ("in", "not in"):
            ok = self._check_in(left, right, op)
        else:
            ok = self._check_scalar(left, right, op) and self._check_scalar(right, left, op)
        return result if ok else None

    def _mismatch(self, path: str, kind: str, lit: ast.Condition, hint: str | None = None) -> bool:
        shown = _describe_literal(lit)
        helps = [hint] if hint else []
        if isinstance(lit, ast.StringLit) and kind == "number" and _is_number(lit.value):
            helps.append(f"write the number without quotes: {lit.value}")
        if kind == "boolean" and isinstance(lit, ast.StringLit) and lit.value in ("true", "false"):
            helps.append(f"write {lit.value} without quotes")
        self.error(
            "MP303",
            f"'{path}' is {_article(kind)}; it cannot be compared with {shown}",
            lit.span,
            help=helps,
        )
        return False

    def _check_scalar(self, a: tuple[Any, str, Any], other: tuple[Any, str, Any], op: str) -> bool:
        """A path on side A compared (== != < <= > >=) with OTHER; literal/literal is accepted."""
        _, kind, node = a
        if not isinstance(node, ast.PathRef) or kind == b.UNTYPED:
            return True
        path = node.name.text
        _, okind, onode = other
        if kind == "address list":
            self.error(
                "MP303",
                f"'{path}' is a list of addresses; test membership with 'in'",
                node.span,
                help=[f'for example: "someone@firm.be" in {path}'],
            )
            return False
        if op not in ("==", "!=") and kind == "boolean":
            self.error("MP303", f"'{path}' is a yes/no value and has no order; use == or !=", node.span)
            return False
        if isinstance(onode, ast.PathRef):
            if okind in (kind, b.UNTYPED):
                return True
            self.error(
                "MP303",
                f"'{path}' is {_article(kind)} and '{onode.name.text}' is {_article(okind)}: "
                "they cannot be compared",
                node.span,
            )
            return False
        return self._literal_fits(path, kind, onode)

    def _literal_fits(self, path: str, kind: str, lit: ast.Condition) -> bool:
        if kind == "text" and isinstance(lit, ast.StringLit):
            return True
        if kind == "number" and isinstance(lit, ast.NumberLit):
            return True
        if kind == "boolean" and isinstance(lit, ast.BoolLit):
            return True
        if kind == "date" and isinstance(lit, ast.StringLit):
            if _is_date(lit.value):
                return True
            return self._mismatch(path, kind, lit, 'dates compare with "YYYY-MM-DD" texts')
        hint = 'dates compare with "YYYY-MM-DD" texts' if kind == "date" else None
        return self._mismatch(path, kind, lit, hint)

    def _check_in(self, left: tuple[Any, str, Any], right: tuple[Any, str, Any], op: str) -> bool:
        _, lkind, lnode = left
        _, rkind, rnode = right
        if isinstance(rnode, ast.ListLit):
            if not isinstance(lnode, ast.PathRef) or lkind == b.UNTYPED:
                return True
            path = lnode.name.text
            if lkind == "address list":
                self.error(
                    "MP303",
                    f"'{path}' is a list of addresses; it cannot be {op} a list",
                    lnode.span,
                    help=[f'test one address instead: "someone@firm.be" {op} {path}'],
                )
                return False
            return all(self._literal_fits(path, lkind, item) for item in rnode.items)
        if isinstance(rnode, ast.PathRef):
            if rkind in ("address list", b.UNTYPED):
                if isinstance(lnode, ast.PathRef) and lkind not in ("text", b.UNTYPED):
                    self.error(
                        "MP303", f"'{lnode.name.text}' is {_article(lkind)}, not an address", lnode.span
                    )
                    return False
                if not isinstance(lnode, ast.PathRef) and not isinstance(lnode, ast.StringLit):
                    return self._mismatch(rnode.name.text, rkind, lnode)
                return True
            self.error(
                "MP303",
                f"'{rnode.name.text}' is {_article(rkind)}, not a list; '{op}' needs a list on its right",
                rnode.span,
            )
            return False
        self.error("MP303", f'\'{op}\' needs a list on its right, like ["a", "b"]', rnode.span)
        return False

    # --- whole-policy checks ---------------------------------------------------------------------

    def check_duplicates(self, infos: list[_RuleInfo]) -> None:
        """MP301: two unconditional rules for the same kind, field and language."""
        seen: dict[tuple[str, str, str | None], _RuleInfo] = {}
        for info in infos:
            if info.node.when is not None:
                continue
            key = (info.kind, info.field_name, info.lang)
            if key in seen:
                first = seen[key]
                target = info.node.target.text + (f"[{info.lang}]" if info.lang else "")
                self.error(
                    "MP301",
                    f"duplicate rule for '{target}': line {first.node.span.line} already sets it "
                    f"unconditionally",
                    info.node.target.span,
                    help=[
                        f"line {first.node.span.line}: "
                        + _first_line(self.policy.source, first.node.span.line),
                        "remove one of them, or add 'when' to one to say when it applies",
                    ],
                )
            else:
                seen[key] = info

    def _lineage(self, kind: str) -> Iterator[str]:
        """The kind, its parent, and so on up to `general` (stops on a cycle)."""
        seen: set[str] = set()
        current: str | None = kind
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.kinds.get(current)

    def _parents_first(self) -> list[str]:
        """Every kind, each after its parent (the kinds have no cycle left after check_kinds)."""
        depth: dict[str, int] = {}
        for kind in self.kinds:
            chain: list[str] = []
            current: str | None = kind
            while current is not None and current not in depth and current not in chain:
                chain.append(current)
                current = self.kinds.get(current)
            base = depth.get(current, -1) if current is not None else -1
            for k in reversed(chain):
                base += 1
                depth[k] = base
        return sorted(self.kinds, key=lambda k: depth[k])

    def check_cycles(self, infos: list[_RuleInfo]) -> None:
        """MP302: `from` and `reply_to` depending on each other (or on themselves) in some kind.

        The effective candidates of a kind are its own rules and built-in default, then its
        parent's, up to the first unconditional rule or default; conditions are ignored. The
        references of each kind are computed once, parents first, so that long chains of kinds
        cost linear time and no recursion.
        """
        defaults = b.builtin_defaults()
        by_key: dict[tuple[str, str], list[_RuleInfo]] = {}
        for info in infos:
            by_key.setdefault((info.kind, info.field_name), []).append(info)

        Ref = tuple[str, "_RuleInfo | None"]
        refs: dict[tuple[str, str], list[Ref]] = {}
        for kind in self._parents_first():
            parent = self.kinds.get(kind)
            for field_name in ("from", "reply_to"):
                inherited = refs.get((parent, field_name), []) if parent is not None else []
                rules = by_key.get((kind, field_name), [])
                found: dict[tuple[str, int], Ref] = {}
                for info in rules:
                    for ref in sorted(info.refs):
                        # What `general` brings is blamed on the rule that wrote `general`.
                        pairs = [r for r, _ in inherited] if ref == "general" else [ref]
                        for r in pairs:
                            found.setdefault((r, id(info)), (r, info))
                builtin = defaults.get(kind, {}).get(field_name)
                if builtin is not None:
                    expr = builtin.get("expr") or {}
                    for term in expr.get("terms", [expr]):
                        if term.get("name") in ("from", "reply_to"):
                            found.setdefault((term["name"], 0), (term["name"], None))
                stops = builtin is not None or any(i.node.when is None and i.lang is None for i in rules)
                if not stops:
                    for r, via in inherited:
                        found.setdefault((r, id(via)), (r, via))
                refs[(kind, field_name)] = list(found.values())

        reported: set[frozenset[int]] = set()
        for kind in self.kinds:
            edges: dict[str, list[tuple[str, _RuleInfo | None]]] = {
                f: refs[(kind, f)] for f in ("from", "reply_to")
            }
            cycles: list[list[tuple[str, _RuleInfo | None]]] = []
            for f in ("from", "reply_to"):
                for ref, rule in edges[f]:
                    if ref == f:
                        cycles.append([(f, rule)])
            for ref1, info1 in edges["from"]:
                if ref1 != "reply_to":
                    continue
                for ref2, info2 in edges["reply_to"]:
                    if ref2 == "from":
                        cycles.append([("from", info1), ("reply_to", info2)])
            for cycle in cycles:
                rules = [i for _, i in cycle if i is not None]
                if not rules:
                    continue
                key = frozenset(id(i) for i in rules)
                if key in reported:
                    continue
                reported.add(key)
                anchor = min(rules, key=lambda i: (i.node.span.line, i.node.span.column))
                fields = sorted({f for f, _ in cycle})
                if len(fields) == 1:
                    message = f"'{fields[0]}' depends on itself in kind '{kind}'"
                else:
                    message = f"'from' and 'reply_to' depend on each other in kind '{kind}'"
                helps = [
                    f"line {i.node.span.line}: {_first_line(self.policy.source, i.node.span.line)}"
                    for i in sorted({id(i): i for i in rules}.values(), key=lambda i: i.node.span.line)
                ]
                self.error("MP302", message, _start(anchor.node.span), help=helps)

    def lint(self, infos: list[_RuleInfo]) -> None:
        """Warnings: a reply_to chain that may end empty (MP501); with strict, kinds without subject."""
        for info in infos:
            if info.field_name == "reply_to" and not _ends_safely(info.node.expr):
                self.warn(
                    "MP501",
                    "this reply_to may resolve to nothing, and then replies go to company",
                    info.node.expr.span,
                    help=["end the chain with 'else company' (or a free address) to say so"],
                )
        if not self.strict:
            return
        used = {i.kind for i in infos}
        has = {(i.kind, i.field_name) for i in infos}
        for kind in sorted(used):
            lineage = list(self._lineage(kind))
            if not any((k, "subject") in has or (k, "template") in has for k in lineage):
                node = next(i.node for i in infos if i.kind == kind)
                prefix = "" if kind == "general" else f"{kind}."
                self.warn(
                    "MP502",
                    f"kind '{kind}' has no subject and no template",
                    _start(node.span),
                    help=[f'add one, for example: {prefix}subject = "..."'],
                )

    # --- the table -------------------------------------------------------------------------------

    def rule_table(self, infos: list[_RuleInfo]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """kind → field → candidates in precedence order, built-in defaults last (ARCHITECTURE.md)."""
        grouped: dict[str, dict[str, list[_RuleInfo]]] = {}
        for info in infos:
            grouped.setdefault(info.kind, {}).setdefault(info.field_name, []).append(info)
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        defaults = b.builtin_defaults()
        for kind in self.kinds:
            fields = dict.fromkeys([*grouped.get(kind, {}), *defaults.get(kind, {})])
            for field_name in fields:
                rules = grouped.get(kind, {}).get(field_name, [])
                ordered = (
                    [i for i in rules if i.lang is not None and i.node.when is not None]
                    + [i for i in rules if i.lang is not None and i.node.when is None]
                    + [i for i in rules if i.lang is None and i.node.when is not None]
                    + [i for i in rules if i.lang is None and i.node.when is None]
                )
                candidates = [i.entry for i in ordered]
                builtin = defaults.get(kind, {}).get(field_name)
                if builtin is not None:
                    candidates.append(builtin)
                out.setdefault(kind, {})[field_name] = candidates
        return out


# --- small helpers -------------------------------------------------------------------------------


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _literal_type(node: ast.Condition) -> str:
    if isinstance(node, ast.BoolLit):
        return "boolean"
    if isinstance(node, ast.NumberLit):
        return "number"
    return "string"


def _describe_literal(node: ast.Condition) -> str:
    if isinstance(node, ast.StringLit):
        return f'the text "{node.value}"'
    if isinstance(node, ast.BoolLit):
        return f"the yes/no value {'true' if node.value else 'false'}"
    if isinstance(node, ast.NumberLit):
        return f"the number {node.value}"
    if isinstance(node, ast.ListLit):
        return "a list"
    return "a condition"


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text.strip()) is not None


def _is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _ends_safely(expr: ast.AddressExpr) -> bool:
    """Whether a reply_to expression ends in `company` or a free address (SPEC 2.4 lint)."""
    while isinstance(expr, ast.Group):
        expr = expr.inner
    if isinstance(expr, ast.FreeAddress):
        return True
    if isinstance(expr, ast.SourceRef):
        return expr.name.text == "company"
    if isinstance(expr, ast.Else):
        return _ends_safely(expr.terms[-1])
    if isinstance(expr, ast.Union_):
        return any(_ends_safely(i) for i in expr.items)
    return False


def _first_line(source: str, line: int) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if 1 <= line <= len(lines) else ""
