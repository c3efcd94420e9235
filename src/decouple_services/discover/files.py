"""Which files of a repository decouple looks at, and what kind of code each one is.

Two ways to list a tree, with the same result shape:

* inside a git work tree, ``git ls-files --cached --others --exclude-standard`` — git knows
  ignore rules (nested ``.gitignore``, ``.git/info/exclude``, the global excludes file)
  better than any reimplementation;
* elsewhere, an ``os.scandir`` walk applying every ``.gitignore`` met on the way with
  pathspec's gitignore semantics.

On top of either, directories that never hold a project's own code (virtualenvs,
site-packages, node_modules, caches, build output) are skipped, ``exclude`` globs are
applied, and symlinks are checked: nothing outside the root and no loop is ever followed.
"""

from __future__ import annotations

import errno
import functools
import operator
import os
import posixpath
import re
import stat
from collections.abc import Callable, Container, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from decouple_services.core import git
from decouple_services.core.config import Config
from decouple_services.core.errors import ConfigError, PathError
from decouple_services.core.fs import read_regular
from decouple_services.core.git import GitAnswers, git_answer, run_git
from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import Category, Diagnostic, Severity
from decouple_services.core.records import record
from decouple_services.core.stamps import may_be_in_work_tree, stamp_of
from decouple_services.discover.workflows import is_workflow

if TYPE_CHECKING:
    # imported where used: a rerun whose listing is reused compiles no pattern, and a tree
    # outside git starts no process
    import subprocess

    import pathspec


@record
class FileListing:
    """The files of one repository that discovery and detection read."""

    #: Repo-relative posix paths of Python source files, sorted.
    python: tuple[str, ...] = ()
    #: Repo-relative posix paths of deployment and packaging files (compose, manifests, Helm
    #: values, ``.env``, Dockerfiles, pyproject.toml, requirements...), sorted.
    deploy: tuple[str, ...] = ()
    #: Repo-relative posix paths of source and build files in other languages (Go, C++,
    #: Java, Kotlin, JavaScript/TypeScript, ``go.mod``, Bazel ``BUILD``) and ``.proto``
    #: files, sorted: the servers Python code calls may be written in them, and the protos
    #: name the gRPC services.
    other: tuple[str, ...] = ()
    #: Files and directories that could not be listed (unreadable, symlink problems).
    diagnostics: tuple[Diagnostic, ...] = ()


#: A .gitignore larger than this is not read (its patterns would not be applied).
MAX_GITIGNORE_BYTES = 2**20

# Directory names that never hold the project's own code, wherever they appear.
_SKIP_DIR_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".eggs",
        ".decouple-cache",
        ".pyre",
        ".pytype",
        "__pypackages__",
    }
)
# ``build`` and ``dist`` are setuptools output almost always, but a package may be called
# ``build``; one with an ``__init__.py`` is kept so real code is never silently dropped.
_BUILD_DIR_NAMES = frozenset({"build", "dist"})

#: What setuptools writes into ``build/``: ``lib``, ``lib.linux-x86_64-cpython-312``,
#: ``bdist.linux-x86_64``, ``temp.*``, ``scripts-3.12``.
_SETUPTOOLS_BUILD = lazy_pattern(r"(?:lib|bdist|temp|scripts)(?:[.-].*)?")

_DEPLOY_NAMES = frozenset(
    {"pyproject.toml", "setup.py", "setup.cfg", "manage.py", "Procfile", ".env"}
)
# YAML that configures CI, docs or linters rather than deploying services.
_NON_DEPLOY_YAML = frozenset(
    {
        "mkdocs.yml",
        "mkdocs.yaml",
        "codecov.yml",
        "codecov.yaml",
        "appveyor.yml",
        "bitbucket-pipelines.yml",
        "environment.yml",
        "environment.yaml",
        "cloudbuild.yaml",
        "cloudbuild.yml",
        "buildspec.yml",
        "dependabot.yml",
    }
)


def is_python_file(path: str) -> bool:
    """Whether a repo-relative path is Python source decouple parses."""
    return path.endswith(".py")


#: Extensions of source files in other languages that may hold a gRPC server or a binary,
#: and of the ``.proto`` files naming gRPC services.
OTHER_SOURCE_EXTENSIONS = frozenset(
    {"go", "cc", "cpp", "cxx", "h", "hh", "hpp", "java", "kt", "js", "mjs", "cjs", "ts", "proto"}
)
_OTHER_NAMES = frozenset({"go.mod", "BUILD", "BUILD.bazel"})


