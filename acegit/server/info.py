"""The server-info file: how `acegit render` on this machine finds a running `acegit serve` for its project.

Written once the server listens, mode 0600 (it holds the token), under the project's git-ignored `.acegit/` folder —
not in the render cache folder, which several projects may share — and removed on shutdown.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from acegit.fsutil import atomic_write_bytes
from acegit.project import Project

INFO_FILE = Path(".acegit") / "serve.json"


@dataclass(frozen=True)
class ServerInfo:
    url: str  # http://127.0.0.1:PORT
    token: str
    pid: int
    device: str  # where the server renders: "cpu" or "cuda"
    root: str  # the project the server serves


def info_path(project: Project) -> Path:
    return project.root / INFO_FILE


def write_info(project: Project, info: ServerInfo) -> None:
    atomic_write_bytes(info_path(project), json.dumps(asdict(info), indent=2).encode("utf-8"), private=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, but not a server we may use
        return True
    return True


def read_info(project: Project) -> ServerInfo | None:
    """The running server of this project, or None (no file, a damaged one, or its process is gone)."""
    try:
        data = json.loads(info_path(project).read_text(encoding="utf-8"))
        info = ServerInfo(**{k: data[k] for k in ServerInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if Path(info.root) != project.root or not pid_alive(info.pid):
        return None
    return info


def remove_info(project: Project, pid: int) -> None:
    """Remove the file if it is this server's (a second server must not delete the first one's)."""
    path = info_path(project)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
