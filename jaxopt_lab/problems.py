"""The 2-D test functions: the tutorial's bowl and one function for each hazard it names.

A :class:`Problem` is a scalar function of a position ``xy`` (a JAX array of
shape ``(2,)``), with a sensible default start, a plotting window and its known
global minima. Its gradient is ``jax.grad`` of the function, so a user's own
function needs no hand-written gradient: anywhere a problem is taken, a plain
callable ``f(xy) -> scalar`` is accepted too (see :func:`as_problem`).

=================  ==========================================  =================  ==============
name               f(x, y)                                     default start      global minima
=================  ==========================================  =================  ==============
``bowl``           x²/20 + y²  (the tutorial's)                (-7, 2)            (0, 0)
``plateau``        1 - exp(-(x² + y²) / 4)                     (-3, 2.5)          (0, 0)
``rastrigin``      20 + Σ (u² - 10 cos 2πu)  (many minima)     (-4.5, 3.5)        (0, 0)
``rosenbrock``     (1 - x)² + 100 (y - x²)²  (curved valley)   (-1.2, 1)          (1, 1)
``saddle``         x²/2 + y⁴/4 - y²/2  (saddle at the origin)  (-2.5, 0.01)       (0, ±1)
=================  ==========================================  =================  ==============

Rastrigin: Rastrigin (1974); Rosenbrock: Rosenbrock (1960), "An automatic
method for finding the greatest or least value of a function".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

Function2D = Callable[[jax.Array], jax.Array]


@dataclass(frozen=True)
class Problem:
    """A 2-D test function with what it takes to run and draw it.

    Attributes:
      name: the key in :data:`PROBLEMS` (or the user function's name).
      function: ``f(xy) -> scalar`` for ``xy`` of shape ``(2,)``; written in
        ``jax.numpy`` so that ``jax.grad`` and ``jax.vmap`` apply.
      start: the default starting position, or ``None`` (then callers must
        pass one).
      xlim, ylim: the plotting window, or ``None`` (then figures fit the
        trajectories).
      minima: the known global minima, each ``(x, y)``; may be empty.
      description: one line for figures and listings.
    """

    name: str
    function: Function2D
    start: tuple[float, float] | None = None
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    minima: tuple[tuple[float, float], ...] = ()
    description: str = ""

    def __call__(self, xy: jax.Array) -> jax.Array:
        return self.function(xy)

    @property
    def gradient(self) -> Function2D:
        """``jax.grad`` of the function: ``xy (2,) -> (2,)``."""
        return jax.grad(self.function)

    def values_on_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``f`` at every point of ``np.meshgrid``-style arrays ``x`` and ``y`` (same shape)."""
        points = jnp.stack([jnp.ravel(jnp.asarray(x)), jnp.ravel(jnp.asarray(y))], axis=-1)
        return np.asarray(jax.vmap(self.function)(points)).reshape(np.shape(x))


def bowl(xy: jax.Array) -> jax.Array:
    """The tutorial's elongated bowl ``x²/20 + y²``: steep in y, shallow in x.

    Written as one elementwise expression and a sum, so that its gradient
    ``(x/10, 2y)`` compiles to elementwise code under ``vmap`` (no slicing).
    """
    return jnp.sum(xy * xy / jnp.asarray([20.0, 1.0], dtype=jnp.result_type(xy)))


def plateau(xy: jax.Array) -> jax.Array:
    """An inverted Gaussian ``1 - exp(-(x² + y²)/4)``: nearly flat far from the minimum."""
    return 1.0 - jnp.exp(-(xy[0] * xy[0] + xy[1] * xy[1]) / 4.0)


def rastrigin(xy: jax.Array) -> jax.Array:
    """Rastrigin's ``20 + Σ (u² - 10 cos 2πu)``: a local minimum near every integer point."""
    return 20.0 + jnp.sum(xy * xy - 10.0 * jnp.cos(2.0 * jnp.pi * xy))


def rosenbrock(xy: jax.Array) -> jax.Array:
    """Rosenbrock's banana ``(1 - x)² + 100 (y - x²)²``: a narrow curved valley."""
    x, y = xy[0], xy[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def saddle(xy: jax.Array) -> jax.Array:
    """``x²/2 + y⁴/4 - y²/2``: a saddle at the origin between minima at ``(0, ±1)``."""
    x, y = xy[0], xy[1]
    return 0.5 * x * x + 0.25 * y**4 - 0.5 * y * y


PROBLEMS: dict[str, Problem] = {
    "bowl": Problem(
        "bowl",
        bowl,
        (-7.0, 2.0),
        (-10.0, 10.0),
        (-5.0, 5.0),
        ((0.0, 0.0),),
        "x²/20 + y² (the tutorial's bowl)",
    ),
    "plateau": Problem(
        "plateau",
        plateau,
        (-3.0, 2.5),
        (-4.0, 4.0),
        (-4.0, 4.0),
        ((0.0, 0.0),),
        "1 - exp(-(x² + y²)/4) (a plateau)",
    ),
    "rastrigin": Problem(
        "rastrigin",
        rastrigin,
        (-4.5, 3.5),
        (-5.12, 5.12),
        (-5.12, 5.12),
        ((0.0, 0.0),),
        "Rastrigin (many local minima)",
    ),
    "rosenbrock": Problem(
        "rosenbrock",
        rosenbrock,
        (-1.2, 1.0),
        (-2.0, 2.0),
        (-1.0, 3.0),
        ((1.0, 1.0),),
        "Rosenbrock (a narrow curved valley)",
    ),
    "saddle": Problem(
        "saddle",
        saddle,
        (-2.5, 0.01),
        (-3.0, 3.0),
        (-2.0, 2.0),
        ((0.0, 1.0), (0.0, -1.0)),
        "x²/2 + y⁴/4 - y²/2 (a saddle at the origin)",
    ),
}
"""The built-in problems by name."""


def as_problem(problem: Problem | str | Function2D) -> Problem:
    """A :class:`Problem` from a problem, a name in :data:`PROBLEMS`, or a function ``f(xy)``.

    A bare function becomes a problem with no default start, window or minima.
    Raises ``ValueError`` (listing the valid names) for an unknown name and
    ``TypeError`` for anything else.
    """
    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, str):
        if problem not in PROBLEMS:
            raise ValueError(
                f"unknown problem {problem!r}; valid problems: {', '.join(sorted(PROBLEMS))}"
            )
        return PROBLEMS[problem]
    if callable(problem):
        return Problem(getattr(problem, "__name__", "custom"), problem)
    raise TypeError(
        f"problem must be a Problem, a name in PROBLEMS or a function f(xy), got {problem!r}"
    )
