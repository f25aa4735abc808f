"""The 2-D problems: values, gradients and minima against closed forms and finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.problems import PROBLEMS, Problem, as_problem


def test_the_seed_problem_and_one_per_hazard_are_there():
    assert {"bowl", "plateau", "rastrigin", "rosenbrock", "saddle"} <= set(PROBLEMS)
    for name, problem in PROBLEMS.items():
        assert problem.name == name
        assert problem.start is not None and problem.xlim and problem.ylim and problem.minima


@pytest.mark.parametrize(
    "name, xy, expected",
    [
        ("bowl", (-7.0, 2.0), 49 / 20 + 4),
        ("plateau", (1.0, 1.0), 1 - np.exp(-0.5)),
        ("rastrigin", (1.0, -1.0), 2.0),
        ("rosenbrock", (-1.2, 1.0), 2.2**2 + 100 * 0.44**2),
        ("saddle", (1.0, 2.0), 0.5 + 4.0 - 2.0),
    ],
)
def test_values_match_closed_forms(x64, name, xy, expected):
    # float64 closed forms; 1e-12 leaves room only for rounding of a few operations.
    value = PROBLEMS[name](jnp.asarray(xy, dtype=jnp.float64))
    np.testing.assert_allclose(float(value), expected, rtol=1e-12, atol=1e-12)


def test_bowl_gradient_is_the_seeds_analytic_one(x64):
    # The tutorial's gradient is (x / 10, 2 y); x/10 and 2x/20 differ by at most an ulp.
    xy = jnp.asarray([-7.0, 2.0], dtype=jnp.float64)
    np.testing.assert_allclose(PROBLEMS["bowl"].gradient(xy), [-0.7, 4.0], rtol=1e-15)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_gradients_match_central_differences(x64, name):
    # Central differences with h = 1e-6 in float64 are accurate to ~1e-9 relative
    # for these smooth functions (error ~ h² f''' + eps f / h); 1e-6 is a safe bound.
    problem = PROBLEMS[name]
    rng = np.random.default_rng(0)
    points = rng.uniform(
        [problem.xlim[0], problem.ylim[0]], [problem.xlim[1], problem.ylim[1]], size=(5, 2)
    )
    step = 1e-6
    for point in points:
        xy = jnp.asarray(point, dtype=jnp.float64)
        expected = [
            (problem(xy + step * e) - problem(xy - step * e)) / (2 * step)
            for e in jnp.eye(2, dtype=jnp.float64)
        ]
        np.testing.assert_allclose(problem.gradient(xy), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_listed_minima_are_stationary_and_lowest_in_the_window(x64, name):
    problem = PROBLEMS[name]
    x, y = np.meshgrid(np.linspace(*problem.xlim, 301), np.linspace(*problem.ylim, 301))
    lowest_on_grid = problem.values_on_grid(x, y).min()
    for minimum in problem.minima:
        xy = jnp.asarray(minimum, dtype=jnp.float64)
        np.testing.assert_allclose(problem.gradient(xy), [0.0, 0.0], atol=1e-12)
        # A dense grid cannot go below a true global minimum (1e-12 for rounding).
        assert float(problem(xy)) <= lowest_on_grid + 1e-12


def test_saddle_has_an_indefinite_hessian_at_the_origin(x64):
    origin = jnp.zeros(2, dtype=jnp.float64)
    problem = PROBLEMS["saddle"]
    np.testing.assert_allclose(problem.gradient(origin), [0.0, 0.0], atol=0)
    eigenvalues = np.linalg.eigvalsh(np.asarray(jax.hessian(problem.function)(origin)))
    np.testing.assert_allclose(sorted(eigenvalues), [-1.0, 1.0], rtol=1e-12)


def test_rastrigin_has_many_local_minima():
    problem = PROBLEMS["rastrigin"]
    x, y = np.meshgrid(np.linspace(-5, 5, 201), np.linspace(-5, 5, 201))
    z = problem.values_on_grid(x, y)
    inner = z[1:-1, 1:-1]
    neighbours = np.stack([z[:-2, 1:-1], z[2:, 1:-1], z[1:-1, :-2], z[1:-1, 2:]])
    local_minima = np.sum(np.all(inner < neighbours, axis=0))
    assert local_minima >= 81  # one near every integer point of [-4, 4]²


def test_plateau_is_flat_far_from_its_minimum():
    problem = PROBLEMS["plateau"]
    far = jnp.asarray([4.0, 4.0], dtype=jnp.float32)
    near = jnp.asarray([1.0, 1.0], dtype=jnp.float32)
    # |∇f| = r exp(-r²/4) / 2: 0.0027 at r = 4√2 against 0.43 at r = √2.
    assert float(jnp.linalg.norm(problem.gradient(far))) < 0.01 * float(
        jnp.linalg.norm(problem.gradient(near))
    )


def test_values_on_grid_equals_pointwise_calls():
    problem = PROBLEMS["rosenbrock"]
    x, y = np.meshgrid(
        np.linspace(-2, 2, 4, dtype=np.float32), np.linspace(-1, 3, 3, dtype=np.float32)
    )
    expected = [
        [float(problem(jnp.asarray([a, b]))) for a, b in zip(row_x, row_y, strict=True)]
        for row_x, row_y in zip(x, y, strict=True)
    ]
    np.testing.assert_allclose(problem.values_on_grid(x, y), expected, rtol=1e-6)


def test_as_problem_accepts_names_problems_and_functions():
    assert as_problem("saddle") is PROBLEMS["saddle"]
    assert as_problem(PROBLEMS["plateau"]) is PROBLEMS["plateau"]

    def my_bowl(xy):
        return jnp.sum((xy - 1.0) ** 2)

    problem = as_problem(my_bowl)
    assert isinstance(problem, Problem) and problem.name == "my_bowl" and problem.start is None
    np.testing.assert_allclose(problem.gradient(jnp.zeros(2)), [-2.0, -2.0])


def test_as_problem_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match="unknown problem 'seed_bowl'.*bowl.*rosenbrock"):
        as_problem("seed_bowl")
    with pytest.raises(TypeError, match="problem must be"):
        as_problem(3.0)
