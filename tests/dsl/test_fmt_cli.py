"""`mailpolicy fmt` on files: rewrite in place, --check, --diff, files that do not parse."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mailpolicy.cli import cli
from tests.clirun import run

UGLY = "bcc=sender  # copy\nreply_to = responsible else company\n"
PRETTY = "bcc      = sender  # copy\nreply_to = responsible else company\n"


def files(tmp_path: Path) -> tuple[Path, Path]:
    """One file to reformat and one already canonical."""
    ugly, pretty = tmp_path / "ugly.mail", tmp_path / "pretty.mail"
    ugly.write_text(UGLY, encoding="utf-8")
    pretty.write_text(PRETTY, encoding="utf-8")
    return ugly, pretty


def test_rewrites_in_place_and_names_what_changed(tmp_path: Path) -> None:
    ugly, pretty = files(tmp_path)
    assert run("fmt", str(ugly), str(pretty)) == (0, f"reformatted {ugly}\n", "")
    assert ugly.read_text(encoding="utf-8") == PRETTY
    assert run("fmt", str(ugly)) == (0, "", "")


def test_check_lists_files_and_fails_without_writing(tmp_path: Path) -> None:
    ugly, pretty = files(tmp_path)
    assert run("fmt", "--check", str(ugly), str(pretty)) == (1, f"would reformat {ugly}\n", "")
    assert ugly.read_text(encoding="utf-8") == UGLY
    assert run("fmt", "--check", str(pretty)) == (0, "", "")


def test_diff_prints_a_unified_diff_without_writing(tmp_path: Path) -> None:
    ugly, _ = files(tmp_path)
    code, out, _ = run("fmt", "--diff", str(ugly))
    assert code == 0
    assert out == (
        f"--- {ugly} (original)\n+++ {ugly} (formatted)\n@@ -1,2 +1,2 @@\n"
        "-bcc=sender  # copy\n+bcc      = sender  # copy\n reply_to = responsible else company\n"
    )
    assert ugly.read_text(encoding="utf-8") == UGLY
    assert run("fmt", "--diff", "--check", str(ugly))[0] == 1


def test_a_file_that_does_not_parse_is_reported_and_left_alone(tmp_path: Path) -> None:
    ugly, _ = files(tmp_path)
    bad = tmp_path / "bad.mail"
    bad.write_text('bcc = sender\nsubject = "open\n', encoding="utf-8")
    code, out, err = run("fmt", str(bad), str(ugly))
    assert code == 1
    assert out == f"reformatted {ugly}\n"
    assert err.startswith(f"{bad}:2:11: error[")
    assert "unterminated" in err
    assert bad.read_text(encoding="utf-8") == 'bcc = sender\nsubject = "open\n'


def test_not_utf8_and_missing_files(tmp_path: Path) -> None:
    latin = tmp_path / "latin.mail"
    latin.write_bytes('subject = "Fran\xe7ais"\n'.encode("latin-1"))
    code, _, err = run("fmt", str(latin))
    assert code == 1
    assert err.startswith(f"{latin}:1:")
    assert "not UTF-8" in err
    assert run("fmt", str(tmp_path / "none.mail")) == (
        2,
        "",
        f"error: no such file: {tmp_path / 'none.mail'}\n",
    )


def test_standard_input_to_standard_output() -> None:
    result = CliRunner().invoke(cli, ["fmt", "-"], input=UGLY)
    assert (result.exit_code, result.stdout) == (0, PRETTY)
    result = CliRunner().invoke(cli, ["fmt", "--check", "-"], input=UGLY)
    assert (result.exit_code, result.stdout) == (1, "would reformat -\n")
    result = CliRunner().invoke(cli, ["fmt", "-"], input="bcc == sender\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("<stdin>:1:5: error[MP001]: unexpected '=='")


def test_a_missing_file_stops_before_anything_is_rewritten(tmp_path: Path) -> None:
    ugly, _ = files(tmp_path)
    assert run("fmt", str(ugly), str(tmp_path / "none.mail"))[0] == 2
    assert ugly.read_text(encoding="utf-8") == UGLY


def test_pre_commit_hooks_run_the_documented_commands(tmp_path: Path) -> None:
    """Each hook of .pre-commit-hooks.yaml is a `mailpolicy` command that works on *.mail files."""
    import re

    import yaml

    hooks = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text("utf-8")
    )
    assert [h["id"] for h in hooks] == ["mailpolicy-check", "mailpolicy-fmt"]
    policy = tmp_path / "firm.mail"
    policy.write_text(
        'firm {\n  name             = "F"\n  company          = "c@f.be"\n'
        '  platform         = "p@m.example"\n  verified_domains = ["f.be"]\n}\nbcc = sender\n',
        encoding="utf-8",
    )
    for hook in hooks:
        assert re.search(hook["files"], "dir/x.mail") and not re.search(hook["files"], "x.mail.bak")
        program, *args = hook["entry"].split()
        assert program == "mailpolicy"
        code, _, err = run(*args, str(policy))
        assert code == 0, (hook["id"], err)
    policy.write_text("bcc=sender\n", encoding="utf-8")
    assert run(*hooks[1]["entry"].split()[1:], str(policy))[0] == 1