def is_other_source(path: str) -> bool:
    """Whether a repo-relative path is source or a build file in another language."""
    name = path[path.rfind("/") + 1 :]
    if name in _OTHER_NAMES:
        return True
    dot = name.rfind(".")
    return dot > 0 and name[dot + 1 :] in OTHER_SOURCE_EXTENSIONS and not name.endswith(".d.ts")


def is_deploy_file(path: str) -> bool:
    """Whether a repo-relative path may describe services (deployment or packaging)."""
    name = posixpath.basename(path)
    if name in _DEPLOY_NAMES:
        return True
    if name.endswith(".env") or name.startswith(".env."):
        return True
    if (
        name.startswith("Dockerfile")
        or name.endswith(".Dockerfile")
        or name.endswith(".dockerfile")
    ):
        return True
    if name.startswith("requirements") and name.endswith(".txt") and len(name) >= 16:
        return True  # requirements*.txt
    if name.endswith((".yml", ".yaml")):
        # a CI workflow says which folder each image it pushes is built from
        return is_compose_file(path) or is_workflow(path) or not _is_ci_yaml(path)
    return False


def is_compose_file(path: str) -> bool:
    """Whether a path names a docker-compose file (``docker-compose*.yml``, ``compose*.yaml``)."""
    name = posixpath.basename(path)
    return name.endswith((".yml", ".yaml")) and (
        name.startswith("docker-compose") or name.startswith("compose")
    )


def looks_like_manifest(text: str) -> bool:
    """Cheap test: only YAML that names an ``apiVersion`` and a ``kind`` is read as k8s."""
    return "apiVersion" in text and "kind" in text


