"""Generated strings through the optimizer-spec grammar and the ``--param`` grammar.

Each string must give a clean result or one ``ValueError`` line (the CLI's exit 2),
never another exception, a multi-line message or an echo of a huge input, and
within a time bound. Strings are drawn both at random and shaped like the grammar
(a real optimizer name, a colon, numbers, ``KEY=VALUE`` pairs, extremes), so most
reach past the first check. Under CI the example count is fixed and derandomized.
The port's parser is fuzzed with the port's own tests.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxopt_lab.cli import build_parser
from jaxopt_lab.grid import MAX_ECHO, hyperparameter_names, parse_grid_axis
from jaxopt_lab.optimizer_spec import OptimizerSpec, parse_optimizer
from jaxopt_lab.optimizers import OPTIMIZERS

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
FUZZ = settings(
    max_examples=300 if IN_CI else 150,
    derandomize=IN_CI,
    deadline=None,  # each example's time is asserted below, with its own bound
    suppress_health_check=[HealthCheck.too_slow],
)
TIME_BOUND = 5.0  # seconds for one string; a parse takes milliseconds (one optimizer built)
LONGEST_MESSAGE = 2 * MAX_ECHO + 500  # each echo of the input is cut at MAX_ECHO characters

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.integers(min_value=-5, max_value=10**6).map(str),
    st.sampled_from(
        [
            "1e39",
            "1e-400",
            "-0",
            "nan",
            "inf",
            "1_0",
            "0x10",
            "",
            " ",
            "١٢",
            "9" * 5000,
            "1e999999999",
            "0.5",
            "3",
        ]
    ),
)
NAMES = st.sampled_from(sorted(OPTIMIZERS) + ["", "Adam", "adam ", "__class__", "sgd\n"])
KEYS = st.one_of(
    st.sampled_from(sorted({key for name in OPTIMIZERS for key in hyperparameter_names(name)})),
    st.text(max_size=12),
)
SPEC_TEXT = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda name, colon, first, pairs: (
            name
            + colon
            + ",".join(([first] if first is not None else []) + [f"{k}={v}" for k, v in pairs])
        ),
        NAMES,
        st.sampled_from([":", "", "::"]),
        st.none() | NUMBERS,
        st.lists(st.tuples(KEYS, NUMBERS), max_size=4),
    ),
    st.builds(lambda n: "adam:" + ",".join(["b1=0.9"] * n), st.integers(0, 3000)),
)
PARAM_TEXT = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda key, parts, scale: f"{key}=" + ":".join(parts) + scale,
        KEYS,
        st.lists(NUMBERS, min_size=1, max_size=4),
        st.sampled_from(["", ":log", ":lin", ":exp", ":"]),
    ),
    st.builds(
        lambda key, values: f"{key}=" + ",".join(values), KEYS, st.lists(NUMBERS, max_size=30)
    ),
    # Counts a parse materializes quickly, and counts past the cap (refused unbuilt); a
    # legal 10^9-point axis is 4 GB of float32 by design (the streamed sweep's grid).
    st.builds(
        lambda count: f"learning_rate=1e-4:1:{count}:log",
        (st.integers(-5, 10**6) | st.integers(10**9 + 1, 10**30)).map(str),
    ),
)


def one_clean_line(call, text):
    """``call(text)`` returns, or raises ``ValueError`` with one short line, within the bound."""
    start = time.perf_counter()
    try:
        result = call(text)
    except ValueError as error:
        message = str(error)
        assert "\n" not in message and "\r" not in message, repr(message[:300])
        assert 0 < len(message) <= LONGEST_MESSAGE, (len(message), message[:300])
        result = None
    assert time.perf_counter() - start < TIME_BOUND, repr(text[:100])
    return result


@FUZZ
@given(SPEC_TEXT)
def test_optimizer_specs_parse_or_fail_in_one_line(text):
    spec = one_clean_line(parse_optimizer, text)
    if spec is not None:  # what parses builds, and round-trips through a run config
        assert isinstance(spec, OptimizerSpec) and spec.name in OPTIMIZERS
        assert OptimizerSpec.from_dict(spec.to_dict()) == spec
        assert all(np.isfinite(value) for value in spec.settings.values())


@FUZZ
@given(PARAM_TEXT)
def test_param_axes_parse_or_fail_in_one_line(text):
    axis = one_clean_line(parse_grid_axis, text)
    if axis is not None:
        name, values = axis
        assert name.isidentifier() and values.ndim == 1 and values.size >= 1
        assert np.all(np.isfinite(values))


@pytest.mark.parametrize(
    "arguments",
    [
        ["trajectories", "--optimizer", "adam:" + "1" * 100_000],
        ["trajectories", "--optimizer", "adam:0.1," + ",".join(["b1=0.9"] * 20_000)],
        ["trajectories", "--optimizer", "sgd:1e39"],  # inf in float32, JAX's default
        ["sweep", "--param", "learning_rate=1e38:1e39:3"],
        ["sweep", "--param", "x" * 100_000 + "=1"],
        ["sweep", "--param", "learning_rate=" + ",".join(["0.1"] * 50_000) + ",nan"],
    ],
    ids=[
        "100k-digit rate",
        "20k settings",
        "sgd 1e39",
        "1e39 in a range",
        "100k name",
        "50k values then nan",
    ],
)
def test_hostile_grammar_on_the_command_line_is_one_line_exit_2(arguments, tmp_path, capsys):
    from jaxopt_lab import cli

    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*arguments, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert time.perf_counter() - start < TIME_BOUND
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("jaxopt-lab") and "error:" in error[-1], error[-1][:300]
    assert len(error[-1]) <= LONGEST_MESSAGE + 200 and "Traceback" not in "\n".join(error)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_the_parser_is_what_the_command_line_uses():
    """The grammars fuzzed above are the ones argparse calls (not a copy)."""
    parser = build_parser()
    args = parser.parse_args(["sweep", "--param", "b1=0.8,0.9", "--out", "x"])
    assert args.param[0][0] == "b1" and args.param[0][1].tolist() == [0.8, 0.9]
