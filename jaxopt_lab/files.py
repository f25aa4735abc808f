"""Files the lab writes: atomically, as valid JSON, locked, streamed.

* :func:`atomic_file` (and :func:`write_atomic`, for bytes at hand) writes beside
  the destination under a temporary name, fsyncs, renames over it and fsyncs
  the folder: a crash or a full disk leaves the previous file whole. The one
  atomic writer of the lab: checkpoints, JSON, figures and reports go through it.
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


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` whole when the block ends, or never appears.

    The file is written beside ``path`` under a temporary name, fsynced,
    renamed over ``path`` and the folder fsynced: readers and crashes see the
    old file or the new one, never a partial one. An exception in the block
    (or a full disk) removes the temporary file and leaves ``path`` as it was.
    The file gets the umask's mode (not ``tempfile.mkstemp``'s 0600).
    """
    path = Path(path)
    temporary = _temporary_name(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers and crashes see the old file or the new one."""
    with atomic_file(path) as file:
        file.write(data)


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


class FolderLock:
    """An exclusive lock on a folder (``.lock`` inside it), held for a ``with`` block.

    Uses ``fcntl.flock``: the kernel releases it when the holder exits or is
    killed, so a crashed run never leaves a stale lock. On systems without
    ``fcntl`` (Windows) it does nothing.
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / ".lock"
        self._file = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        file = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise FolderBusyError(
                f"{self.path.parent} is in use by another run (process {holder}); wait for "
                "it to finish or choose another folder"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        self._file = file
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


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
