"""A rerun whose inputs did not change answers with the last run's output.

A ``decouple scan --format json`` rerun over an unchanged tree returns the stored result
(``Manifest.cached_result``), but only after importing the model, the configuration and the
renderers, decoding the result and rendering it again: most of a warm run's time, for an
answer known in advance. So a run that could be answered this way is recorded: the exact
text it wrote to stdout and stderr, its exit status, and the state of every input the answer
depends on. The next run with the same command line checks those states with ``os.stat``
alone and, when none changed, writes the recorded text; nothing else is imported.

What the answer depends on, and how each is stamped:

- the listing: the directories walked and the ``.gitignore`` files read, as the listing
  cache stamps them (and a ``.git`` appearing around the root makes the record unusable);
  in a git work tree, the folders the listing read and git's answers: each git command the
  listing ran is run again and must answer as it did (which files git tracks, which
  untracked ones its ignore rules leave: the index, every ignore file and git's
  configuration are git's to read);
- every Python and deployment file listed, and the files discovery read outside the
  listing: size and mtime, as the manifest vouches for their content;
- the configuration files (``decouple.toml``, ``pyproject.toml`` at the root, or
  ``--config``), stamped before they are read;
- the command line, decouple's own code and the Python version (the record's key).

The texts written (stdout, the ``--output`` file) are kept in a file beside the record,
named in it by their digest and lengths, and written only when they change.

Only plain runs are recorded: JSON to stdout or to an ``--output`` file that is not a link
(rewritten from the record, through a temporary file as a scan writes it), no baseline
(another file's content), no ``-v`` (timings), and no terminal on stdout or stderr (a
progress bar). Standard library only at import: the check runs before anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from contextlib import contextmanager, suppress

from decouple_services.core.stamps import code_version, is_racy, may_be_in_work_tree, stamp_of

#: ``typing.TYPE_CHECKING`` without importing ``typing``: answering a rerun imports only
#: what it needs, neither ``typing`` nor ``pathlib`` (see docs/performance.md, "Start-up")
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any, TextIO

    from decouple_services.core.git import GitAnswers

#: Bumped when the record's layout or meaning changes.
REPLAY_FORMAT = 2
#: The cache folder under the scanned root when ``--cache-dir`` is not given.
CACHE_DIR_NAME = ".decouple-cache"
#: A record larger than this is not read (the stdout of a scan of a huge tree).
MAX_RECORD_BYTES = 64 * 2**20
#: Exit statuses whose run may be replayed: success and a failed gate.
REPLAYABLE_STATUSES = (0, 1)

Stamps = dict[str, "list[int] | None"]


def record_path(root: str, cache_dir: str | None) -> str:
    """Where the record of scans of ``root`` lives (one per root: the last one kept)."""
    folder = cache_dir if cache_dir is not None else os.path.join(root, CACHE_DIR_NAME)
    name = hashlib.sha256(root.encode()).hexdigest()[:16]
    return os.path.join(os.path.abspath(folder), f"replay-{name}.json")


def texts_path(record: str) -> str:
    """Where the texts of the record at ``record`` are: stdout then the ``--output`` file's
    text, as UTF-8, beside it. Apart from the record, whose JSON they would fill with
    escapes (polar: a 2 MB output, 8 ms to decode and 10 ms to encode on each rerun), and
    written only when they change."""
    return record[: -len(".json")] + ".out" if record.endswith(".json") else record + ".out"


def _texts(path: str, data: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The stdout and output text of the record ``data`` read from ``path``, when the file
    holds the texts the record names (their digest and lengths)."""
    texts = data["texts"]
    digest, stdout_len, output_len = texts["digest"], texts["stdout"], texts["output"]
    if not (
        isinstance(digest, str)
        and type(stdout_len) is int
        and (output_len is None or type(output_len) is int)
    ):
        return None
    with open(path, "rb") as handle:
        raw = handle.read(MAX_RECORD_BYTES + 1)
    if hashlib.sha256(raw).hexdigest() != digest:
        return None
    text = raw.decode("utf-8")
    if len(text) != stdout_len + (output_len or 0):
        return None
    return text[:stdout_len], None if output_len is None else text[stdout_len:]


