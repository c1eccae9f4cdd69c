"""How the acegit process ends (acegit/cli/leave.py): after torch, without the interpreter's teardown, yet with its
atexit handlers run and its output flushed; a normal exit wherever skipping the teardown could lose something."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Prints SIZE bytes unflushed into a pipe (block-buffered), registers an atexit handler, and keeps an object whose
# __del__ runs only in the interpreter's teardown; each writes its marker to a file. Then leaves with the given code.
SCRIPT = textwrap.dedent(
    """
    import atexit, os, sys, threading, time
    marks = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    if sys.argv[2] == "torch":
        import torch
    class Torn:
        def __del__(self, _write=os.write, _fd=marks):
            _write(_fd, b"teardown\\n")
    kept = Torn()
    atexit.register(lambda: os.write(marks, b"atexit\\n"))
    if sys.argv[4] == "thread":  # a non-daemon thread still working when the command returns
        def late():
            time.sleep(0.5)
            os.write(marks, b"thread\\n")
        threading.Thread(target=late).start()
    sys.stdout.write("x" * int(sys.argv[5]))
    sys.stdout.write("!")  # smaller than the buffer: still in it when leave() runs
    sys.stderr.write("done")
    from acegit.cli.leave import leave
    code = sys.argv[3]
    leave(int(code) if code.isdigit() else code)
    """
)


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout into a pipe is block-buffered


def _args(marks: Path, torch: bool, code: str, thread: bool, size: int) -> list[str]:
    return [sys.executable, "-c", SCRIPT, str(marks), "torch" if torch else "-", code, "thread" if thread else "-",
            str(size)]  # fmt: skip


def _leave(
    tmp_path: Path, torch: bool, code: str, thread: bool = False
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    marks = tmp_path / "marks"
    proc = subprocess.run(
        _args(marks, torch, code, thread, 200_000),
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    return proc, set(marks.read_text().split()) if marks.exists() else set()


@pytest.mark.parametrize("code", ["0", "3"])
def test_after_torch_the_teardown_is_skipped_and_nothing_is_lost(tmp_path: Path, code: str) -> None:
    proc, marks = _leave(tmp_path, torch=True, code=code)
    assert proc.returncode == int(code), proc.stderr
    assert proc.stdout == "x" * 200_000 + "!" and proc.stderr.endswith("done")  # Python's buffers flushed
    assert marks == {"atexit"}  # the handlers ran; the teardown (the __del__ of a module global) did not


def test_without_torch_the_exit_is_the_interpreters_own(tmp_path: Path) -> None:
    proc, marks = _leave(tmp_path, torch=False, code="3")
    assert proc.returncode == 3 and proc.stdout == "x" * 200_000 + "!"
    assert marks == {"atexit", "teardown"}


def test_a_running_thread_is_waited_for(tmp_path: Path) -> None:
    proc, marks = _leave(tmp_path, torch=True, code="0", thread=True)
    assert proc.returncode == 0 and proc.stdout == "x" * 200_000 + "!"
    assert marks == {"thread", "atexit", "teardown"}


def test_a_message_exits_1_with_the_message(tmp_path: Path) -> None:
    proc, marks = _leave(tmp_path, torch=True, code="not a number")
    assert proc.returncode == 1 and proc.stderr.endswith("not a number\n")
    assert "atexit" in marks


def test_a_closed_stdout_reports_as_before(tmp_path: Path) -> None:
    """The reader of stdout left (`acegit ... | head`): the interpreter's own handling, not a silent success."""
    cmd = _args(tmp_path / "marks", torch=True, code="0", thread=False, size=100)  # still in the buffer at leave()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 120, err  # CPython's code for output it could not flush at exit


def test_a_profiler_gets_its_report(tmp_path: Path) -> None:
    """`python -m cProfile -o OUT -m acegit ...` writes OUT after the command returns: no fast exit under it."""
    out = tmp_path / "prof.out"
    script = tmp_path / "cmd.py"
    script.write_text("import torch, sys\nfrom acegit.cli.leave import leave\nleave(0)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
