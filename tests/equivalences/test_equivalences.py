"""The equivalence table: every row against the real library, its coverage, its sensitivity."""

from __future__ import annotations

import importlib.util

import pytest

from jaxopt_lab import equivalences, optimizers
from jaxopt_lab.equivalences import check as table

ROWS = equivalences.select(equivalences.EQUIVALENCES)
TEST_STEPS = 1000
"""Steps per row in the default run: all 1000 (``jaxopt-lab check`` runs the same)."""
HEAVY_STEPS = 200
"""Rows marked ``heavy`` run this many steps here, 1000 under ``jaxopt-lab check``."""


def _installed(library: str) -> bool:
    return library in ("tutorial", "optax") or importlib.util.find_spec(library) is not None


def _cli():
    """The command line; it needs tqdm and tabulate, which a bare accelerator machine may lack."""
    pytest.importorskip("tqdm")
    pytest.importorskip("tabulate")
    from jaxopt_lab import cli

    return cli


def _skip_unless_installed(row: equivalences.Equivalence) -> None:
    if not _installed(row.library):
        pytest.skip(f"{row.library} is not installed (pip install 'jaxopt-lab[crosscheck]')")


def _steps(row: equivalences.Equivalence) -> int:
    return HEAVY_STEPS if row.heavy else TEST_STEPS


def _settings_key(row: equivalences.Equivalence) -> tuple:
    return (
        row.optimizer,
        repr(sorted(row.lab_settings.items())),
        row.float32_learning_rate,
        row.complex_params,
        repr(row.param_shapes),
    )


_LAB_RUNS: dict[tuple, object] = {}


def _lab_trajectory(row: equivalences.Equivalence, dtype: str, steps: int):
    """The lab side's run, shared by rows with the same lab settings (one optimizer at a time)."""
    if any(key[0][0] != row.optimizer for key in _LAB_RUNS):
        _LAB_RUNS.clear()  # rows come grouped by optimizer: keep memory bounded
    key = (_settings_key(row), dtype, steps)
    if key not in _LAB_RUNS:
        _LAB_RUNS[key] = table.lab_trajectory(row, dtype, steps)
    return _LAB_RUNS[key]


def _ids(row: equivalences.Equivalence) -> str:
    return row.name + ("" if ROWS.count(row) == 1 else f"-{ROWS.index(row)}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_row(row, dtype):
    # Every row of the table (docs/equivalence.md), against the real library.
    _skip_unless_installed(row)
    steps = _steps(row)
    other = table.other_trajectory(row, dtype, steps)
    result = table.check_row(row, dtype, steps, lab=_lab_trajectory(row, dtype, steps), other=other)
    assert result.passed, result.failure


def test_row_names_are_unique():
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_pair_of_an_optimizer_and_a_library_that_has_it_is_in_the_table():
    """No pair silently missing: each library's counterpart is a row, or is truly absent."""
    counterparts = equivalences.COUNTERPARTS
    assert set(counterparts) == set(optimizers.OPTIMIZERS), (
        "every lab optimizer needs a COUNTERPARTS entry in an equivalences family module"
    )
    for optimizer, by_library in counterparts.items():
        assert set(by_library) == set(equivalences.LIBRARIES), optimizer
        for library, counterpart in by_library.items():
            rows = [row for row in ROWS if row.optimizer == optimizer and row.library == library]
            if isinstance(counterpart, equivalences.Missing):
                assert not rows or all(row.other is None for row in rows), (optimizer, library)
                if _installed(library):
                    module, _, name = counterpart.probe.rpartition(".")
                    assert not hasattr(_import(module), name), (
                        f"{counterpart.probe} exists: {optimizer} needs rows against {library}"
                    )
                continue
            assert rows, f"no row for {optimizer} against {library} ({counterpart})"
            labels = {row.label for row in rows}
            assert {"defaults", "non-default"} <= labels, (optimizer, library, labels)
            for row in rows:
                assert row.other.startswith(_module_prefix(library)), (row.name, row.other)
            if _installed(library):
                equivalences.resolve(counterpart)  # it exists in the installed version


def _module_prefix(library: str) -> str:
    return {
        "tutorial": "reference.",
        "optax": "optax.",
        "torch": "torch.optim.",
        "keras": "keras.optimizers.",
    }[library]


def _import(module: str):
    if module == "reference":
        from jaxopt_lab import reference

        return reference
    if module.startswith("keras"):
        from jaxopt_lab import crosscheck

        crosscheck.import_keras()
    return importlib.import_module(module)


# --------------------------------------------------------------------------- the check command


def test_check_prints_the_table_grouped_by_optimizer(capsys):
    arguments = ["--optimizer", "adam", "sgd", "--library", "tutorial", "torch"]
    assert _cli().main(["check", "--steps", "20", *arguments]) == 0
    output = capsys.readouterr().out
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    groups = [line.split("|")[1].strip() for line in lines[1:]]
    assert groups[0] == "**sgd**" and "**adam**" in groups  # OPTIMIZERS order, grouped
    assert sum(1 for group in groups if group) == 2
    assert "reference.Adam()" in output and "torch.optim.Adam(lr=0.001)" in output
    assert "| agree |" in output and " 0 failed" in output


def test_check_filters_by_library(capsys):
    argv = ["check", "--steps", "5", "--optimizer", "nesterov", "--library", "tutorial"]
    assert _cli().main(argv) == 0
    output = capsys.readouterr().out
    assert "differ (documented)" in output
    assert "optax" not in [
        line.split("|")[3].strip()
        for line in output.splitlines()
        if line.startswith("| ") and line.count("|") > 4
    ]


def test_check_refuses_an_unknown_optimizer(capsys):
    with pytest.raises(SystemExit) as exit_info:  # the CLI's one error style: parser.error
        _cli().main(["check", "--optimizer", "adamm"])
    assert exit_info.value.code == 2
    assert "unknown optimizer 'adamm'" in capsys.readouterr().err.strip().splitlines()[-1]


def test_check_exits_non_zero_when_a_row_fails(capsys, monkeypatch):
    wrong = equivalences.Equivalence(
        "adam",
        "optax",
        {"eps": 1e-7, "eps_hat": False},
        "optax.adam",
        {"learning_rate": 0.001},
        label="injected-wrong-eps",
    )
    right = next(row for row in ROWS if row.name == "adam-optax-defaults")
    monkeypatch.setattr(equivalences, "EQUIVALENCES", (right, wrong))
    status = _cli().main(["check", "--steps", "5", "--optimizer", "adam", "--library", "optax"])
    output = capsys.readouterr().out
    assert status == 1
    assert "FAIL adam-optax-injected-wrong-eps (float64)" in output
    assert "FAIL adam-optax-defaults" not in output
    assert " 1 failed" in output or " 2 failed" in output
