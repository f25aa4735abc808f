"""The ``trajectories``, ``sweep`` and ``explore`` subcommands, run in-process through
``cli.main``."""

from __future__ import annotations

import base64
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from jaxopt_lab import cli, reference
from jaxopt_lab.grid import parse_grid_axis
from jaxopt_lab.two_d import sweep


def run_cli(argv, capsys):
    status = cli.main(argv)
    return status, capsys.readouterr().out


def test_trajectories_writes_the_figure_and_every_position(tmp_path, capsys):
    status, out = run_cli(
        ["trajectories", "--steps", "12", "--optimizer", "sgd", "adam:0.5", "--out", str(tmp_path)],
        capsys,
    )
    assert status == 0 and "sgd (lr=0.95)" in out
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000
    record = json.loads((tmp_path / "trajectories.json").read_text())
    assert record["problem"] == "bowl" and record["steps"] == 12
    assert record["optimizers"]["adam:0.5"]["learning_rate"] == 0.5
    positions = np.asarray(record["optimizers"]["sgd"]["positions"])
    assert positions.shape == (13, 2)
    # The tutorial's SGD in float64; the CLI runs float32, so ~1e-6 relative.
    params, tutorial_sgd = {"x": -7.0, "y": 2.0}, reference.SGD(lr=0.95)
    for _ in range(12):
        tutorial_sgd.update(params, {"x": params["x"] / 10, "y": 2 * params["y"]})
    np.testing.assert_allclose(positions[-1], [params["x"], params["y"]], rtol=1e-5, atol=1e-6)