def config_paths(root: str, explicit: str | None) -> list[str]:
    """The files the configuration is read from (present or not: creating one changes it)."""
    if explicit is not None:
        return [os.path.abspath(explicit)]
    return [os.path.join(root, "decouple.toml"), os.path.join(root, "pyproject.toml")]


def command_key(
    root: str,
    *,
    format: str | None,
    output: str | None,
    config: str | None,
    exclude: Sequence[str],
    callee: str | None,
    endpoint: str | None,
    fail_on_score: float | None,
    exit_zero: bool | None,
    select: Sequence[str],
    ignore: Sequence[str],
    full_parse: bool,
    quiet: bool,
) -> list[Any]:
    """What a record is kept by: everything on the command line that can change the output
    (``--jobs`` cannot), decouple's code and the Python version (which syntax parses)."""
    return [
        REPLAY_FORMAT,
        code_version(),
        list(sys.version_info[:2]),
        root,
        format,
        None if output is None else os.path.abspath(output),
        None if config is None else os.path.abspath(config),
        list(exclude),
        callee,
        endpoint,
        fail_on_score,
        exit_zero,
        list(select),
        list(ignore),
        full_parse,
        quiet,
    ]


def answer(path: str, key: list[Any]) -> tuple[str, str, int] | None:
    """The stdout, stderr and exit status recorded at ``path`` for ``key``, when no input
    it depends on changed since, the ``--output`` file of the key rewritten; None otherwise
    (the scan then runs, and nothing was written)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None  # a FIFO or a device put there would block or never end
        with open(path, "rb") as handle:
            data = json.loads(handle.read(MAX_RECORD_BYTES + 1))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        root = key[3]
        git = data.get("git")
        if git is None and may_be_in_work_tree(root):
            return None
        for where, stamp in data["config"].items():
            if stamp_of(where) != stamp:
                return None
        for rel, stamp in data["listing"].items():
            if stamp_of(os.path.join(root, rel) if rel else root) != stamp:
                return None
        if not _files_unchanged(root, data["files"]):
            return None
        if git is not None and not _git_answers_again(root, git):
            return None
        stderr, status, output = data["stderr"], data["status"], key[5]
        texts = _texts(texts_path(path), data)
        if texts is None:
            return None
        stdout, written = texts
        if not (
            isinstance(stderr, str)
            and status in REPLAYABLE_STATUSES
            and (output is None) == (written is None)
        ):
            return None
    except Exception:  # a record may hold anything: the scan runs instead
        return None
    if output is not None and written is not None:  # both or neither: checked above
        from decouple_services.core.fs import write_output

        try:
            if os.path.islink(output) or write_output(output, written) is not None:
                return None  # a link's target is the scan's to name
        except OSError:
            return None  # the scan reports it
    return stdout, stderr, status


def _git_answers_again(root: str, answers: Sequence[Any]) -> bool:
    """Whether each git command the listing ran (``[arguments, exit status, digest of its
    output]``, in its order) answers as it did. Run in the same order: given the same
    answers so far, the listing would ask the same next."""
    from decouple_services.core.git import LISTING_COMMANDS, git_answer, git_env, run_git

    if not answers:
        return False
    env = git_env()
    for kept in answers:
        args = kept[0] if isinstance(kept, list) and len(kept) == 3 else None
        if not isinstance(args, list) or tuple(args) not in LISTING_COMMANDS:
            return False  # the listing's commands only: a record may hold anything
        if git_answer(args, run_git(root, *args, env=env)) != kept:
            return False
    return True


def _files_unchanged(root: str, files: Mapping[str, Any]) -> bool:
    """Whether each of ``files`` (path under ``root`` -> its ``[size, mtime_ns, ...]``, or
    None: missing) is as it was. Each is stat'ed relative to the root opened once where
    the platform can, not through its path from ``/`` (homeassistant: 8,390 files,
    45 -> 22 ms a check)."""
    folder = None
    if os.stat in os.supports_dir_fd:
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
        with suppress(OSError):  # else each is stat'ed by its path, and found missing
            folder = os.open(root, flags)
    try:
        for rel, known in files.items():
            if known is None:
                if os.path.lexists(os.path.join(root, rel)):
                    return False
                continue
            try:
                if folder is None:
                    st = os.stat(os.path.join(root, rel))
                else:
                    st = os.stat(rel, dir_fd=folder)
            except OSError:
                return False
            if st.st_size != known[0] or st.st_mtime_ns != known[1]:
                return False
        return True
    finally:
        if folder is not None:
            os.close(folder)


class _Tee:
    """A text stream written through, and remembered."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Recorder:
    """Records one run for :func:`answer`, once the scan vouched for its inputs."""

    def __init__(self, path: str, key: list[Any], config: Sequence[str]) -> None:
        self.path = path
        self.key = key
        self.root: str = key[3]
        self.started_ns = time.time_ns()
        # stamped before the configuration is read: an edit meanwhile shows at save
        self.config: Stamps = {p: stamp_of(p) for p in config}
        self.listing: Stamps | None = None
        #: git's answers, for a listing git made (see :func:`_git_answers_again`)
        self.git: GitAnswers | None = None
        #: path -> [size, mtime_ns, digest] of what the scan read, or None (missing)
        self.files: dict[str, list[Any] | None] | None = None
        #: The key the scan's result is kept under in the cache's manifest.
        self.result: str | None = None
        #: The last run's record, when it is for this command and its result is ``known``.
        self._known: dict[str, Any] | None = None
        #: The digest of the texts file as :meth:`known` found it.
        self._texts_digest: str | None = None
        #: What the run wrote to its ``--output`` file.
        #: The ``--output`` file's text, or the pieces it was written from.
        self.output: str | list[str] | None = None
        self._out: _Tee | None = None
        self._err: _Tee | None = None

    def vouch(
        self,
        listing: Stamps,
        files: Mapping[str, list[Any] | None],
        result: str,
        git: GitAnswers | None = None,
    ) -> None:
        """Told by the scan: the result it returns is the one for these inputs, kept under
        the key ``result``."""
        self.listing, self.files, self.result = dict(listing), dict(files), result
        self.git = git

    def known(self, result: str) -> bool:
        """Whether the last run recorded here ran this command on the result kept under
        ``result`` (asked by a scan returning that result as it is, after edits that change
        nothing it read): its output is then this run's, and :meth:`repeat` writes it. The
        output depends only on the command line and the result (the configuration is part
        of the result's key, and a run whose output depends on anything else is not
        recorded)."""
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return False
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read(MAX_RECORD_BYTES + 1))
            if not (
                isinstance(data, dict)
                and data.get("key") == self.key
                and data.get("result") == result
                and isinstance(data["stderr"], str)
                and data["status"] in REPLAYABLE_STATUSES
            ):
                return False
            texts = _texts(texts_path(self.path), data)
            if texts is None or (self.key[5] is None) != (texts[1] is None):
                return False
        except Exception:  # a record may hold anything: the result is decoded instead
            return False
        self._known = {**data, "stdout": texts[0], "output": texts[1]}
        self._texts_digest = data["texts"]["digest"]
        return True

    def repeat(self) -> int:
        """Write what the run :meth:`known` accepted wrote (stdout, stderr, the ``--output``
        file), and return its exit status; recorded as this run's."""
        data = self._known
        assert data is not None
        output = data["output"]
        if output is not None:
            from decouple_services.core.fs import write_output

            write_output(self.key[5], output)
            self.wrote(output)
        sys.stdout.write(data["stdout"])
        sys.stdout.flush()
        sys.stderr.write(data["stderr"])
        status: int = data["status"]
        return status

    def wrote(self, text: str | list[str]) -> None:
        """Told by the scan: ``text`` is what it wrote to the ``--output`` file."""
        self.output = text

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Write through ``sys.stdout`` and ``sys.stderr``, remembering what was written."""
        out, err = sys.stdout, sys.stderr
        self._out, self._err = _Tee(out), _Tee(err)
        sys.stdout, sys.stderr = self._out, self._err
        try:
            yield
        finally:
            sys.stdout, sys.stderr = out, err

    def save(self, status: int) -> bool:
        """Write the record if the run can be replayed and its inputs still vouch for it
        (:meth:`_still_valid`)."""
        if (
            self.listing is None
            or self.files is None
            or self._out is None
            or self._err is None
            or status not in REPLAYABLE_STATUSES
            or (self.key[5] is None) != (self.output is None)
            or not self._still_valid()
        ):
            return False
        from pathlib import Path

        from decouple_services.app.cache import write_cache_chunks, write_cache_json
        from decouple_services.core.fs import text_chunks, text_pieces

        stdout = "".join(self._out.parts)
        output = [] if self.output is None else text_pieces(self.output)

        def raw() -> Iterator[bytes]:
            # the texts' bytes a piece at a time, never joined: a large tree's output is
            # tens of MB, and its copy and encoding were held with it at the run's end
            yield from text_chunks(stdout)
            for piece in output:
                yield from text_chunks(piece)

        hashed = hashlib.sha256()
        for chunk in raw():
            hashed.update(chunk)
        digest = hashed.hexdigest()
        data = {
            "key": self.key,
            "config": self.config,
            "listing": self.listing,
            "files": {p: None if e is None else e[:2] for p, e in self.files.items()},
            "texts": {
                "digest": digest,
                "stdout": len(stdout),
                "output": None if self.output is None else sum(map(len, output)),
            },
            "stderr": "".join(self._err.parts),
            "status": status,
            "result": self.result,
        }
        if self.git is not None:
            data["git"] = self.git
        if not os.path.isdir(os.path.dirname(self.path)):
            return False  # the scan made it, or found it unusable
        # the texts first: a record is never read with older texts (a run between the two
        # writes finds a digest that does not match, and scans)
        if digest != self._texts_digest and not write_cache_chunks(
            Path(texts_path(self.path)), raw()
        ):
            return False
        write_cache_json(Path(self.path), data)
        return True

    def _still_valid(self) -> bool:
        """The configuration and the listing as the scan saw them, and no file modified so
        recently that a later edit could keep its stamp (see ``core/stamps.py``).

        The files are not all stat'ed again: each stamp was taken before its file was read,
        so a file edited after that has another stamp, which the next run's check finds
        (a record of that run is never answered). Only an edit in the same tick as the
        stamp would keep it, and the racy files' contents are compared instead."""
        assert self.listing is not None and self.files is not None
        now = time.time_ns()
        for where, stamp in self.config.items():
            if stamp_of(where) != stamp or (stamp is not None and is_racy(stamp[0], now)):
                return False
        for rel, stamp in self.listing.items():
            if stamp_of(os.path.join(self.root, rel) if rel else self.root) != stamp:
                return False
        for rel, entry in self.files.items():
            if entry is None or not is_racy(entry[1], self.started_ns):
                continue
            # modified shortly before or during this run: the content must still be the
            # one scanned, now that the tick of its mtime is over
            if is_racy(entry[1], now) or not _same_content(os.path.join(self.root, rel), entry):
                return False
        return True


def _same_content(path: str, entry: list[Any]) -> bool:
    from decouple_services.app.cache import content_digest
    from decouple_services.core.fs import read_regular

    try:
        return bool(content_digest(read_regular(path)) == entry[2])
    except OSError:
        return False
