"""The command table (acegit/cli/commands.py) against the command modules, and `acegit --help` built from it without
importing them (drawn by acegit/cli/roothelp.py): every command listed, in the table's order, with its help, byte for
byte what typer renders for the real commands."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

from acegit.cli.app import app
from acegit.cli.commands import COMMANDS, load_all

# Renders `acegit --help` the way typer does for the fully imported app: TyperGroup.format_help on the real commands
# (every module imported, so no table rows are involved), each command's short help set to its table row.
EAGER_HELP = """
import sys, typer, typer.main
from typer.core import TyperGroup
from acegit.cli.app import app
from acegit.cli.commands import COMMANDS, load_all
load_all()
group = typer.main.get_command(app)
for name, row in COMMANDS.items():
    group.commands[name].short_help = row.help
group.format_help = lambda ctx, formatter: TyperGroup.format_help(group, ctx, formatter)
group.main(["--help"], prog_name="acegit")
"""

LAZY_PROBE = """
import json, sys
from acegit.cli import main
sys.argv = ["acegit", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("acegit.cli."))), file=sys.stderr)
"""


def _first_paragraph(help_text: str) -> str:
    return " ".join(inspect.cleandoc(help_text).split("\n\n")[0].split())


def _run(code: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TERM")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={**full_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_module_registers_its_row_and_the_row_has_its_help() -> None:
    load_all()
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    assert set(group.commands) == set(COMMANDS)  # no command registered without a row, no row without a command
    for name, row in COMMANDS.items():
        command = group.commands[name]
        module = command.callback.__module__ if command.callback is not None else None
        if isinstance(command, TyperGroup):  # a command group: its commands live in its module
            module = next(iter(command.commands.values())).callback.__module__  # type: ignore[union-attr]
        assert module == row.module, name
        assert row.help == _first_paragraph(command.short_help or command.help or ""), f"COMMANDS[{name!r}].help"


def test_the_table_is_in_help_order_commands_then_groups_each_sorted() -> None:
    load_all()
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    names = list(COMMANDS)
    plain = [n for n in names if not isinstance(group.commands[n], TyperGroup)]
    groups = [n for n in names if isinstance(group.commands[n], TyperGroup)]
    assert names == sorted(plain) + sorted(groups)


def test_help_is_what_typer_renders_for_the_real_commands(tmp_path: Path) -> None:
    envs: list[dict[str, str]] = [
        {"COLUMNS": "80"},
        {"COLUMNS": "200"},
        {"COLUMNS": "50"},  # the help column wraps
        {"COLUMNS": "100", "FORCE_COLOR": "1", "TERM": "xterm"},
        {"COLUMNS": "100", "FORCE_COLOR": "1", "TERM": "xterm-256color", "NO_COLOR": "1"},
        {"COLUMNS": "120", "TERMINAL_WIDTH": "90"},
    ]
    for env in envs:
        lazy = _run(LAZY_PROBE, "--help", cwd=tmp_path, **env)
        eager = _run(EAGER_HELP, cwd=tmp_path, **env)
        assert eager.returncode == 0, eager.stderr
        assert lazy.stdout == eager.stdout, env
        assert ("\x1b[" in lazy.stdout) == ("FORCE_COLOR" in env)  # styles compared too (NO_COLOR keeps bold, dim)
        assert json.loads(lazy.stderr.splitlines()[-1]) == [
            "acegit.cli.app",
            "acegit.cli.commands",
            "acegit.cli.roothelp",
        ]


def test_typer_draws_what_roothelp_cannot(tmp_path: Path) -> None:
    """A group roothelp does not draw the same (here: an epilog) falls back to typer's renderer, table rows still."""
    code = LAZY_PROBE.replace("from acegit.cli import main", "from acegit.cli import main, app\napp.info.epilog = 'E.'")
    out = _run(code, "--help", cwd=tmp_path, COLUMNS="300")
    assert "E." in out.stdout and all(f"│ {name} " in out.stdout for name in COMMANDS)
    assert json.loads(out.stderr.splitlines()[-1]) == ["acegit.cli.app", "acegit.cli.commands", "acegit.cli.roothelp"]


def test_help_lists_every_command_with_its_help(tmp_path: Path) -> None:
    out = _run(LAZY_PROBE, "--help", cwd=tmp_path, COLUMNS="300").stdout
    rows = [line.strip("│ ").split(None, 1) for line in out.splitlines() if line.startswith("│ ")]
    listed = {cells[0]: cells[1].strip() for cells in rows if cells[0] in COMMANDS}
    assert list(listed) == list(COMMANDS)
    for name, row in COMMANDS.items():
        shown = row.help.replace("\\[", "[")  # rich markup escape
        assert listed[name] == shown, name


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    for args, module in ((["status"], "acegit.cli.status"), (["cache", "--help"], "acegit.cli.cache")):
        proc = _run(LAZY_PROBE, *args, cwd=tmp_path, COLUMNS="300")
        loaded = json.loads(proc.stderr.splitlines()[-1])
        assert loaded == sorted(["acegit.cli.app", "acegit.cli.commands", module]), args


def test_subcommand_help_and_a_misspelt_command(tmp_path: Path) -> None:
    status = _run(LAZY_PROBE, "status", "--help", cwd=tmp_path, COLUMNS="300").stdout
    assert "Usage: acegit status [OPTIONS]" in status and "--json" in status and "--all" in status
    edit = _run(LAZY_PROBE, "edit", "--help", cwd=tmp_path, COLUMNS="300").stdout
    assert all(sub in edit for sub in ("repaint", "extend", "vary", "list", "drop"))
    wrong = _run(LAZY_PROBE, "stauts", cwd=tmp_path, COLUMNS="300")
    assert "No such command 'stauts'. Did you mean 'status'?" in wrong.stderr


@pytest.mark.parametrize("args", [["--help"], ["render", "--help"]])
def test_a_reader_that_leaves_early_is_not_a_bug(args: list[str]) -> None:
    """`acegit ... | head -1`: the closed pipe ends the command quietly (exit 1), with no traceback or bug report."""
    read, write = os.pipe()
    os.close(read)  # the reader has already gone
    try:
        done = subprocess.run(
            [sys.executable, "-m", "acegit", *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "hit a bug" not in done.stderr, done.stderr
