"""The `mailpolicy` command line: a thin click layer over the public API.

Commands import their stage lazily so that `check` does not pay for MJML, jsonschema or Babel.
Exit codes everywhere: 0 success, 1 errors in the policy, data or messages, 2 usage errors.
"""

from __future__ import annotations

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailpolicy")
def cli() -> None:
    """Decide who sends, receives and is copied on every email a firm sends, and produce them."""


def fail(message: str, code: int = 1) -> None:
    """Print a clear error (never a traceback) and exit with CODE."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# --- commands are added below, one section per command ---------------------------------------


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
