"""The one grammar: optimizers with settings, swept ranges; what each refuses."""

from __future__ import annotations

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab.grid import BLOCKWISE_ABOVE, _blockwise_range, parse_grid_axis
from jaxopt_lab.optimizer_spec import OptimizerSpec, parse_optimizer, parse_optimizers


def test_optimizer_forms_build_what_they_say():
    assert parse_optimizer("adam") == OptimizerSpec("adam", {}, "adam")
    assert parse_optimizer("adam:0.003").settings == {"learning_rate": 0.003}
    spec = parse_optimizer("adam:0.003,b1=0.8")
    assert spec.settings == {"learning_rate": 0.003, "b1": 0.8}
    assert spec.label == "adam:0.003,b1=0.8"
    assert parse_optimizer("momentum:momentum=0.5").settings == {"momentum": 0.5}
    params = np.ones(3, np.float32)
    for built, reference in [(spec.build(), jaxopt_lab.adam(0.003, b1=0.8)),
                             (parse_optimizer("sgd").build(learning_rate=0.95),
                              jaxopt_lab.sgd(0.95))]:  # fmt: skip
        got, _ = built.update(params, built.init(params), params)
        want, _ = reference.update(params, reference.init(params), params)
        np.testing.assert_array_equal(got, want)
    assert OptimizerSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    "text, message",
    [
        ("lionn", "unknown optimizer 'lionn'; valid optimizers: sgd"),
        ("adam:", "nothing after ':'"),
        ("adam:fast", "'fast' is not a number"),
        ("adam:0.1,0.2", "needs KEY=VALUE"),
        ("sgd:momentum=0.9", "sgd has no hyperparameter 'momentum'; valid: learning_rate"),
        ("adam:b1=0.9,b1=0.8", "b1 is given twice"),
        ("adam:b1=1.5", "b1 must be"),
        ("adam:nan", "not a finite number"),
    ],
)
def test_bad_optimizers_are_named(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_optimizer(text)


def test_the_same_optimizer_twice_is_refused():
    with pytest.raises(ValueError, match="listed twice"):
        parse_optimizers(["adam:0.1", "adam:0.1"])


def test_ranges_and_their_errors():
    name, values = parse_grid_axis("learning_rate=1e-4:10:6:log")
    assert name == "learning_rate"
    np.testing.assert_allclose(values, [1e-4, 1e-3, 1e-2, 1e-1, 1, 10], rtol=1e-12)
    for text, message in [("b1=0.5:1.5", "malformed"), ("lr=0:1:5:log", "LOW, HIGH > 0"),
                          ("lr=1:2:0", "COUNT must be"), ("lr=nan", "not a finite number"),
                          ("lr=1:2:3:cubic", "malformed")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_grid_axis(text)


def test_large_ranges_are_computed_blockwise_to_numpys_float32_values():
    count = BLOCKWISE_ABOVE + 3
    np.testing.assert_array_equal(
        _blockwise_range(1e-4, 10.0, count, log=True),
        np.geomspace(1e-4, 10.0, count).astype(np.float32),
    )
    np.testing.assert_array_equal(
        _blockwise_range(-2.0, 3.0, count, log=False),
        np.linspace(-2.0, 3.0, count).astype(np.float32),
    )
    name, values = parse_grid_axis(f"b1=0.1:0.9:{count}")
    assert values.dtype == np.float32 and values.size == count
