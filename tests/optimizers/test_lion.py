"""Lion: bit-identical to optax and Keras where the table says so, and its own behaviour.

The equivalence table (tests/equivalences/) holds Lion to its bounds against optax
and Keras; where the lab writes Lion's update in the other library's order of
operations (optax, and Keras without weight decay), the rows say bit-identical,
and this file holds them to 0 ulps, which the table's bound does not ask.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import equivalences

STEPS = 300
BIT_IDENTICAL = [
    row
    for row in equivalences.select(equivalences.EQUIVALENCES, optimizers_wanted=["lion"])
    if row.library == "optax"
    and not row.complex_params
    or row.library == "keras"
    and "weight_decay" not in row.lab_settings
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", BIT_IDENTICAL, ids=lambda row: row.name)
def test_rows_in_the_other_librarys_order_are_bit_identical(row, dtype):
    if row.library not in equivalences.available_libraries():
        pytest.skip(f"{row.library} is not installed")
    result = equivalences.check_row(row, dtype, steps=STEPS)
    assert result.comparison.max_ulp_distance.max() == 0, row.name


def test_lion_steps_by_the_sign_and_not_at_zero():
    optimizer = jaxopt_lab.lion(0.1, b1=0.5)
    params = {"w": np.array([1.0, 1.0, 1.0], np.float32)}
    grads = {"w": np.array([-3.0, 0.0, 1e-30], np.float32)}
    updates, state = optimizer.update(grads, optimizer.init(params), params)
    np.testing.assert_array_equal(updates["w"], np.float32([0.1, 0.0, -0.1]))
    np.testing.assert_allclose(state.momentum["w"], 0.01 * grads["w"])


def test_lion_needs_params_only_with_weight_decay():
    grads = {"w": np.ones(2, np.float32)}
    plain = jaxopt_lab.lion()
    plain.update(grads, plain.init(grads))
    decayed = jaxopt_lab.lion(weight_decay=0.1)
    with pytest.raises(ValueError, match="pass params"):
        decayed.update(grads, decayed.init(grads))