def test_sweep_writes_figure_json_and_prints_the_best_setting(tmp_path, capsys):
    status, out = run_cli(
        [
            "sweep",
            "--optimizer",
            "sgd",
            "--param",
            "learning_rate=1e-3:2:50:log",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert status == 0
    record = json.loads((tmp_path / "sweep.json").read_text())["sgd"]
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert record["shape"] == [50] and record["points"] == 50 and record["diverged"] > 0
    # Every point's result is in the Parquet file, in grid order.
    points = pq.read_table(tmp_path / record["points_file"]).to_pydict()
    np.testing.assert_allclose(points["learning_rate"], np.geomspace(1e-3, 2, 50), rtol=1e-6)
    assert sum(points["diverged"]) == record["diverged"]
    expected = sweep("sgd", {"learning_rate": np.geomspace(1e-3, 2, 50)}, "bowl")
    np.testing.assert_array_equal(points["final_loss"], expected.final_loss)
    np.testing.assert_array_equal(points["final_x"], expected.final_position[:, 0])
    np.testing.assert_array_equal(points["diverged"], expected.diverged)
    best = record["best"]["hyperparameters"]["learning_rate"]
    assert (best, record["best"]["final_loss"]) == (
        expected.best()[0]["learning_rate"],
        expected.best()[1],
    )
    assert f"best learning_rate={best:.6g}" in out


def test_two_axis_sweep_from_the_command_line(tmp_path, capsys):
    status, out = run_cli(
        [
            "sweep",
            "--optimizer",
            "adam",
            "--param",
            "learning_rate=0.01:1:4:log",
            "--param",
            "b1=0.5,0.9",
            "--problem",
            "rosenbrock",
            "--steps",
            "40",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert status == 0 and "adam: best learning_rate=" in out and "b1=" in out
    assert json.loads((tmp_path / "sweep.json").read_text())["adam"]["shape"] == [4, 2]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["sweep", "--optimizer", "adamm", "--param", "learning_rate=0.1"],
            "unknown optimizer 'adamm'; valid optimizers: sgd, momentum",
        ),
        (
            ["sweep", "--param", "momentum=0.9"],
            "unknown hyperparameter 'momentum' in grid; valid hyperparameters of adam: "
            "learning_rate, b1",
        ),
        (["sweep", "--param", "learning_rate=1e-4:10"], "malformed --param"),
        (["sweep", "--optimizer", "adam:b1=2", "--param", "learning_rate=0.1"], "b1 must be"),
        (
            ["sweep", "--param", "learning_rate=0.1", "--param", "learning_rate=0.2"],
            "--param learning_rate is given twice",
        ),
        (["sweep", "--param", "learning_rate=1e-4:10:x:log"], "NAME=LOW:HIGH:COUNT"),
        (["sweep", "--param", "learning_rate=0:1:5:log"], "a log range needs LOW, HIGH > 0"),
        (["sweep", "--param", "learning_rate"], "malformed --param"),
        (["sweep", "--param", "b1=0.5:1.5:3"], "b1 must be"),
        (
            ["sweep", "--param", "learning_rate=0.1", "--problem", "seed_bowl"],
            "unknown problem 'seed_bowl'; valid problems: bowl",
        ),
        (["trajectories", "--optimizer", "sgd", "lionn"], "unknown optimizer 'lionn'"),
        (["trajectories", "--optimizer", "sgd:fast"], "'fast' is not a number"),
        (["trajectories", "--optimizer", "sgd:momentum=0.9"], "sgd has no hyperparameter"),
        (["trajectories", "--start", "1;2"], "expected two finite numbers X,Y"),
        (["trajectories", "--start", "nan,1"], "expected two finite numbers X,Y"),
        (["trajectories", "--steps", "3e9"], "argument --steps: expected an integer in [0,"),
        (["sweep", "--param", "learning_rate=0.1", "--steps", "-1"], "argument --steps"),
    ],
)
def test_bad_arguments_exit_2_with_what_is_valid(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv + ["--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_parse_grid_axis_forms():
    name, values = parse_grid_axis("learning_rate=1e-4:10:6:log")
    assert name == "learning_rate"
    np.testing.assert_allclose(values, [1e-4, 1e-3, 1e-2, 1e-1, 1, 10], rtol=1e-12)
    np.testing.assert_allclose(parse_grid_axis("b1=0.5:0.9:5")[1], [0.5, 0.6, 0.7, 0.8, 0.9])
    np.testing.assert_allclose(parse_grid_axis("b1=0.5,0.9")[1], [0.5, 0.9])
    np.testing.assert_allclose(parse_grid_axis("eps=1e-8")[1], [1e-8])


@pytest.mark.slow
def test_every_optimizer_has_a_figure_rate_and_moves_visibly(tmp_path, capsys):
    """A bare NAME gets its figure rate: every optimizer of the lab has one, and it moves."""
    from jaxopt_lab.optimizers import OPTIMIZERS

    assert cli.main(["trajectories", "--optimizer", *OPTIMIZERS, "--out", str(tmp_path)]) == 0
    records = json.loads((tmp_path / "trajectories.json").read_text())["optimizers"]
    assert sorted(records) == sorted(OPTIMIZERS)
    for name, record in records.items():
        start, end = np.array(record["positions"][0]), np.array(record["positions"][-1])
        assert np.all(np.isfinite(end)), name
        assert np.linalg.norm(end - start) > 1.0, name


# --------------------------------------------------------------------------- explore


def test_explore_writes_only_the_page_with_the_sweeps_numbers(tmp_path, capsys):
    status, out = run_cli(
        ["explore", "--problem", "saddle", "--optimizer", "sgd", "adam:0.05", "--learning-rates",
         "1e-2:1:5", "--steps", "8", "--out", str(tmp_path)],
        capsys,
    )  # fmt: skip
    assert status == 0 and "2 optimizers x 1 problems x 7 learning rates x 9 positions" in out
    written = sorted(p.name for p in tmp_path.iterdir() if p.name != ".lock")
    assert written == ["report.html", "result.json"]  # result.json: what the unit holds
    page = (tmp_path / "report.html").read_text()
    assert 'data-view="two_d"' in page and "saddle" in page and "rosenbrock" not in page
    # The embedded rates: the grid's five and the presets 0.95 (sgd) and 0.05 (adam).
    rates = sweep("sgd", {"learning_rate": np.append(np.geomspace(1e-2, 1, 5), [0.05, 0.95])},
                  "saddle").axes["learning_rate"]  # fmt: skip
    block = json.loads(page.split('"learning_rates":{"__array__":', 1)[1].split("}", 1)[0] + "}")
    embedded = np.frombuffer(base64.b64decode(block["base64"]), "<f4")
    np.testing.assert_array_equal(embedded, np.sort(rates))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--problem", "bowl", "bowll"], "unknown problem 'bowll'; valid problems: bowl"),
        (["--problem", "bowl", "bowl"], "--problem: a problem is listed twice"),
        (["--optimizer", "adamm"], "unknown optimizer 'adamm'"),
        (["--learning-rates", "1:0.1:10"], "argument --learning-rates: expected LOW:HIGH:COUNT"),
        (["--learning-rates", "0:1:10"], "expected LOW:HIGH:COUNT with 0 < LOW < HIGH"),
        (["--learning-rates", "1e-3:1:1"], "2 <= COUNT <= 100000, got '1e-3:1:1'"),
        (["--learning-rates", "1e-3:1"], "expected LOW:HIGH:COUNT"),
        (["--steps", "0"], "argument --steps: expected an integer in [1,"),
        (
            ["--learning-rates", "1e-3:1:100000", "--steps", "10000"],
            "the page would embed 266707 MB of trajectories, more than 100 MB",
        ),
        (["--optimizer", "rprop:eta_plus=0.5"], "eta_plus"),
        (["--run", "nowhere"], "--run: nowhere holds neither the losses.json"),
    ],
)
def test_explore_refuses_bad_arguments_before_computing(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["explore", *argv, "--out", str(tmp_path / "page")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (tmp_path / "page").exists()
