"""`acegit --help` drawn with rich directly: the panels typer's help renderer draws for the root group, without
importing `typer.rich_utils`, which imports rich.markdown (markdown-it), rich.traceback, rich.pretty and pygments for
Markdown help and pretty tracebacks, neither of which acegit uses (about 60 ms of `acegit --help`; docs/performance.md).

Only what the root group has is drawn here: a one-paragraph help, plain flags (`--version`, `--help`), the command
table (acegit/cli/commands.py). `drawable` says no to anything else, and typer draws it. tests/cli/test_command_table.py
compares the output byte for byte with typer's own rendering, plain and coloured, at several widths.
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING

from rich.align import Align
from rich.columns import Columns
from rich.console import Console, Group
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from typer.core import HAS_RICH, TyperOption

if TYPE_CHECKING:
    from typer._click.core import Context
    from typer.core import TyperGroup

# typer's defaults (typer/rich_utils.py), which acegit does not change.
_THEME = {
    "option": "bold cyan",
    "switch": "bold green",
    "negative_option": "bold magenta",
    "negative_switch": "bold red",
    "types": "bold yellow",
    "types_sep": "dim",
    "usage": "yellow",
}


class _Options(RegexHighlighter):
    highlights = [
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<types>\<[^\>]+\>)",
        r"(?P<usage>Usage: )",
    ]


class _NegativeOptions(RegexHighlighter):
    highlights = [
        r"(^|\W)(?P<negative_switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<negative_option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
    ]


class _Types(RegexHighlighter):
    highlights = [r"^(?P<types_sep>(\[|<))", r"(?P<types_sep>\|)", r"(?P<types_sep>(\]|>))(\.\.\.)?$"]


_options, _negative, _types = _Options(), _NegativeOptions(), _Types()


def _plain_paragraph(text: str | None) -> bool:
    """One paragraph of rich markup that typer shows as it is (no ANSI codes, no \\b or \\f blocks)."""
    return bool(text) and "\n\n" not in inspect.cleandoc(text or "") and not any(c in (text or "") for c in "\x1b\b\f")


def drawable(group: TyperGroup, ctx: Context) -> bool:
    """Whether `draw` renders this group's help exactly as typer would."""
    if not HAS_RICH or group.rich_markup_mode != "rich" or group.deprecated or group.epilog:
        return False
    if not _plain_paragraph(group.help):
        return False
    for param in group.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if not isinstance(param, TyperOption) or not param.is_bool_flag or param.secondary_opts:
            return False
        if param.default or param.required or param.envvar is not None or ctx.auto_envvar_prefix:
            return False
        if param.rich_help_panel or not _plain_paragraph(param.help) or param.help is None or "\n" in param.help:
            return False
    return True


def _console() -> Console:
    force = True if os.getenv("GITHUB_ACTIONS") or os.getenv("FORCE_COLOR") or os.getenv("PY_COLORS") else None
    if os.getenv("_TYPER_FORCE_DISABLE_TERMINAL"):
        force = False
    width = os.getenv("TERMINAL_WIDTH")
    return Console(
        theme=Theme(_THEME),
        highlighter=_options,
        color_system="auto",
        force_terminal=force,
        width=int(width) if width else None,
    )


def draw(group: TyperGroup, ctx: Context, commands: list[tuple[str, str]]) -> None:
    """Print the help of a `drawable` group listing `commands` (name, one-paragraph rich markup)."""
    console = _console()
    console.print(Padding(_options(group.get_usage(ctx)), 1), style="bold")
    first = inspect.cleandoc(group.help or "").replace("\n", " ").strip()
    help_text = _options(Text.from_markup(first, style=""))
    console.print(Padding(Align(Group(help_text), pad=False), (0, 1, 1, 1)))

    options = Table(highlight=True, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    for param in group.get_params(ctx):
        if getattr(param, "hidden", False) or not isinstance(param, TyperOption):
            continue
        longs = ",".join(o for o in param.opts if "--" in o)
        shorts = ",".join(o for o in param.opts if "--" not in o)
        options.add_row(
            _options(longs),
            _options(shorts),
            _negative(""),
            _negative(""),
            _types(Text(style="bold yellow", overflow="fold")),
            Columns([_options(Text.from_markup((param.help or "").strip(), style=""))]),
        )
    if options.row_count:
        console.print(Panel(options, border_style="dim", title="Options", title_align="left"))

    table = Table(highlight=False, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True, width=max((len(name) for name, _ in commands), default=0))
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for name, text in commands:
        table.add_row(Text(name), _options(Text.from_markup(text.strip(), style="")))
    if table.row_count:
        console.print(Panel(table, border_style="dim", title="Commands", title_align="left"))
