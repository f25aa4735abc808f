"""Files the lab writes: atomically, as valid JSON, locked, streamed.

* :func:`atomic_file` (and :func:`write_atomic`, for bytes at hand) writes beside
  the destination under a temporary name, fsyncs, renames over it and fsyncs
  the folder: a crash or a full disk leaves the previous file whole. The one
  atomic writer of the lab: checkpoints, JSON, figures and reports go through it.
* :class:`Result` writes the files of one result as a unit: all staged first
  (a full disk changes nothing), then ``result.json`` (each file's SHA-256) and
  the renames; :func:`read_result_file` refuses a file that does not match, so
  no reader pairs files of two runs. Write errors are :class:`WriteError`: one
  line naming the file and what is unchanged.
* :func:`json_safe` turns NaN and infinities into ``null``: ``json.dumps``
  would write ``NaN``/``Infinity``, which is not JSON.
* :class:`FolderLock` keeps a second process out of a folder in use
  (``flock``, released by the kernel when the holder dies, even by SIGKILL).
* :class:`ParquetStream` writes a table one row group at a time, so a sweep of
  10⁸ points never holds more than a chunk in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


class WriteError(OSError):
    """A file could not be written (a full disk, a file-size limit...); the message names
    the file and says what was left unchanged. ``errno`` is the cause's."""


def _write_error(error: OSError, path: Path, unchanged: str) -> WriteError:
    reason = error.strerror or str(error) or type(error).__name__
    return WriteError(error.errno, f"cannot write {path} ({reason}); {unchanged}")


