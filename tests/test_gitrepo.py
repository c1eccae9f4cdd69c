from __future__ import annotations

from pathlib import Path

import pytest

from acegit.errors import GitError
from acegit.gitrepo import GitRepo, find_repo_root, init_repo


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = init_repo(tmp_path / "r")
    (repo.root / "tracks").mkdir()
    (repo.root / "tracks" / "a.toml").write_text("v1\n")
    (repo.root / "tracks" / "b.toml").write_text("v1\n")
    (repo.root / "README").write_text("hi\n")
    repo.commit("first", ["tracks/a.toml", "tracks/b.toml", "README"])
    return repo


def test_root_discovery(repo: GitRepo) -> None:
    sub = repo.root / "tracks"
    assert find_repo_root(sub) == repo.root
    assert GitRepo.discover(sub).root == repo.root


def test_show_and_resolve(repo: GitRepo) -> None:
    first = repo.resolve("HEAD")
    (repo.root / "tracks" / "a.toml").write_text("v2\n")
    repo.commit("second", ["tracks/a.toml"])
    assert repo.show(first, "tracks/a.toml") == b"v1\n"
    assert repo.show("HEAD", "tracks/a.toml") == b"v2\n"
    assert repo.resolve("HEAD~1") == first and len(first) == 40
    assert repo.exists("HEAD", "README") and not repo.exists("HEAD", "nope")
    assert repo.list_files("HEAD", "tracks") == ["tracks/a.toml", "tracks/b.toml"]
    assert repo.list_files("HEAD", "nothing") == []


def test_changed_between_revisions_and_working_tree(repo: GitRepo) -> None:
    (repo.root / "tracks" / "a.toml").write_text("v2\n")
    (repo.root / "tracks" / "a.lock.toml").write_text("lock\n")
    repo.commit("second", ["tracks/a.toml", "tracks/a.lock.toml"])
    assert repo.changed_files("HEAD~1", "HEAD") == ["tracks/a.lock.toml", "tracks/a.toml"]
    assert repo.changed_files("HEAD") == []
    (repo.root / "tracks" / "b.toml").write_text("edited\n")
    (repo.root / "tracks" / "c.toml").write_text("untracked\n")
    (repo.root / "README").write_text("edited\n")
    assert repo.changed_files("HEAD") == ["README", "tracks/b.toml", "tracks/c.toml"]
    assert repo.changed_files("HEAD~1") == [
        "README",
        "tracks/a.lock.toml",
        "tracks/a.toml",
        "tracks/b.toml",
        "tracks/c.toml",
    ]


def test_commit_only_given_paths(repo: GitRepo) -> None:
    (repo.root / "tracks" / "a.toml").write_text("v2\n")
    (repo.root / "tracks" / "b.toml").write_text("v2\n")
    repo.add(["tracks/b.toml"])  # staged by someone else: must not sneak into our commit
    repo.commit("only a", [repo.root / "tracks" / "a.toml"])
    assert repo.changed_files("HEAD~1", "HEAD") == ["tracks/a.toml"]


def test_unknown_revision(repo: GitRepo) -> None:
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        repo.resolve("nope")
    with pytest.raises(GitError, match="unknown revision"):
        repo.show("nope", "README")
    with pytest.raises(GitError, match="does not exist at revision"):
        repo.show("HEAD", "tracks/zzz.toml")


def test_empty_repo_and_not_a_repo(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "empty")
    with pytest.raises(GitError, match="unknown revision 'HEAD'"):
        repo.resolve("HEAD")
    with pytest.raises(GitError, match="not inside a Git repository"):
        GitRepo.discover(tmp_path / "elsewhere")


def test_commit_with_nothing_to_commit(repo: GitRepo) -> None:
    with pytest.raises(GitError, match="cannot commit"):
        repo.commit("nothing")
