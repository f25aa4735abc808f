"""HeldFolder: the enter-lock-check shape every run folder shares."""

from __future__ import annotations

import pytest

from jaxopt_lab.runs.held_folder import HeldFolder


class FolderError(ValueError):
    pass


class Run(HeldFolder):
    folder_error = FolderError

    def __init__(self, folder, refuse=False):
        self.folder = folder
        self.refuse = refuse
        self.checked = False

    def check_folder(self) -> None:
        self.checked = True
        if self.refuse:
            raise FolderError(f"{self.folder} holds another run")


def test_entering_makes_the_folder_locks_it_and_checks_it(tmp_path):
    folder = tmp_path / "new" / "run"
    with Run(folder) as run:
        assert folder.is_dir() and run.checked
        with pytest.raises(FolderError, match="run"):  # a second holder is refused
            Run(folder).__enter__()
    with Run(folder):  # let go on leaving
        pass


def test_a_failed_check_lets_the_lock_go_and_its_error_leaves(tmp_path):
    with pytest.raises(FolderError, match="holds another run"):
        with Run(tmp_path, refuse=True):
            pytest.fail("the body must not run")
    with Run(tmp_path) as run:  # the refused run let its lock go
        assert run.checked


def test_an_unusable_folder_is_the_runs_own_error(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(FolderError, match="cannot use"):
        Run(a_file).__enter__()
