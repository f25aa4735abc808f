"""What every run that owns a folder does on entering and leaving it.

    class TrainingRun(HeldFolder):
        folder_error = RunError

        def check_folder(self) -> None:
            ...  # read what the folder holds; refuse what does not belong

The training run, the tuning study's run and the leaderboard share this shape:
``__enter__`` makes the folder if need be, proves it writable and takes its lock
(:func:`jaxopt_lab.files.hold_folder`, which raises ``folder_error`` in one line),
then calls :meth:`HeldFolder.check_folder`; if that check raises, the lock is let
go before the error leaves. ``__exit__`` lets the lock go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from jaxopt_lab import files


class HeldFolder:
    """Base of a run that owns ``self.folder`` while it is entered (a context manager)."""

    folder: Path
    folder_error: type[Exception] = ValueError
    _lock: files.FolderLock | None = None

    def check_folder(self) -> None:
        """Read what the folder already holds, under the lock (a subclass's own checks)."""

    def __enter__(self) -> Self:
        self._lock = files.hold_folder(self.folder, self.folder_error)
        try:
            self.check_folder()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._lock is not None:
            self._lock.__exit__(*exc_info)
            self._lock = None
