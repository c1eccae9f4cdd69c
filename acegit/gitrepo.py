"""The only module that talks to Git (GitPython, imported lazily: `import git` costs ~0.1 s); errors become GitError."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from acegit.errors import GitError

if TYPE_CHECKING:
    import git


def find_repo_root(start: Path) -> Path | None:
    """The work tree root at or above `start` (a `.git` folder or file), without starting git."""
    start = start.absolute()
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return None


@contextmanager
def _git_errors(action: str) -> Iterator[None]:
    """Turn GitPython's exceptions into one GitError whose message says what git said and what to do."""
    import git

    try:
        yield
    except git.GitCommandNotFound:
        raise GitError(
            f"cannot {action}: the `git` program is not installed or not on PATH", hint="Install Git."
        ) from None
    except git.GitCommandError as e:
        said = (e.stderr or e.stdout or "").strip().removeprefix("stderr:").strip().strip("'").strip()
        hint = None
        if "Please tell me who you are" in said or "user.email" in said:
            hint = (
                'Set your identity: git config --global user.name "Your Name" && '
                "git config --global user.email you@example.com"
            )
        raise GitError(f"cannot {action}: {said or e}", hint=hint) from None
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise GitError(
            f"cannot {action}: not a Git repository ({e})", hint="Run `git init` or cd into a repository."
        ) from None


def init_repo(path: Path) -> GitRepo:
    """`git init` at `path` (created if missing)."""
    import git

    path.mkdir(parents=True, exist_ok=True)
    with _git_errors(f"run git init in {path}"):
        git.Repo.init(path)
    return GitRepo(path)


class GitRepo:
    """A work tree; `rev` arguments accept anything `git rev-parse` does (HEAD~1, main, a tag, a sha)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._repo: Any = None

    @classmethod
    def discover(cls, start: Path) -> GitRepo:
        """The repository containing `start`."""
        root = find_repo_root(start)
        if root is None:
            raise GitError(
                f"{start.absolute()} is not inside a Git repository",
                hint="Run `git init` (or `acegit new`) first, or cd into a repository.",
            )
        return cls(root)

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            import git

            with _git_errors(f"open the Git repository at {self.root}"):
                self._repo = git.Repo(self.root)
        return self._repo

    def resolve(self, rev: str) -> str:
        """The full commit sha of `rev`; an unknown revision is a GitError naming it."""
        import git

        try:
            return str(self.repo.commit(rev).hexsha)
        except (git.BadName, git.BadObject, ValueError, git.GitCommandError) as e:
            raise GitError(
                f"unknown revision {rev!r}: {e}".rstrip(": "),
                hint="Check the name with `git log --oneline` or `git branch -a`.",
            ) from None

    def show(self, rev: str, path: str) -> bytes:
        """The bytes of `path` (relative to the repository root, forward slashes) at `rev`."""
        sha = self.resolve(rev)
        with _git_errors(f"read {path} at {rev}"):
            try:
                blob = self.repo.commit(sha).tree / path
            except KeyError:
                raise GitError(f"{path} does not exist at revision {rev!r}") from None
            data: bytes = blob.data_stream.read()
            return data

    def exists(self, rev: str, path: str) -> bool:
        """Whether `path` exists at `rev`."""
        sha = self.resolve(rev)
        try:
            self.repo.commit(sha).tree / path
        except KeyError:
            return False
        return True

    def list_files(self, rev: str, under: str = "") -> list[str]:
        """Files (relative paths, sorted) in the tree of `rev`, optionally only below the folder `under`."""
        sha = self.resolve(rev)
        with _git_errors(f"list files at {rev}"):
            tree = self.repo.commit(sha).tree
            if under:
                try:
                    tree = tree / under.strip("/")
                except KeyError:
                    return []
            return sorted(str(b.path) for b in tree.traverse() if getattr(b, "type", None) == "blob")  # type: ignore[union-attr]

    def changed_files(self, rev_a: str, rev_b: str | None = None) -> list[str]:
        """Files that differ between two revisions, or between `rev_a` and the working tree (untracked included)."""
        a = self.resolve(rev_a)
        with _git_errors(f"compare {rev_a} with {rev_b or 'the working tree'}"):
            if rev_b is None:
                out = self.repo.git.diff("--name-only", "--no-renames", "-z", a)
                untracked = self.repo.git.ls_files("--others", "--exclude-standard", "-z")
                names = set(out.split("\0")) | set(untracked.split("\0"))
            else:
                b = self.resolve(rev_b)
                names = set(self.repo.git.diff("--name-only", "--no-renames", "-z", a, b).split("\0"))
        names.discard("")
        return sorted(names)

    def changed_tracks(self, rev_a: str, rev_b: str | None = None, tracks_dir: str = "tracks") -> list[str]:
        """Names of tracks whose track or lock file changed (see `changed_files`); `tracks_dir` is repo-relative."""
        return track_names(self.changed_files(rev_a, rev_b), tracks_dir)

    def add(self, paths: Iterable[Path | str]) -> None:
        """Stage files."""
        rel = [self._rel(p) for p in paths]
        with _git_errors("stage files"):
            self.repo.git.add("--", *rel)

    def commit(self, message: str, paths: Iterable[Path | str] = ()) -> str:
        """Stage `paths` and commit only them (hooks run as with `git commit`); returns the new commit's sha.

        Without `paths`, commits whatever is staged.
        """
        rel = [self._rel(p) for p in paths]
        with _git_errors("commit"):
            if rel:
                self.repo.git.add("--", *rel)
                self.repo.git.commit("-m", message, "--", *rel)
            else:
                self.repo.git.commit("-m", message)
        return self.resolve("HEAD")

    def _rel(self, p: Path | str) -> str:
        path = Path(p)
        return path.absolute().relative_to(self.root).as_posix() if path.is_absolute() else path.as_posix()


def track_names(files: Iterable[str], tracks_dir: str = "tracks") -> list[str]:
    """Track names from repository-relative paths: `tracks/boss.toml` and `tracks/boss.lock.toml` both give boss."""
    folder = PurePosixPath(tracks_dir.strip("/") or ".")
    names = set()
    for f in files:
        p = PurePosixPath(f)
        if p.parent != folder or not p.name.endswith(".toml"):
            continue
        names.add(p.name.removesuffix(".toml").removesuffix(".lock"))
    return sorted(names)
