"""The only module that talks to Git (GitPython, imported lazily: `import git` costs ~0.1 s); errors become GitError."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
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

    def head(self) -> str | None:
        """The full sha of HEAD, or None in a repository without commits."""
        import git

        try:
            return str(self.repo.head.commit.hexsha)
        except (ValueError, git.BadName, git.GitCommandError):
            return None

    def is_dirty(self, paths: Iterable[Path | str]) -> bool:
        """Whether any of `paths` differs from HEAD (staged, unstaged or untracked); missing paths are clean."""
        rel = [self._rel(p) for p in paths]
        with _git_errors("check for uncommitted changes"):
            out = self.repo.git.status("--porcelain", "--untracked-files=all", "--", *rel)
        return bool(out.strip())

    def commit_subject(self, sha: str) -> str | None:
        """The first line of a commit's message, or None when this repository does not have the commit."""
        import git

        try:
            return str(self.repo.commit(sha).summary)
        except (git.BadName, git.BadObject, ValueError, git.GitCommandError):
            return None

    def is_ancestor(self, sha: str, rev: str = "HEAD") -> bool:
        """Whether commit `sha` is in the history of `rev`."""
        import git

        try:
            self.repo.git.merge_base("--is-ancestor", sha, rev)
        except git.GitCommandError:
            return False
        return True

    def _rel(self, p: Path | str) -> str:
        path = Path(p)
        return path.absolute().relative_to(self.root).as_posix() if path.is_absolute() else path.as_posix()

    # --- history and renames (issue 6: diff, log) ---

    def renames(self, rev_a: str, rev_b: str | None = None, under: str = ".") -> dict[str, str]:
        """Files below `under` that git's rename detection sees as renamed from `rev_a` to `rev_b` (None: the
        working tree, untracked files included): new path -> old path."""
        a = self.resolve(rev_a)
        with _git_errors(f"compare {rev_a} with {rev_b or 'the working tree'}"):
            if rev_b is None:
                out = self._diff_worktree_renames(a, under)
            else:
                out = self.repo.git.diff("-M", "--name-status", "-z", a, self.resolve(rev_b), "--", under)
        return {new: old for status, new, old in _name_status(out) if status == "R" and old is not None}

    def _diff_worktree_renames(self, sha: str, under: str) -> str:
        """`git diff -M` of a commit against the working tree with untracked files, via a throwaway index copy."""
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="acegit-index-") as tmp:
            index = Path(tmp) / "index"
            real = Path(self.repo.git_dir) / "index"
            if real.is_file():
                shutil.copyfile(real, index)
            env = {"GIT_INDEX_FILE": str(index)}
            # The user's index is never touched; the blobs `add` writes are ordinary loose objects.
            self.repo.git.add("-A", "--ignore-errors", "--", under, env=env, with_exceptions=False)
            out: str = self.repo.git.diff("--cached", "-M", "--name-status", "-z", sha, "--", under, env=env)
            return out

    def file_log(self, path: str, rev: str = "HEAD") -> list[tuple[str, str, str]]:
        """Commits (newest first) that changed `path`, following renames: (sha, status letter, path in that commit)."""
        sha = self.resolve(rev)
        with _git_errors(f"read the history of {path}"):
            out: str = self.repo.git.log("--follow", "-M", "--name-status", "--format=%x01%H", "-z", sha, "--", path)
        rows: list[tuple[str, str, str]] = []
        for chunk in out.split("\x01")[1:]:  # "\x01<sha>\0\n<status>\0<path>\0[<new path>\0]"
            head, _, rest = chunk.partition("\0")
            changes = _name_status(rest.lstrip("\n"))
            if changes:
                rows.append((head.strip(), changes[0][0], changes[0][1]))
        return rows

    def rev_list(self, rev: str, paths: Iterable[str]) -> list[str]:
        """Commits reachable from `rev` that touched any of `paths`, newest first in topological order."""
        sha = self.resolve(rev)
        with _git_errors(f"list the commits of {rev}"):
            out: str = self.repo.git.rev_list("--topo-order", sha, "--", *paths)
        return out.split()

    def commit_info(self, rev: str) -> dict[str, str]:
        """Short sha, author, ISO date and subject line of a commit."""
        sha = self.resolve(rev)
        with _git_errors(f"read commit {rev}"):
            c = self.repo.commit(sha)
            return {
                "sha": sha,
                "short": sha[:7],
                "author": str(c.author.name),
                "date": c.committed_datetime.isoformat(),
                "subject": str(c.summary),
            }

    # --- hooks, drivers and the index (issue 7) ---

    def git_path(self, name: str) -> Path:
        """`git rev-parse --git-path NAME`, absolute: honours worktrees and core.hooksPath (for "hooks/...")."""
        with _git_errors(f"locate {name} in the Git directory"):
            out = str(self.repo.git.rev_parse("--git-path", name)).strip()
        path = Path(out)
        return path if path.is_absolute() else self.root / path

    def config_get(self, key: str) -> str | None:
        """A key of this clone's own config (.git/config), or None when unset."""
        with _git_errors(f"read git config {key}"):
            status, out, _ = self.repo.git.config(
                "--local", "--get", key, with_extended_output=True, with_exceptions=False
            )
        return str(out) if status == 0 else None

    def config_set(self, key: str, value: str) -> None:
        """Set a key in this clone's own config (.git/config)."""
        with _git_errors(f"set git config {key}"):
            self.repo.git.config("--local", key, value)

    def config_unset(self, key: str) -> None:
        """Remove a key from this clone's own config; a key that is not set is fine."""
        with _git_errors(f"unset git config {key}"):
            status, _, err = self.repo.git.config(
                "--local", "--unset-all", key, with_extended_output=True, with_exceptions=False
            )
        if status not in (0, 5):  # 5: the key was not set
            raise GitError(f"cannot unset git config {key}: {str(err).strip()}")

    def staged_files(self) -> list[str]:
        """Files added, copied, modified or renamed in the index against HEAD (all of them before a first commit)."""
        with _git_errors("list staged files"):
            out = self.repo.git.diff("--cached", "--name-only", "--no-renames", "--diff-filter=ACMR", "-z")
        return sorted(n for n in out.split("\0") if n)

    def unstaged_files(self, paths: Iterable[Path | str] = ()) -> list[str]:
        """Tracked files whose working-tree content differs from the index (optionally only among `paths`)."""
        rel = [self._rel(p) for p in paths]
        with _git_errors("list unstaged changes"):
            out = self.repo.git.diff("--name-only", "--no-renames", "-z", "--", *rel)
        return sorted(n for n in out.split("\0") if n)

    def indexed_files(self, under: str = "") -> list[str]:
        """Files in the index (what the next commit holds), optionally only below the folder `under`."""
        with _git_errors("list files in the index"):
            out = self.repo.git.ls_files("-z", "--", *([under] if under else []))
        return sorted(n for n in out.split("\0") if n)


