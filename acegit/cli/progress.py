"""Progress on stderr for commands that sample: a rich bar on a terminal, plain lines in logs and CI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from acegit.render import Outcome


class LineProgress:
    """Plain lines for logs and CI (no TTY)."""

    def __init__(self, err: Console) -> None:
        self.err = err

    def batch(self, names: Sequence[str], steps: int) -> None:
        self.err.print(f"sampling {', '.join(names)} ({steps} steps)")

    def step(self, done: int, total: int) -> None:
        pass

    def finished(self, outcome: Outcome) -> None:
        if outcome.action != "fresh":
            self.err.print(f"{outcome.action:<9} {outcome.name} ({outcome.seconds:.2f} s)")


class BarProgress(LineProgress):
    """A rich bar over the work items (`what`) and one over the sampling steps of the current batch."""

    def __init__(self, err: Console, total: int, what: str = "tracks") -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(err)
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        )
        self.items = self.bars.add_task(what, total=total)
        self.steps = self.bars.add_task("steps", total=1, visible=False)

    def batch(self, names: Sequence[str], steps: int) -> None:
        self.bars.update(self.steps, description=", ".join(names)[:40], completed=0, total=steps, visible=True)

    def step(self, done: int, total: int) -> None:
        self.bars.update(self.steps, completed=done, total=total)

    def finished(self, outcome: Outcome) -> None:
        self.bars.advance(self.items)


def print_warnings(err: Console, outcomes: Sequence[Outcome]) -> None:
    """`warning: …` on stderr for each render that has one (e.g. a built-in loop that is not whole bars)."""
    from rich.markup import escape

    for o in outcomes:
        if o.warning:
            err.print(escape(f"warning: {o.warning}"))
