from __future__ import annotations

from pathlib import Path


def test_atomic_writes_get_ordinary_permissions(tmp_path: Path) -> None:
    import os

    from acegit.fsutil import atomic_write_text

    target = tmp_path / "f.toml"
    atomic_write_text(target, "x = 1\n")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert target.read_text() == "x = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.toml"]
