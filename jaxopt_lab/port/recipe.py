"""A ported optimizer as data: the code a user can paste, and the object it builds.

The port does not build its transformation one way and print another: it
builds a :class:`Recipe` (assignments and one result expression, made of
:class:`Call`, :class:`Ref` and :class:`Name` nodes and Python literals), and
both :meth:`Recipe.build` and :meth:`Recipe.code` read that one recipe. The
tests execute the printed code and check that it gives the same numbers.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

_MODULES = {"optax": "optax", "jaxopt_lab": "jaxopt_lab", "port": "jaxopt_lab.port"}
_IMPORTS = {
    "optax": "import optax",
    "jaxopt_lab": "import jaxopt_lab",
    "port": "from jaxopt_lab import port",
}
_WIDTH = 96


@dataclasses.dataclass(frozen=True)
class Ref:
    """A module attribute by its printed path: ``Ref("jaxopt_lab.adamw")``."""

    path: str

    def resolve(self) -> Any:
        root, *attributes = self.path.split(".")
        value = importlib.import_module(_MODULES[root])
        for attribute in attributes:
            value = getattr(value, attribute)
        return value


@dataclasses.dataclass(frozen=True)
class Name:
    """A variable the recipe assigns (or the caller provides), with an optional
    attribute/index path: ``Name("schedule", ("lr", 0))`` is ``schedule.lr[0]``."""

    name: str
    path: tuple = ()


@dataclasses.dataclass(frozen=True)
class Call:
    """``function(*args, **kwargs)``; ``function`` is a :class:`Ref` or another node."""

    function: Any
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


def call(function: str | Any, *args: Any, **kwargs: Any) -> Call:
    """``call("optax.chain", a, b)``: a :class:`Call` of a module attribute or node."""
    function = Ref(function) if isinstance(function, str) else function
    return Call(function, tuple(args), tuple(kwargs.items()))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """``assignments`` (``name = expression``, in order), then ``result``.

    ``given`` maps names the caller provides (``group_of``) to their values;
    the code shows them as a literal where one exists, else as a comment.
    """

    assignments: tuple[tuple[str, Any], ...]
    result: Any
    given: tuple[tuple[str, Any], ...] = ()
    result_name: str = "optimizer"

    def build(self) -> Any:
        """Evaluate the recipe: the ``optax.GradientTransformation`` it describes."""
        scope = dict(self.given)
        for name, expression in self.assignments:
            scope[name] = _evaluate(expression, scope)
        return _evaluate(self.result, scope)

    def code(self) -> str:
        """The recipe as Python a user can paste (imports included)."""
        body = []
        for name, value in self.given:
            literal = _literal(value)
            if literal is None:
                body.append(f"{name} = ...  # your {name}, as passed to the port")
            else:
                body.append(f"{name} = {literal}")
        for name, expression in (*self.assignments, (self.result_name, self.result)):
            body.append(f"{name} = {_render(expression, len(name) + 3)}")
        roots = sorted(_roots(self), key=list(_IMPORTS).index)
        return "\n".join([*(_IMPORTS[root] for root in roots), "", *body]) + "\n"


def _evaluate(node: Any, scope: dict[str, Any]) -> Any:
    if isinstance(node, Ref):
        return node.resolve()
    if isinstance(node, Name):
        value = scope[node.name]
        for step in node.path:
            value = value[step] if isinstance(step, int) else getattr(value, step)
        return value
    if isinstance(node, Call):
        function = _evaluate(node.function, scope)
        args = [_evaluate(arg, scope) for arg in node.args]
        kwargs = {key: _evaluate(value, scope) for key, value in node.kwargs}
        return function(*args, **kwargs)
    if isinstance(node, tuple):
        return tuple(_evaluate(item, scope) for item in node)
    if isinstance(node, list):
        return [_evaluate(item, scope) for item in node]
    if isinstance(node, dict):
        return {key: _evaluate(value, scope) for key, value in node.items()}
    return node


def _roots(recipe: Recipe) -> set[str]:
    found: set[str] = set()

    def visit(node):
        if isinstance(node, Ref):
            found.add(node.path.split(".")[0])
        elif isinstance(node, Call):
            visit(node.function)
            for arg in node.args:
                visit(arg)
            for _, value in node.kwargs:
                visit(value)
        elif isinstance(node, (tuple, list)):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for value in node.values():
                visit(value)

    for _, expression in recipe.assignments:
        visit(expression)
    visit(recipe.result)
    return found


def _literal(value: Any) -> str | None:
    """Python source for a pytree of literals, or None if it holds anything else."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = [_literal(item) for item in value]
        if any(item is None for item in items):
            return None
        if isinstance(value, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        items = [(_literal(key), _literal(item)) for key, item in value.items()]
        if any(key is None or item is None for key, item in items):
            return None
        return "{" + ", ".join(f"{key}: {item}" for key, item in items) + "}"
    return None


def _render(node: Any, indent: int, level: int = 0) -> str:
    """Source for ``node``, on one line if it fits, else one argument per line."""
    flat = _render_flat(node)
    if indent + len(flat) <= _WIDTH or not isinstance(node, (Call, list, tuple, dict)):
        return flat
    pad = "    " * (level + 1)
    if isinstance(node, Call):
        head = _render_flat(node.function) + "("
        parts = [_render(arg, len(pad), level + 1) for arg in node.args]
        parts += [
            f"{key}={_render(value, len(pad) + len(key) + 1, level + 1)}"
            for key, value in node.kwargs
        ]
        close = ")"
    elif isinstance(node, dict):
        head, close = "{", "}"
        parts = [
            f"{key!r}: {_render(value, len(pad) + 4, level + 1)}" for key, value in node.items()
        ]
    else:
        head, close = ("[", "]") if isinstance(node, list) else ("(", ")")
        parts = [_render(item, len(pad), level + 1) for item in node]
    lines = [head, *(f"{pad}{part}," for part in parts), "    " * level + close]
    return "\n".join(lines)


def _render_flat(node: Any) -> str:
    if isinstance(node, Ref):
        return node.path
    if isinstance(node, Name):
        text = node.name
        for step in node.path:
            text += f"[{step}]" if isinstance(step, int) else f".{step}"
        return text
    if isinstance(node, Call):
        parts = [_render_flat(arg) for arg in node.args]
        parts += [f"{key}={_render_flat(value)}" for key, value in node.kwargs]
        return f"{_render_flat(node.function)}({', '.join(parts)})"
    if isinstance(node, list):
        return "[" + ", ".join(_render_flat(item) for item in node) + "]"
    if isinstance(node, tuple):
        items = [_render_flat(item) for item in node]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(node, dict):
        return "{" + ", ".join(f"{key!r}: {_render_flat(v)}" for key, v in node.items()) + "}"
    if isinstance(node, float):
        return repr(node)
    if node is None or isinstance(node, (bool, int, str)):
        return repr(node)
    raise TypeError(f"cannot render {node!r} as code")