def merge_file(base: Path, ours: Path, theirs: Path, labels: tuple[str, str, str]) -> tuple[bytes, int]:
    """`git merge-file --diff3 -p`: the three-way text merge and its number of conflicts (0: clean)."""
    import git

    with _git_errors("merge file contents"):
        status, out, err = git.Git().merge_file(
            "-p",
            "--diff3",
            "-L",
            labels[0],
            "-L",
            labels[1],
            "-L",
            labels[2],
            str(ours),
            str(base),
            str(theirs),
            with_extended_output=True,
            with_exceptions=False,
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
    if not 0 <= status < 128:  # merge-file exits with the number of conflicts (capped at 127), or -1 on error
        message = err if isinstance(err, str) else err.decode(errors="replace")
        raise GitError(f"git merge-file failed on {ours}: {message.strip()}")
    return out, status


def _name_status(out: str) -> list[tuple[str, str, str | None]]:
    """Parse `--name-status -z` output into (status letter, path, old path of a rename or copy)."""
    fields = out.split("\0")
    rows: list[tuple[str, str, str | None]] = []
    i = 0
    while i + 1 < len(fields) and fields[i]:
        status = fields[i]
        if status[0] in "RC" and i + 2 < len(fields):
            rows.append((status[0], fields[i + 2], fields[i + 1]))
            i += 3
        else:
            rows.append((status[0], fields[i + 1], None))
            i += 2
    return rows
