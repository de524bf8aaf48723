"""mailpolicy: declarative, checkable email policies for accounting firms.

The pipeline, one package a stage::

    policy.mail ──dsl (Lark LALR)──► AST ──compiler (checks, MJML once)──► rule table (JSON)
                                                                              │
    relation data (YAML/JSON) + kind + sender ──runtime (no lark, no click)───┴──► envelope ──► .eml / SMTP
"""

__version__ = "0.1.0"
