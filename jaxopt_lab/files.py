"""Files the lab writes: atomically, as valid JSON, locked, streamed.

* :func:`write_atomic` writes bytes beside the destination under a temporary
  name, fsyncs, renames over it and fsyncs the folder: a crash or a full disk
  leaves the previous file whole (the checkpoint module does the same for
  checkpoints). :func:`write_json` and :func:`save_figure` go through it.
* :func:`json_safe` turns NaN and infinities into ``null``: ``json.dumps``
  would write ``NaN``/``Infinity``, which is not JSON.
* :class:`FolderLock` keeps a second process out of a folder in use
  (``flock``, released by the kernel when the holder dies, even by SIGKILL).
* :class:`ParquetStream` writes a table one row group at a time, so a sweep of
  10⁸ points never holds more than a chunk in memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import numpy as np


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers and crashes see the old file or the new one."""
    path = Path(path)
    temporary = _temporary_name(path)
    try:
        with open(temporary, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


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
    text = json.dumps(json_safe(value), indent=indent, allow_nan=False)
    write_atomic(path, (text + "\n").encode("utf-8"))


def save_figure(figure: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Save a matplotlib figure as PNG, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", **{"dpi": 120, **options})
    write_atomic(path, buffer.getvalue())
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
    with ``O_NOFOLLOW`` and rewritten only if the lab wrote it (:func:`_open_lock`;
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
