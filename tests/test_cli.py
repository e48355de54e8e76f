"""The command line's contract: every command listed, one-line errors, exit 2."""

import argparse

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


def _all_parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_help_of_every_command_and_experiment_renders():
    parsers = list(_all_parsers(build_parser()))
    names = {p.prog.split()[-1] for p in parsers}
    assert {"reproduce", "equivariance", "fewshot"} <= names
    for parser in parsers:
        assert parser.format_help().strip(), parser.prog


def test_unknown_command_is_one_line_error():
    result = run_cli("no-such-command")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in result.stderr


def test_comma_lists_parse_or_give_one_line_errors():
    import pytest

    from core.cli._lists import comma_list
    from core.errors import ConfigError

    assert comma_list("0, 1,2", "--seeds", int) == [0, 1, 2]
    assert comma_list("0,22.5", "--angles", float) == [0.0, 22.5]
    with pytest.raises(ConfigError, match="--severities must be comma-separated integers"):
        comma_list("1,2.5", "--severities", int)  # never silently truncated to 2
    with pytest.raises(ConfigError, match="--angles needs at least one value"):
        comma_list(" , ", "--angles", float)