def _write_temporary(temporary: Path, data: bytes) -> None:
    with open(temporary, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` whole when the block ends, or never appears.

    The file is written beside ``path`` under a temporary name, fsynced,
    renamed over ``path`` and the folder fsynced: readers and crashes see the
    old file or the new one, never a partial one. An exception in the block
    (or a full disk) removes the temporary file and leaves ``path`` as it was.
    The file gets the umask's mode (not ``tempfile.mkstemp``'s 0600).

    Raises :class:`WriteError` (an ``OSError``, one line naming the file) if it
    cannot be written: the previous file is then whole and unchanged.
    """
    path = Path(path)
    temporary = _temporary_name(path)
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            unchanged = f"the previous {path.name} is unchanged" if path.exists() else (
                "nothing was written")  # fmt: skip
            raise _write_error(error, path, unchanged) from error
        raise
    _fsync_directory(path.parent)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers and crashes see the old file or the new one."""
    with atomic_file(path) as file:
        file.write(data)


RESULT_MANIFEST = "result.json"
"""Each file a :class:`Result` wrote in the folder: its run id, size and SHA-256."""


MAX_MANIFEST_BYTES = 16 * 2**20
"""A ``result.json`` above this is not read (one entry takes about 150 bytes)."""


class MixedResultError(ValueError):
    """A folder's files do not all belong to the result its ``result.json`` records."""


def _sha256_of_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class Result:
    """The files of one result, written as a unit: all or nothing, and never mixed::

        with Result(folder) as result:
            result.add("losses.json", text)              # staged: written, fsynced
            parquet = result.stage("sweep_adam.parquet")  # a path for a streamed writer
            ...
        # on leaving the block without an error: committed

    Every file is first written beside its destination under a temporary name
    (:meth:`add`, or a writer given :meth:`stage`'s path); a full disk or a
    file-size limit while staging raises :class:`WriteError` naming the file and
    saying that nothing in the folder changed. :meth:`commit` then writes
    ``result.json`` (atomically: each new file's run id, size and SHA-256; the
    entries of files other results wrote in the folder are kept)
    and renames every staged file into place (renames take no space). A reader
    (:func:`read_result_file`) checks each file it reads against ``result.json``,
    so it never pairs files of two runs, even after a crash between the renames:
    an old file left there no longer matches.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.run_id = secrets.token_hex(8)
        self._staged: dict[str, Path] = {}

    def stage(self, name: str) -> Path:
        """A temporary path in the folder for ``name``, renamed to ``name`` on commit."""
        if name in self._staged or name == RESULT_MANIFEST or Path(name).name != name:
            raise ValueError(f"{name!r} is not a new file name of this result")
        self._staged[name] = _temporary_name(self.folder / name)
        return self._staged[name]

    def add(self, name: str, data: bytes) -> None:
        """Stage ``data`` as the file ``name``: written and fsynced, not yet in place."""
        temporary = self.stage(name)
        try:
            _write_temporary(temporary, data)
        except OSError as error:
            raise self._failed(error, name) from error

    def _failed(self, error: OSError, name: str) -> WriteError:
        self.abort()
        return _write_error(error, self.folder / name,
                            f"nothing in {self.folder} was changed")  # fmt: skip

    def commit(self) -> None:
        missing = [name for name, path in self._staged.items() if not path.is_file()]
        if missing:
            self.abort()
            raise ValueError(f"staged files never written: {', '.join(missing)}")
        manifest = self.folder / RESULT_MANIFEST
        entries = _manifest_entries(manifest)  # other results' files in this folder stay
        for name, temporary in self._staged.items():
            size, digest = _sha256_of_file(temporary)
            entries[name] = {"run_id": self.run_id, "bytes": size, "sha256": digest}
        record = {"format": 1, "files": entries}
        try:
            write_atomic(manifest, (json.dumps(record, indent=1) + "\n").encode("utf-8"))
        except WriteError:
            self.abort()
            raise
        try:
            for name, temporary in self._staged.items():
                os.replace(temporary, self.folder / name)
        except OSError as error:
            self.abort()
            unchanged = f"{manifest} names the new files: a reader refuses an old one"
            raise _write_error(error, self.folder, unchanged) from error
        self._staged.clear()
        _fsync_directory(self.folder)

    def abort(self) -> None:
        """Remove every staged file; the folder is as it was."""
        for temporary in self._staged.values():
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        self._staged.clear()

    def __enter__(self) -> Result:
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if kind is None:
            self.commit()
            return
        names = list(self._staged)
        self.abort()
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            # A streamed writer failed on a staged path (pyarrow raises OSError).
            name = names[-1] if names else "a file"
            raise _write_error(error, self.folder / name,
                               f"nothing in {self.folder} was changed") from error  # fmt: skip


def _manifest_entries(manifest: Path) -> dict[str, dict]:
    """The well-formed entries of a folder's ``result.json`` (none if it has none)."""
    try:
        files = json.loads(read_regular_file(manifest, MAX_MANIFEST_BYTES))["files"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {name: entry for name, entry in files.items()
            if isinstance(entry, dict) and set(entry) == {"run_id", "bytes", "sha256"}}  # fmt: skip


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is (or links to) a regular file of at most ``max_bytes``.

    Checked on the open descriptor (``O_NONBLOCK``: a FIFO cannot hang the open), so a
    directory, a FIFO or a symlink to ``/dev/zero`` is refused, never read. Raises
    ``OSError`` (``FileNotFoundError``...) or ``ValueError``, one line naming the file.
    """
    path = Path(path)
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path} holds {info.st_size:,} bytes, more than {max_bytes:,}")
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)
    finally:
        os.close(descriptor)
    if len(data) > max_bytes:  # it grew while read
        raise ValueError(f"{path} holds more than {max_bytes:,} bytes")
    return data


def read_result_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of ``path`` (:func:`read_regular_file`), checked against its folder's
    ``result.json`` where that lists it.

    Raises :class:`MixedResultError` if the manifest records other bytes for the
    file: the folder mixes the files of two runs. A file the manifest does not
    list (written by hand, or before results were units) is read as it is.
    """
    path = Path(path)
    data = read_regular_file(path, max_bytes)
    manifest = path.parent / RESULT_MANIFEST
    entry = _manifest_entries(manifest).get(path.name) if manifest.is_file() else None
    if entry is None:
        return data
    if (len(data), hashlib.sha256(data).hexdigest()) != (entry["bytes"], entry["sha256"]):
        raise MixedResultError(
            f"{path} is not the file of run {str(entry['run_id']):.40} that {manifest} "
            "records; the folder mixes files of two runs (rerun into an empty folder)"
        )
    return data
    entry = _manifest_entries(manifest).get(path.name)
    if entry is None or (len(data), hashlib.sha256(data).hexdigest()) != (
        entry["bytes"],
        entry["sha256"],
    ):
        run = "" if entry is None else f" of run {str(entry['run_id']):.40}"
        raise MixedResultError(
            f"{path} is not the file{run} that {manifest} records; the folder mixes files "
            "of two runs (rerun into an empty folder)"
        )
    return data


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays as Python numbers and lists, non-finite
    floats as ``None``."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, value: Any, *, indent: int | None = 1) -> None:
    """``value`` as strict JSON (``allow_nan=False`` after :func:`json_safe`), atomically."""
    write_atomic(path, json_bytes(value, indent=indent))


def json_bytes(value: Any, *, indent: int | None = 1) -> bytes:
    """``value`` as strict JSON text (:func:`json_safe`, ``allow_nan=False``), encoded."""
    text = json.dumps(json_safe(value), indent=indent, allow_nan=False)
    return (text + "\n").encode("utf-8")


def figure_bytes(figure: Any, **options: Any) -> bytes:
    """A matplotlib figure as PNG bytes (120 dpi unless ``options`` say otherwise)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", **{"dpi": 120, **options})
    return buffer.getvalue()


def save_figure(figure: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Save a matplotlib figure as PNG, atomically."""
    write_atomic(path, figure_bytes(figure, **options))
    return Path(path)


def check_writable_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and prove it writable; raise ``OSError`` saying why not."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file, not a folder")
    path.mkdir(parents=True, exist_ok=True)
    probe = _temporary_name(path / "write-test")
    try:
        with open(probe, "xb") as file:
            file.write(b"x")
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise OSError(error.errno, f"{path} is not writable ({error.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return path


class FolderBusyError(RuntimeError):
    """Another process holds the folder's lock."""


class LockFileError(FolderBusyError):
    """The folder's ``.lock`` is not a lock file the lab wrote (a symlink, a hard link,
    a FIFO, a file holding something else): the lab neither follows nor truncates it."""


_LOCK_CONTENT = 32
"""A lab lock file holds a process id: at most this many bytes, all digits."""


def _open_lock(path: Path) -> int:
    """A descriptor on ``path`` as a lock file: created here, or one the lab wrote before.

    ``O_NOFOLLOW``: a symlink at ``path`` is refused, never followed; ``O_NONBLOCK``:
    a FIFO there cannot hang the open. An existing file must be a regular file with
    one link (not a hard link to some other file) holding a process id or nothing.
    """
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pass
    try:
        descriptor = os.open(path, flags)
    except OSError as error:  # ELOOP: a symlink; ENXIO: a FIFO with no writer...
        what = "a symlink" if path.is_symlink() else error.strerror
        raise LockFileError(
            f"{path} is not a lock file the lab wrote ({what}); the lab never follows or "
            "overwrites it: remove it, or choose another folder"
        ) from None
    info = os.fstat(descriptor)
    content = os.pread(descriptor, _LOCK_CONTENT + 1, 0) if stat.S_ISREG(info.st_mode) else b""
    ours = len(content) <= _LOCK_CONTENT and (content.isdigit() or not content)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or not ours:
        os.close(descriptor)
        what = ("not a regular file" if not stat.S_ISREG(info.st_mode)
                else "a hard link to another file" if info.st_nlink != 1
                else "it holds something other than a process id")  # fmt: skip
        raise LockFileError(
            f"{path} is not a lock file the lab wrote ({what}); the lab never follows or "
            "overwrites it: remove it, or choose another folder"
        )
    return descriptor


class FolderLock:
    """An exclusive lock on a folder (``.lock`` inside it), held for a ``with`` block.

    Uses ``fcntl.flock``: the kernel releases it when the holder exits or is
    killed, so a crashed run never leaves a stale lock. The lock file is opened
    with ``O_NOFOLLOW`` and rewritten only if the lab wrote it (``_open_lock``;
    else :class:`LockFileError`). On systems without ``fcntl`` (Windows) it does
    nothing.
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / ".lock"
        self._descriptor: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        descriptor = _open_lock(self.path)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, _LOCK_CONTENT, 0).decode("ascii", "replace").strip()
            os.close(descriptor)
            raise FolderBusyError(
                f"{self.path.parent} is in use by another run (process {holder or 'unknown'}); "
                "wait for it to finish or choose another folder"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode("ascii"), 0)
        self._descriptor = descriptor
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def hold_folder(folder: str | os.PathLike, error: type[Exception]) -> FolderLock:
    """``folder`` made if need be, proven writable and held under its :class:`FolderLock`:
    what every writer of a run folder does first. Raises ``error`` with one line if it
    cannot (the caller releases the lock with ``__exit__``)."""
    folder = Path(folder)
    try:
        check_writable_folder(folder)
    except OSError as cause:
        raise error(f"cannot use {folder} as the run folder: {cause}") from None
    try:
        return FolderLock(folder).__enter__()
    except FolderBusyError as cause:
        raise error(str(cause)) from None


class ParquetStream:
    """A Parquet file written one row group per :meth:`write`, renamed into place on
    :meth:`close`; :meth:`abort` removes the partial file."""

    def __init__(self, path: Path):
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "writing per-point results needs pyarrow (pip install pyarrow)"
            ) from error
        self.path = Path(path)
        self.temporary = _temporary_name(self.path)
        self._writer = None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({name: np.asarray(values) for name, values in columns.items()})
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.temporary, table.schema, compression="zstd")
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        with open(self.temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(self.temporary, self.path)
        _fsync_directory(self.path.parent)

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temporary)
