"""How the `acegit` process ends: after a command that loaded torch, without the interpreter's teardown.

Tearing down a process that imported torch (freeing every module's objects one by one, then libtorch's static
destructors) takes 0.2-0.4 s on the development machines (docs/performance.md, "Fast path"), paid by every render,
diff and check after its work is done and its files are written. The OS frees the memory and closes the files at
once. So a command that loaded torch ends here like this: Python's atexit handlers run (logging's flush, temporary
directories' clean-up, Ray's shutdown), stdout and stderr (Python's and C's) are flushed, and the process exits with
the command's code. Every file acegit writes is closed before its command returns (written atomically, then renamed);
nothing of ours waits for the garbage collector.

A normal exit is kept where skipping the teardown could lose something: no torch loaded (the teardown is cheap), a
non-daemon thread still running (the interpreter would wait for it), a profiler or tracer at work (`python -m
cProfile` writes its report after the command returns), an exit code that is a message, or a flush that
fails (a closed pipe: the interpreter's own handling reports it as before).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from acegit.engine.numerics import flush_c_stdio


def fast_exit_possible() -> bool:
    """Whether the process may end without the teardown (see the module docstring; the exit code aside)."""
    if "torch" not in sys.modules:
        return False
    if sys.getprofile() is not None or sys.gettrace() is not None:  # cProfile, a debugger: they report after we return
        return False
    main = threading.main_thread()
    return not any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not main)


def leave(code: object) -> NoReturn:
    """End the process with `code` (SystemExit's: None, an int, or a message)."""
    if not (code is None or isinstance(code, int)) or not fast_exit_possible():
        raise SystemExit(code)
    atexit._run_exitfuncs()  # what the interpreter would run first; they run once (the list is cleared)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the interpreter reports it the way it always has
        raise SystemExit(code) from None
    flush_c_stdio()
    os._exit(0 if code is None else code & 0xFF)