def _is_ci_yaml(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    # Dot-directories (.github, .gitlab, .circleci, .devcontainer...) and dotfiles
    # (.gitlab-ci.yml, .pre-commit-config.yaml, .travis.yml) configure tools, not services.
    if any(part.startswith(".") for part in parts):
        return True
    return name in _NON_DEPLOY_YAML or name.startswith("azure-pipelines")


def _holds_setuptools_output(absolute: str) -> bool:
    """Whether a ``build/`` folder is setuptools' (``build/lib/...``), not one of the
    project's own (``build/docker-compose/``, ``build/.docker/``: how it is deployed)."""
    try:
        names = os.listdir(absolute)
    except OSError:
        return True
    return not names or any(_SETUPTOOLS_BUILD().fullmatch(n) for n in names)


class ListingStore(Protocol):
    """Where a listing is kept between runs (the app layer's cache): a walk's, or with
    ``answers`` one git made."""

    def load(self, answers: GitAnswers | None = None) -> FileListing | None: ...

    def save(
        self,
        listing: FileListing,
        stamps: dict[str, list[int] | None],
        answers: GitAnswers | None = None,
    ) -> None: ...


def list_files(
    root: Path, exclude: Sequence[str] = (), listing_cache: ListingStore | None = None
) -> FileListing:
    """List the Python and deployment files under ``root``.

    Honours ``.gitignore`` (through git when ``root`` is inside a work tree, even as a
    subdirectory of one), skips virtualenvs and build output, applies the ``exclude``
    gitignore-style globs, and never follows a symlink out of the tree or into a loop.

    Raises:
        PathError: ``root`` does not exist or is not a directory.
        ConfigError: an ``exclude`` pattern is not a valid glob.
    """
    if not root.exists():
        raise PathError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise PathError(f"{root}: not a directory")
    walker = _Walker(root, exclude)
    cache = listing_cache
    #: git's answers and the ignore files read to decide on asking git, when kept
    answers: GitAnswers | None = [] if cache is not None else None
    read: dict[str, list[int] | None] = {}
    listed = _git_listing(root, walker.diagnostics, answers, read)
    if listed is None:
        answers = None  # walked: the walk's stamps alone say whether it holds
    if cache is not None:
        # a walk's stamps as they were; or git answering as it did for the kept listing
        # and the folders its paths were read from as they were (the same paths, of the
        # same kinds)
        known = cache.load(answers)
        if known is not None:
            return known
        walker.stamps = dict(read) if listed is not None else {}
    if listed is None:
        walker.walk("")
    else:
        paths, diagnostics = listed
        walker.diagnostics.extend(diagnostics)
        walker.take_git_paths(paths())
    listing = _listing(walker)
    if cache is not None and walker.cacheable and walker.stamps is not None:
        cache.save(listing, walker.stamps, answers)
    return listing


def _listing(walker: _Walker) -> FileListing:
    files = walker.files
    if not all(_is_utf8(p) for p in files):
        files = [p for p in files if _is_utf8(p) or walker.reject_name(p)]
    python = sorted({p for p in files if is_python_file(p)})
    deploy = sorted({p for p in files if is_deploy_file(p)})
    other = sorted({p for p in files if is_other_source(p)})
    return FileListing(
        python=tuple(python),
        deploy=tuple(deploy),
        other=tuple(other),
        diagnostics=tuple(sorted(set(walker.diagnostics), key=Diagnostic.sort_key)),
    )


def _git_listing(
    root: Path,
    notes: list[Diagnostic],
    answers: GitAnswers | None = None,
    read: dict[str, list[int] | None] | None = None,
) -> tuple[Callable[[], list[str]], list[Diagnostic]] | None:
    """Paths git would track under ``root`` (decoded when asked: a listing kept needs them
    not), or ``None`` to fall back to walking. Each git command run is added to
    ``answers`` (its answer digested), and the ignore files read to ``read`` (stamped
    before they are read)."""
    if not may_be_in_work_tree(root):
        return None
    import subprocess

    def ask(*args: str) -> subprocess.CompletedProcess[bytes]:
        return _git_answered(root, answers, *args)

    try:
        inside = ask(*git.IN_WORK_TREE)
        if inside.returncode != 0 or inside.stdout.strip() != b"true":
            return None
        costly = _costly_ignore_pattern(root, answers, read)
        if costly is not None:
            source, number, pattern = costly
            notes.append(
                Diagnostic(
                    source,
                    number,
                    Severity.NOTE,
                    "gitignore-costly",
                    f"pattern {pattern!r} takes git exponential time to match; "
                    "the tree is walked instead",
                )
            )
            return None
        # A root that the enclosing repository ignores would list as empty; walk it instead.
        if ask(*git.ROOT_IGNORED).returncode == 0:
            return None
        listed = ask(*git.LISTED)
    except (OSError, subprocess.SubprocessError):
        return None
    if listed.returncode != 0:
        return None
    # Tracked files that the ignore rules match (generated code committed with `add -f`)
    # are left out too: the rules say what the team considers not its source.
    try:
        ignored_tracked = ask(*git.TRACKED_IGNORED)
        skip = (
            {p for p in ignored_tracked.stdout.split(b"\0") if p}
            if ignored_tracked.returncode == 0
            else set()
        )
    except (OSError, subprocess.SubprocessError):
        skip = set()

    def paths() -> list[str]:
        # A nested repository that is not a submodule is listed once, as ``inner/``.
        return sorted(
            {os.fsdecode(p).rstrip("/") for p in listed.stdout.split(b"\0") if p and p not in skip}
        )

    diagnostics = []
    for line in listed.stderr.decode("utf-8", "replace").splitlines():
        # git skips directories it cannot open with a warning; keep that visible.
        marker = "could not open directory '"
        if marker in line:
            rest = line.split(marker, 1)[1]
            directory, _, reason = rest.partition("': ")
            diagnostics.append(
                Diagnostic(
                    directory.rstrip("/"),
                    0,
                    Severity.WARNING,
                    "unreadable",
                    f"directory not readable: {reason or 'unknown reason'}",
                )
            )
    return paths, diagnostics


#: More ``*`` runs than this in one segment of an ignore pattern makes git's wildmatch
#: backtrack exponentially (``*a*a*a*a*a*a*ab`` against a long name takes minutes).
MAX_STARS_PER_SEGMENT = 3


def _costly_ignore_pattern(
    root: Path,
    answers: GitAnswers | None = None,
    read: dict[str, list[int] | None] | None = None,
) -> tuple[str, int, str] | None:
    """The first tracked ignore pattern (file, line, text) git would take too long to match,
    if any: git matches every tracked and untracked path against each, in C but without a
    bound on backtracking. ``answers`` and ``read`` as :func:`_git_listing`'s."""
    listed = _git_answered(root, answers, *git.IGNORE_FILES)
    if listed.returncode != 0:
        return None
    names = [os.fsdecode(p) for p in listed.stdout.split(b"\0") if p]
    exclude = _git_answered(root, answers, *git.INFO_EXCLUDE)
    sources = [(n, os.path.join(root, n)) for n in names]
    if exclude.returncode == 0 and exclude.stdout.strip():
        info = os.fsdecode(exclude.stdout.strip())
        sources.append((".git/info/exclude", os.path.join(root, info)))
    for shown, path in sources:
        if read is not None:
            read[os.path.relpath(path, root)] = stamp_of(path)
        try:
            text = read_regular(path, MAX_GITIGNORE_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if is_costly_glob(line):
                return shown, number, line
    return None


def is_costly_glob(pattern: str) -> bool:
    """Whether a gitignore-style pattern has more ``*`` runs in one path segment than
    :data:`MAX_STARS_PER_SEGMENT`."""
    return any(
        len(re.findall(r"\*+", segment)) > MAX_STARS_PER_SEGMENT for segment in pattern.split("/")
    )


def _git_answered(
    root: Path, answers: GitAnswers | None, *args: str
) -> subprocess.CompletedProcess[bytes]:
    """``run_git(root, *args)``, its answer added to ``answers`` (:func:`git_answer`; a
    command that could not run with None for its status and digest, which no answer of a
    command that runs equals)."""
    import subprocess

    try:
        done = run_git(root, *args)
    except (OSError, subprocess.SubprocessError):
        if answers is not None:
            answers.append([list(args), None, None])
        raise
    if answers is not None:
        answers.append(git_answer(args, done))
    return done


@record
class _IgnoreFile:
    """The patterns of one ``.gitignore``, relative to the directory holding it."""

    base: str
    spec: pathspec.GitIgnoreSpec

    def verdict(self, path: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by ``!pattern``, None: no pattern matched."""
        if self.base:
            if not path.startswith(self.base + "/"):
                return None
            path = path[len(self.base) + 1 :]
        if is_dir:
            path += "/"
        # gitignore semantics: the last matching pattern decides. pathspec picks its re2
        # backend when google-re2 is installed (a dependency): linear-time matching, where
        # Python's re backtracks exponentially on a pattern such as ``*a*a*a*a*a*a*ab``.
        return self.spec.check_file(path).include


def _spec(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return _compile(lines)[0]


def _compile(lines: Iterable[str]) -> tuple[pathspec.GitIgnoreSpec, list[tuple[int, str]]]:
    """Compile gitignore-style lines, returning the ``(line number, text)`` of invalid ones.

    pathspec rejects the whole list for one bad line (``!``, ``[z-a]``); git itself just
    ignores such a line, so each is checked on its own and left out.
    """
    import pathspec

    good: list[str] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except (ValueError, re.error):
            bad.append((number, line))
        else:
            good.append(line)
    return pathspec.GitIgnoreSpec.from_lines(good), bad


class _Walker:
    """Collects files under one root; holds the state a single listing needs."""

    def __init__(self, root: Path, exclude: Sequence[str]) -> None:
        self.root = root
        self._root_text = str(root)
        self.root_real = os.path.realpath(root)
        self.exclude: _IgnoreFile | None = None
        if exclude:
            spec, bad = _compile(exclude)
            if bad:
                raise ConfigError(
                    [
                        f"exclude pattern {text!r} is not a valid gitignore-style glob"
                        for _, text in bad
                    ]
                )
            self.exclude = _IgnoreFile("", spec)
        self.files: list[str] = []
        self.diagnostics: list[Diagnostic] = []
        self._skip_cache: dict[str, bool] = {}
        self._excluded_dirs: dict[str, bool] = {}
        #: Walk mode: every directory and file the listing depends on, with its state (see
        #: :class:`ListingStore`); None when not tracked.
        self.stamps: dict[str, list[int] | None] | None = None
        #: False once the walk met something the stamps cannot vouch for (a symlink, whose
        #: target may change elsewhere; an unreadable entry).
        self.cacheable = True

    # -- shared rules -------------------------------------------------------------------

    def _abs(self, rel: str) -> str:
        return os.path.join(self._root_text, rel) if rel else self._root_text

    def _excluded(self, rel: str, is_dir: bool) -> bool:
        if self.exclude is None:
            return False
        if not is_dir:
            return bool(self.exclude.verdict(rel, False))
        # Git mode asks about every ancestor of every file; directories repeat a lot.
        cached = self._excluded_dirs.get(rel)
        if cached is None:
            cached = self._excluded_dirs[rel] = bool(self.exclude.verdict(rel, True))
        return cached

    def _skip_dir(self, rel: str, names: Container[str] | None = None) -> bool:
        """Whether a directory never holds the project's own code. ``names``: the names of
        its entries in lower case, when its listing is at hand: a marker file or folder not
        among them is not looked for (one that is, is looked for as before: a file system
        may ignore case)."""
        cached = self._skip_cache.get(rel)
        if cached is not None:
            return cached
        name = posixpath.basename(rel)
        absolute = self._abs(rel)
        skip = _skipped_name(name)
        if not skip:
            # decided by what the directory holds, and its bin/ and Scripts/ when they exist
            # (creating one changes the directory's own mtime)
            self._stamp(rel)
            for sub in ("bin", "Scripts"):
                if names is None or sub.lower() in names:
                    self._stamp(f"{rel}/{sub}" if rel else sub, only_existing=True)
            skip = (
                name in _BUILD_DIR_NAMES
                and not _holds(absolute, "__init__.py", names)
                and (name != "build" or _holds_setuptools_output(absolute))
            ) or _is_virtualenv(absolute, names)
        self._skip_cache[rel] = skip
        return skip

    def _stamp(self, rel: str, only_existing: bool = False) -> None:
        """Remember the state of a path the walk's result depends on (for the listing cache):
        a directory's mtime changes when an entry is added, removed or renamed."""
        if self.stamps is not None and rel not in self.stamps:
            stamp = stamp_of(self._abs(rel))
            if stamp is not None or not only_existing:
                self.stamps[rel] = stamp

    def _inside_root(self, real: str) -> bool:
        return real == self.root_real or real.startswith(self.root_real.rstrip(os.sep) + os.sep)

    def _note(self, rel: str, code: str, message: str) -> None:
        self.cacheable = False
        self.diagnostics.append(Diagnostic(rel, 0, Severity.WARNING, code, message))

    def _check_symlink(self, rel: str, parent_real: str) -> tuple[bool, bool]:
        """Decide about a symlink: ``(follow_or_keep, is_dir)``.

        A symlinked directory inside the tree is not followed: its target is listed where it
        really lives, so following would only duplicate files or loop.
        """
        absolute = self._abs(rel)
        try:
            st = os.stat(absolute)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._note(rel, "symlink-loop", "symlink loop: the link resolves to itself")
            elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
                if _may_matter(rel):
                    target = _readlink(absolute)
                    self._note(rel, "broken-symlink", f"broken symlink to {target}")
            else:
                self._note(rel, "unreadable", f"cannot follow symlink: {exc.strerror}")
            return False, False
        is_dir = stat.S_ISDIR(st.st_mode)
        real = os.path.realpath(absolute)
        if not self._inside_root(real):
            if is_dir or _may_matter(rel):
                kind = "directory" if is_dir else "file"
                self._note(
                    rel,
                    "symlink-outside",
                    f"symlinked {kind} points outside the scanned tree ({_readlink(absolute)}); not followed",
                )
            return False, is_dir
        if is_dir:
            if parent_real == real or parent_real.startswith(real.rstrip(os.sep) + os.sep):
                self._note(
                    rel,
                    "symlink-loop",
                    f"symlink to an enclosing directory ({_readlink(absolute)}); not followed",
                )
            return False, True
        return True, False

    def reject_name(self, rel: str) -> bool:
        """Report a path whose name is not UTF-8; outputs could not spell it. Returns False."""
        if is_python_file(rel) or is_deploy_file(rel):
            shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            self._note(shown, "undecodable-path", "file name is not valid UTF-8; not scanned")
        return False

    # -- git mode -----------------------------------------------------------------------

    def take_git_paths(self, paths: Sequence[str]) -> None:
        """Filter paths listed by git through the skip, exclude and symlink rules."""
        # what each path is (a link, a folder, gone) read from its folder's listing, one
        # per folder instead of an lstat per path (homeassistant: 2,263 folders, 44,737
        # paths listed by git, most of them data never kept)
        kinds = _EntryKinds(self._abs, self._stamp)
        for rel in paths:
            if not _listable(rel):
                kind = kinds.of(rel)
                if kind is None or not (kind[0] or kind[1]):
                    continue  # neither source nor deployment, nor a submodule or a link to check
            parents = _ancestors(rel)
            if any(self._skip_dir(parent, kinds.names(parent)) for parent in parents):
                continue
            if any(self._excluded(parent, True) for parent in parents) or self._excluded(
                rel, False
            ):
                continue
            kind = kinds.of(rel)
            if kind is None:
                continue  # listed in the index but deleted from the work tree
            is_link, is_dir = kind
            if is_link or is_dir:
                # a link's target, and a nested repository's files, change where no stamp
                # of this listing sees them: it is not kept
                self.cacheable = False
            if is_link:
                parent_real = os.path.realpath(self._abs(posixpath.dirname(rel)))
                keep, _ = self._check_symlink(rel, parent_real)
                if keep:
                    self.files.append(rel)
            elif is_dir:
                # A submodule or nested repository: git lists it as one entry, so walk it.
                if not self._skip_dir(rel, kinds.names(rel)) and not self._excluded(rel, True):
                    self.walk(rel)
            else:
                self.files.append(rel)

    # -- walk mode ----------------------------------------------------------------------

    def walk(self, start: str) -> None:
        """Walk ``start`` (repo-relative) applying nested ``.gitignore`` files."""
        visited: set[str] = set()
        # An explicit stack keeps very deep trees from hitting the recursion limit. Only
        # real directories are pushed (links go through _take_link), so a child's real path
        # is its parent's plus its name: one realpath call for the whole walk. A directory
        # the ignore rules keep is pushed before it is known not to be skipped: whether it
        # is a virtualenv or build output is read from its own listing (looking for each
        # marker instead was most of a large tree's walk: homeassistant, 2,262 folders).
        start_real = os.path.realpath(self._abs(start))
        stack: list[tuple[str, tuple[_IgnoreFile, ...], str, bool]] = [
            (start, (), start_real, False)
        ]
        while stack:
            rel, ignores, real, unchecked = stack.pop()
            absolute = self._abs(rel)
            if real in visited:
                continue
            visited.add(real)
            self._stamp(rel)  # before listing: an entry added meanwhile leaves a newer mtime
            try:
                with os.scandir(absolute) as iterator:
                    entries = sorted(iterator, key=_BY_NAME)
            except OSError as exc:
                if unchecked and self._skip_dir(rel):
                    continue  # as when its markers were looked for before listing it
                self._note(
                    rel or ".", "unreadable", f"directory not readable: {exc.strerror or exc}"
                )
                continue
            if unchecked and self._skip_dir(rel, {e.name.lower() for e in entries}):
                continue
            ignore = self._read_gitignore(rel, entries)
            if ignore is not None:
                ignores = (*ignores, ignore)
            subdirs: list[str] = []
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError as exc:
                    self._note(child, "unreadable", f"cannot stat: {exc.strerror or exc}")
                    continue
                if is_link:
                    self._take_link(child, ignores, real)
                elif is_dir:
                    if _skipped_name(entry.name):
                        self._skip_cache[child] = True
                    elif _ignored(ignores, child, True) or self._excluded(child, True):
                        self._skip_dir(child)  # its stamps, as the rules' order has them
                    else:
                        subdirs.append(child)
                elif (
                    entry.is_file(follow_symlinks=False)
                    and _listable(child)
                    and self._wanted_file(child, ignores)
                ):
                    self.files.append(child)
            stack.extend(
                (d, ignores, os.path.join(real, d.rpartition("/")[2]), True)
                for d in reversed(subdirs)
            )

    def _take_link(self, rel: str, ignores: tuple[_IgnoreFile, ...], parent_real: str) -> None:
        self.cacheable = False  # its target can change without any stamp changing
        # Ignore rules first: an ignored or excluded link is not worth a diagnostic.
        if _ignored(ignores, rel, False) or self._excluded(rel, False):
            return
        looks_like_dir = os.path.isdir(self._abs(rel))
        if looks_like_dir and not self._wanted_dir(rel, ignores):
            return
        keep, is_dir = self._check_symlink(rel, parent_real)
        if keep and not is_dir:
            self.files.append(rel)

    def _wanted_dir(self, rel: str, ignores: tuple[_IgnoreFile, ...]) -> bool:
        return not (
            self._skip_dir(rel) or _ignored(ignores, rel, True) or self._excluded(rel, True)
        )

    def _wanted_file(self, rel: str, ignores: tuple[_IgnoreFile, ...]) -> bool:
        return not (_ignored(ignores, rel, False) or self._excluded(rel, False))

    def _read_gitignore(self, rel: str, entries: Sequence[os.DirEntry[str]]) -> _IgnoreFile | None:
        if not any(e.name == ".gitignore" for e in entries):
            return None
        path = f"{rel}/.gitignore" if rel else ".gitignore"
        self._stamp(path)
        try:
            text = read_regular(self._abs(path), MAX_GITIGNORE_BYTES).decode("utf-8", "replace")
        except OSError as exc:
            self._note(path, "unreadable", f"cannot read .gitignore: {exc.strerror or exc}")
            return None
        spec, bad = _compile(text.splitlines())
        for number, line in bad:
            self.diagnostics.append(
                Diagnostic(
                    path, number, Severity.NOTE, "gitignore-invalid", f"pattern {line!r} ignored"
                )
            )
        return _IgnoreFile(rel, spec)


def _ignored(ignores: tuple[_IgnoreFile, ...], rel: str, is_dir: bool) -> bool:
    result = False
    # Deeper .gitignore files come later in the tuple and override shallower ones.
    for ignore in ignores:
        verdict = ignore.verdict(rel, is_dir)
        if verdict is not None:
            result = verdict
    return result


def _listable(rel: str) -> bool:
    """Whether a file is one a listing returns (Python source or a deployment file); the
    rest of a tree is not worth matching against ignore rules."""
    if rel.endswith(".py"):
        return True
    # ``is_other_source`` inline: the name and its extension taken once (tens of thousands
    # of files in a large tree)
    name = rel[rel.rfind("/") + 1 :]
    if name in _OTHER_NAMES:
        return True
    dot = name.rfind(".")
    if dot > 0:
        extension = name[dot + 1 :]
        if extension in OTHER_SOURCE_EXTENSIONS and not name.endswith(".d.ts"):
            return True
        if extension not in _DEPLOY_EXTENSIONS and not name.startswith(_DEPLOY_STEMS):
            return False  # translations, images, data: most files of a large tree
    return is_deploy_file(rel)


#: Extensions (and name prefixes) that ``is_deploy_file`` may accept; anything else is not.
_DEPLOY_EXTENSIONS = frozenset(
    {"yml", "yaml", "txt", "env", "toml", "cfg", "dockerfile", "Dockerfile"}
)
_DEPLOY_STEMS = (".env", "Dockerfile", "Procfile")


class _EntryKinds:
    """What the paths under a root are, from their folders' listings (each read once): a
    path's ``(is_link, is_dir)``, as ``os.lstat`` would say, or None when it does not
    exist. A name its folder's listing does not hold (or a folder that cannot be listed)
    is asked of ``os.lstat`` itself: a file system may ignore case."""

    def __init__(
        self, absolute: Callable[[str], str], stamp: Callable[[str], None] | None = None
    ) -> None:
        self.absolute = absolute
        #: Told each folder before it is listed (a listing kept depends on it).
        self.stamp = stamp
        self._folders: dict[str, dict[str, tuple[bool, bool]] | None] = {}
        self._names: dict[str, frozenset[str] | None] = {}

    def _folder(self, rel: str) -> dict[str, tuple[bool, bool]] | None:
        if rel in self._folders:
            return self._folders[rel]
        found: dict[str, tuple[bool, bool]] = {}
        if self.stamp is not None:
            self.stamp(rel)
        try:
            with os.scandir(self.absolute(rel)) as iterator:
                for entry in iterator:
                    try:
                        found[entry.name] = (
                            entry.is_symlink(),
                            entry.is_dir(follow_symlinks=False),
                        )
                    except OSError:
                        continue  # asked of lstat, as before
        except OSError:
            self._folders[rel] = None
            return None
        self._folders[rel] = found
        return found

    def of(self, rel: str) -> tuple[bool, bool] | None:
        folder, _, name = rel.rpartition("/")
        entries = self._folder(folder)
        kind = entries.get(name) if entries is not None else None
        if kind is not None:
            return kind
        try:
            mode = os.lstat(self.absolute(rel)).st_mode
        except OSError:
            return None
        return stat.S_ISLNK(mode), stat.S_ISDIR(mode)

    def names(self, rel: str) -> frozenset[str] | None:
        """The names of the entries of folder ``rel`` in lower case; None if it cannot be
        listed."""
        if rel not in self._names:
            entries = self._folder(rel)
            self._names[rel] = (
                None if entries is None else frozenset(name.lower() for name in entries)
            )
        return self._names[rel]


def _is_utf8(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ancestors(rel: str) -> list[str]:
    parts = rel.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _is_virtualenv(directory: str, names: Container[str] | None = None) -> bool:
    """Whether ``directory`` is a virtual environment (``names``: its entries' names in
    lower case, when known)."""
    # pyvenv.cfg marks every venv/virtualenv>=20 environment; the activate scripts catch
    # older virtualenvs and conda-style layouts kept under arbitrary names such as ``env``.
    return (
        _holds(directory, "pyvenv.cfg", names)
        or _holds(directory, "bin", names, "activate")
        or _holds(directory, "Scripts", names, "activate")
    )


def _holds(directory: str, name: str, names: Container[str] | None, *below: str) -> bool:
    """Whether ``directory/name/*below`` exists (as ``os.path.exists`` says); not looked for
    when ``names``, the directory's entries in lower case, do not hold ``name``."""
    if names is not None and name.lower() not in names:
        return False
    return os.path.exists(os.path.join(directory, name, *below))


def _skipped_name(name: str) -> bool:
    """Whether a directory is skipped for its name alone (tools' state, caches, metadata)."""
    return name in _SKIP_DIR_NAMES or name.endswith(".egg-info")


#: Directory entries in the order of their names.
_BY_NAME = operator.attrgetter("name")


def _may_matter(rel: str) -> bool:
    """Whether a dangling link could have been a file decouple reads (or a directory)."""
    name = posixpath.basename(rel)
    return is_python_file(rel) or is_deploy_file(rel) or "." not in name


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


# -- categories -----------------------------------------------------------------------------

_TEST_DIRS = frozenset({"tests", "test", "testing"})
_LOADGEN_DIRS = frozenset(
    {"loadtest", "loadtests", "load_tests", "load-tests", "locust", "loadgen"}
)
_SCRIPT_DIRS = frozenset({"scripts", "script", "bin", "tools"})


def categorize(path: str, config: Config) -> Category:
    """The category of a repo-relative path, from its name alone.

    Configured globs (``tests``, ``loadgen``, ``scripts`` in ``[tool.decouple]``) come
    first, then the conventions: locust files and load-test directories are load
    generators, test directories and ``test_*.py``/``*_test.py``/``conftest.py`` are tests,
    ``scripts/``, ``bin/`` and ``tools/`` hold scripts. Everything else is production.
    Refinement by content (a file importing locust) happens in detection.
    """
    for globs, category in (
        (config.test_globs, Category.TEST),
        (config.loadgen_globs, Category.LOADGEN),
        (config.script_globs, Category.SCRIPT),
    ):
        if globs and _glob_spec(globs).match_file(path):
            return category
    parts = path.split("/")
    name = parts[-1]
    directories = parts[:-1]
    if name.startswith("locustfile") or any(d in _LOADGEN_DIRS for d in directories):
        return Category.LOADGEN
    if (
        any(d in _TEST_DIRS for d in directories)
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or name in ("conftest.py", "tests.py")
    ):
        return Category.TEST
    if any(d in _SCRIPT_DIRS for d in directories):
        return Category.SCRIPT
    return Category.PRODUCTION


@functools.lru_cache(maxsize=64)
def _glob_spec(globs: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    return _spec(globs)


#: The names :func:`module_name` gave for the last frozen set of files it was given (equal
#: sets alike), and its folders' packages (:func:`_packages_of`): a scan asks for every
#: file's name in several places (reading the facts, on-demand parsing, the import graph, a
#: rerun's checks), a twentieth of a rerun of homeassistant's 7,978 files when each climbed
#: its folders again.
_NAMES: list[Any] = [frozenset(), {}, {}]


def module_name(path: str, python_files: frozenset[str] | set[str]) -> tuple[str, bool]:
    """Dotted module name as the file's siblings would import it, and whether it is a package.

    Climbs while the parent directory is a package (has ``__init__.py``); a service that runs
    its files as scripts (no packages) gets top-level module names, as its imports expect.
    """
    if type(python_files) is not frozenset:
        return _module_name(path, python_files, {})
    known, names, folders = _NAMES
    if known is not python_files:
        if known != python_files:
            names, folders = {}, {}
        _NAMES[:] = [python_files, names, folders]
    found: tuple[str, bool] | None = names.get(path)
    if found is None:
        found = names[path] = _module_name(path, python_files, folders)
    return found


def _module_name(
    path: str, python_files: frozenset[str] | set[str], folders: dict[str, tuple[str, ...]]
) -> tuple[str, bool]:
    folder, _, name = path.rpartition("/")
    stem = name[:-3] if name.endswith(".py") else name
    is_package = stem == "__init__"
    packages = _packages_of(folder, python_files, folders)
    if is_package:
        # a package's own name, even where its ``__init__.py`` is not among the files
        own = (folder.rpartition("/")[2].replace("-", "_"),)
        names = (packages or own) if folder else ()
    else:
        names = (*packages, stem.replace("-", "_"))
    return ".".join(names) or "__main__", is_package


def _packages_of(
    folder: str, python_files: frozenset[str] | set[str], folders: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The names (``-`` made ``_``) of the packages ``folder`` lies in, outermost first,
    itself last: the folders from ``folder`` up that hold an ``__init__.py``, each found
    once per set of files (``folders``)."""
    found = folders.get(folder)
    if found is None:
        if folder and folder + "/__init__.py" in python_files:
            parent, _, name = folder.rpartition("/")
            found = (*_packages_of(parent, python_files, folders), name.replace("-", "_"))
        else:
            found = ()
        folders[folder] = found
    return found
