"""The command line's contract: every command listed, one-line errors, exit 2."""

from conftest import run_cli

from core.cli import build_parser, command_modules


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for module in command_modules():
        assert module.NAME in result.stdout


def test_every_command_has_help():
    parser = build_parser()
    for module in command_modules():
        assert module.HELP.strip(), module.__name__
    assert parser.prog == "equiguard"


def test_unknown_command_is_one_line_error():
    result = run_cli("no-such-command")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in result.stderr
