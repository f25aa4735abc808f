"""Measuring how far two optimizers part, to the ulp, on the same gradients.

:mod:`~jaxopt_lab.crosscheck.adapters` wraps each library's optimizer (optax,
``torch.optim``, Keras, the tutorial's NumPy classes) behind one interface;
:mod:`~jaxopt_lab.crosscheck.measures` runs two of them side by side and
measures the error (ulps, normwise relative error, first non-finite step).
Everything public is importable from here: ``crosscheck.compare(a, b, ...)``.
"""

from jaxopt_lab.crosscheck.adapters import (
    Adapter,
    KerasAdapter,
    OptaxAdapter,
    ReferenceAdapter,
    TorchAdapter,
    TorchTrainingAdapter,
    as_adapter,
    import_keras,
    run_by_steps,
)
from jaxopt_lab.crosscheck.measures import (
    Comparison,
    Trajectory,
    assert_equivalent,
    compare,
    first_steps,
    measure,
    normwise_relative_error,
    random_gradients,
    tolerance_failure,
    trajectory,
    ulp_distance,
)

__all__ = [
    "Comparison",
    "KerasAdapter",
    "OptaxAdapter",
    "ReferenceAdapter",
    "Adapter",
    "TorchAdapter",
    "TorchTrainingAdapter",
    "Trajectory",
    "as_adapter",
    "assert_equivalent",
    "compare",
    "first_steps",
    "import_keras",
    "measure",
    "normwise_relative_error",
    "random_gradients",
    "run_by_steps",
    "tolerance_failure",
    "trajectory",
    "ulp_distance",
]
