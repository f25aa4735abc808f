"""A library call as text -> data, read with :mod:`ast` and never evaluated.

    parse_call("torch.optim.AdamW(model.parameters(), lr=3e-4)")
    # CallText("AdamW", (Unresolved("model.parameters()"),), {"lr": 0.0003}, "torch.optim")

The text is a call ``Name(args, key=value)`` or ``a.b.Name(...)`` (the
qualifier as written is kept in ``module``), optionally assigned (``opt =
...``). Its arguments are Python literals, arithmetic on numbers
(``10**12``, ``2 * 3e-4``), or nested calls (a scheduler in
``SequentialLR``'s list, a Keras schedule as ``learning_rate``). A name or
an expression bound at run time (``model.parameters()``, ``args.lr``) becomes
:class:`Unresolved`: the roles below drop the ones a library call does not
need to read (torch's params, a scheduler's optimizer) and the caller refuses
the rest, or (``--from-file``) asks for them.

Hostile text is bounded before and after :func:`ast.parse`: at most
:data:`MAX_TEXT` characters and :data:`MAX_DEPTH` levels of nesting, numbers
of at most :data:`MAX_INT_DIGITS` digits, and whatever the parser raises
(``MemoryError``, ``RecursionError``) is one ``ValueError`` line that echoes at
most :data:`ECHO` characters of the input.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

MAX_TEXT = 4000
"""Characters of one call text (a 20-group optimizer call is about 600)."""

MAX_DEPTH = 40
"""Levels of nesting of a call text's syntax tree (``SequentialLR`` of groups: about 10)."""

MAX_INT_DIGITS = 30
"""Digits of an integer argument (``10**12`` steps has 13)."""

ECHO = 200
"""Characters of the input an error line repeats, at most."""

TORCH_OPTIMIZERS = ("torch.optim", "optim")
TORCH_SCHEDULERS = ("torch.optim.lr_scheduler", "optim.lr_scheduler", "lr_scheduler")
KERAS_OPTIMIZERS = ("keras.optimizers", "tf.keras.optimizers", "tensorflow.keras.optimizers")
KERAS_SCHEDULES = tuple(f"{prefix}.schedules" for prefix in KERAS_OPTIMIZERS) + ("schedules",)
"""The qualifiers accepted before a class name, as pasted from a script."""


class CallText(NamedTuple):
    """A parsed ``module.Name(*args, **kwargs)``; nested calls are ``CallText`` too."""

    name: str
    args: tuple
    kwargs: dict
    module: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}" if self.module else self.name


class Unresolved(NamedTuple):
    """An argument bound at run time (a variable, ``model.parameters()``): its source text."""

    source: str
    line: int = 0


def echo(text: str) -> str:
    """``repr(text)``, cut to about :data:`ECHO` characters for an error line."""
    text = str(text)
    shown = repr(text)
    if len(shown) <= ECHO:
        return shown
    return shown[: ECHO - 40] + f"{shown[0]}... ({len(text)} characters)"


def check_depth(tree: ast.AST, limit: int, what: str) -> None:
    """Raise ``ValueError`` if the syntax tree nests deeper than ``limit`` (no recursion)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"{what} nests deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def parse_tree(
    text: str,
    *,
    what: str,
    mode: str,
    max_text: int = MAX_TEXT,
    max_depth: int = MAX_DEPTH,
    show: bool = True,
) -> ast.AST:
    """``ast.parse(text, mode=mode)`` with bounds; every failure is one ``ValueError`` line
    (naming ``what``, and echoing the text's start if ``show``)."""
    if not isinstance(text, str):
        raise ValueError(f"{what} must be text, got {type(text).__name__}")
    named = f"{what} {echo(text)}" if show else what
    if len(text) > max_text:
        raise ValueError(f"{named} is longer than {max_text} characters")
    if "\x00" in text:
        raise ValueError(f"{named} holds a NUL character")
    try:
        with warnings.catch_warnings():  # the text's own SyntaxWarnings are not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode=mode)
    except SyntaxError as error:
        where = "" if show else f" (line {error.lineno})"
        raise ValueError(f"{named} is not valid Python{where}: {error.msg}") from None
    except (MemoryError, RecursionError, ValueError, OverflowError):
        raise ValueError(
            f"{named} nests too deeply for Python's parser (at most {max_depth} levels are "
            "accepted)"
        ) from None
    check_depth(tree, max_depth, named)
    return tree


def parse_call(text: str, *, what: str = "call") -> CallText:
    """``"torch.optim.AdamW(lr=3e-4, betas=(0.9, 0.95))"`` -> ``CallText("AdamW", ...)``.

    One call, or one assignment of a call (``optimizer = AdamW(...)``), as
    pasted. Raises ``ValueError`` with a one-line message naming what is wrong.
    """
    tree = parse_tree(text.strip() if isinstance(text, str) else text, what=what, mode="exec")
    statements = tree.body
    node = None
    if len(statements) == 1:
        statement = statements[0]
        if isinstance(statement, ast.Expr):
            node = statement.value
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            node = statement.value
    if node is None:
        raise ValueError(f"{what} {echo(text)} must be one call like Name(arg=value, ...)")
    return read_call(node, lambda name_node: None, text=text, what=what)


def parse_value(text: str, *, what: str = "value") -> Any:
    """One literal (``3e-4``, ``10**12``, ``(0.9, 0.95)``) from text, or ``ValueError``."""
    tree = parse_tree(text.strip() if isinstance(text, str) else text, what=what, mode="eval")
    value = _Reader(lambda node: None, text, what).value(tree.body)
    refuse_unresolved(value, text, what)
    if isinstance(value, CallText):
        raise ValueError(f"{what} {echo(text)} must be a literal, not a call")
    return value


def read_call(
    node: ast.AST,
    resolve: Callable[[ast.AST], Any],
    *,
    text: str,
    what: str,
    qualify: Callable[[str], str] = str,
) -> CallText:
    """A call node -> :class:`CallText`; ``resolve(node)`` gives a name's value or None,
    ``qualify`` expands a dotted name (a script's import aliases)."""
    if not isinstance(node, ast.Call):
        raise ValueError(f"{what} {echo(text)} must be a call like Name(arg=value, ...)")
    qualified = dotted(node.func)
    if qualified is None:
        raise ValueError(f"{what} {echo(text)} must be a call like Name(arg=value, ...)")
    module, _, name = qualify(qualified).rpartition(".")
    reader = _Reader(resolve, text, what, qualify)
    args = tuple(reader.value(arg) for arg in node.args)
    kwargs = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ValueError(f"{what} {echo(text)}: ** arguments are not accepted")
        kwargs[keyword.arg] = reader.value(keyword.value)
    return CallText(name, args, kwargs, module)


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` as text for a Name or a chain of attributes of one; else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Reader:
    def __init__(self, resolve, text: str, what: str, qualify: Callable[[str], str] = str):
        self.resolve, self.text, self.what, self.qualify = resolve, text, what, qualify

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Call):
            if dotted(node.func) is None:
                raise ValueError(
                    f"{self.what} {echo(self.text)}: {echo(ast.unparse(node))} must be a call "
                    "like Name(arg=value, ...)"
                )
            return read_call(
                node, self.resolve, text=self.text, what=self.what, qualify=self.qualify
            )
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(item) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise ValueError(f"{self.what} {echo(self.text)}: ** in a dict is not accepted")
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Constant):
            return _number_checked(node.value, self.text, self.what)
        if isinstance(node, (ast.UnaryOp, ast.BinOp)):
            return self.arithmetic(node)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            resolved = self.resolve(node)
            if resolved is not None:
                return resolved
        return Unresolved(_source(node), getattr(node, "lineno", 0))

    def arithmetic(self, node: ast.AST) -> Any:
        """``-x``, ``a + b``, ``a * b``, ``a / b``, ``a // b``, ``a % b``, ``a ** b`` on numbers."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            if _is_number(operand):
                return -operand if isinstance(node.op, ast.USub) else +operand
            return Unresolved(_source(node), getattr(node, "lineno", 0))
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = self.value(node.left), self.value(node.right)
            if _is_number(left) and _is_number(right):
                try:
                    result = _OPERATORS[type(node.op)](left, right)
                except (ArithmeticError, ValueError):
                    raise ValueError(
                        f"{self.what} {echo(self.text)}: {echo(_source(node))} has no finite value"
                    ) from None
                return _number_checked(result, self.text, self.what)
            return Unresolved(_source(node), getattr(node, "lineno", 0))
        return Unresolved(_source(node), getattr(node, "lineno", 0))


def _power(base: float, exponent: float) -> float:
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0 and abs(base) > 1:
        if exponent * math.log10(abs(base)) > MAX_INT_DIGITS:
            raise OverflowError
    result = base**exponent
    if isinstance(result, complex):
        raise ValueError
    return result


_OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _power,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_checked(value: Any, text: str, what: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_DIGITS * 3.33:
            raise ValueError(
                f"{what} {echo(text)}: an integer of more than {MAX_INT_DIGITS} digits"
            )
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} {echo(text)}: a number that is not finite ({value!r})")
    elif isinstance(value, (complex, bytes)) or value is Ellipsis:
        raise ValueError(f"{what} {echo(text)}: {type(value).__name__} values are not accepted")
    return value


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (RecursionError, ValueError):
        return type(node).__name__


# --------------------------------------------------------------------------- roles


def unresolved_in(value: Any) -> list[tuple[str, Unresolved]]:
    """``(path, Unresolved)`` for each run-time value left in ``value`` (a call or literal)."""
    found: list[tuple[str, Unresolved]] = []
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, Unresolved):
            found.append((path, item))
        elif isinstance(item, TorchOptimizerText):
            stack.extend((f"{item.name}.{key}", v) for key, v in item.kwargs.items())
            stack.extend((f"{item.name}[{i + 1}]", v) for i, v in enumerate(item.args))
            for index, group in enumerate(item.groups or []):
                stack.extend((f"{item.name} group {index} {key}", v) for key, v in group.items())
        elif isinstance(item, CallText):
            stack.extend((f"{item.name}.{key}", v) for key, v in item.kwargs.items())
            stack.extend((f"{item.name}[{i}]", v) for i, v in enumerate(item.args))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, dict):
            stack.extend((f"{path}[{k!r}]", v) for k, v in item.items())
    return sorted(found, key=lambda pair: pair[0])


def refuse_unresolved(value: Any, text: str, what: str) -> None:
    """``ValueError`` naming the first run-time value left (the text port takes literals)."""
    found = unresolved_in(value)
    if found:
        path, unresolved = found[0]
        raise ValueError(
            f"{what} {echo(text)}: {echo(unresolved.source)} ({path}) is not a literal (only "
            "numbers, strings, True/False/None, lists, tuples, dicts and calls are accepted)"
        )


class TorchOptimizerText(NamedTuple):
    """A torch optimizer call with its params dropped: ``groups`` (each group's own
    hyperparameters, or None for one group), the positional hyperparameters after
    params, and the keywords."""

    name: str
    groups: list[dict] | None
    args: tuple
    kwargs: dict
    module: str = ""


def torch_optimizer_text(call: CallText) -> TorchOptimizerText:
    """Drop torch's first positional argument (the params, or the groups' ``params``)."""
    if call.module and call.module not in TORCH_OPTIMIZERS:
        raise ValueError(
            f"optimizer {call.qualified}: expected torch.optim.{call.name} (or optim.{call.name})"
        )
    groups, rest = None, call.args
    if call.args:
        first, rest = call.args[0], call.args[1:]
        if isinstance(first, list) and first and all(isinstance(g, dict) for g in first):
            groups = [{k: v for k, v in group.items() if k != "params"} for group in first]
            if any(not isinstance(key, str) for group in groups for key in group):
                raise ValueError(f"{call.name}: a param group's keys must be strings")
        elif not isinstance(first, (Unresolved, CallText, list, tuple)):
            raise ValueError(
                f"{call.name}: its first positional argument is the params or a list of "
                f"param-group dicts, got {echo(repr(first))}"
            )
    if "params" in call.kwargs:
        kwargs = {k: v for k, v in call.kwargs.items() if k != "params"}
    else:
        kwargs = call.kwargs
    return TorchOptimizerText(call.name, groups, rest, kwargs, call.module)


def torch_scheduler_text(call: CallText) -> CallText:
    """Drop a torch scheduler's optimizer (its first positional argument, when it is a name),
    in nested schedulers too."""
    if call.module and call.module not in TORCH_SCHEDULERS:
        raise ValueError(
            f"scheduler {call.qualified}: expected torch.optim.lr_scheduler.{call.name}"
        )
    args = call.args
    if args and isinstance(args[0], (Unresolved, CallText)) and not _is_scheduler(args[0]):
        args = args[1:]
    kwargs = {k: v for k, v in call.kwargs.items() if k != "optimizer"}
    return CallText(
        call.name,
        tuple(_nested_schedulers(a) for a in args),
        {k: _nested_schedulers(v) for k, v in kwargs.items()},
        call.module,
    )


def _is_scheduler(value: Any) -> bool:
    return (
        isinstance(value, CallText)
        and (not value.module or value.module in TORCH_SCHEDULERS)
        and value.name[:1].isupper()
    )


def _nested_schedulers(value: Any) -> Any:
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, CallText):
        return torch_scheduler_text(value)
    if isinstance(value, list):
        return [_nested_schedulers(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_nested_schedulers(item) for item in value)
    return value


def keras_text(call: CallText, *, schedule: bool = False) -> CallText:
    """Check a Keras optimizer's (or schedule's) qualifier; nested schedules too."""
    allowed = KERAS_SCHEDULES if schedule else KERAS_OPTIMIZERS
    if call.module and call.module not in allowed:
        where = "keras.optimizers.schedules" if schedule else "keras.optimizers"
        raise ValueError(f"{call.qualified}: expected {where}.{call.name}")

    def nested(value):
        if isinstance(value, CallText):
            return keras_text(value, schedule=True)
        return value

    return CallText(
        call.name,
        tuple(nested(a) for a in call.args),
        {k: nested(v) for k, v in call.kwargs.items()},
        call.module,
    )


def library_of(call: CallText) -> str | None:
    """``"keras"`` or ``"torch"`` from the qualifier as written, or None if unqualified."""
    if call.module in KERAS_OPTIMIZERS or call.module in KERAS_SCHEDULES:
        return "keras"
    if call.module in TORCH_OPTIMIZERS or call.module in TORCH_SCHEDULERS:
        return "torch"
    return None


def unparse(value: Any) -> str:
    """Python source for a parsed call or literal (``Unresolved`` as its source)."""
    if isinstance(value, CallText):
        parts = [unparse(arg) for arg in value.args]
        parts += [f"{key}={unparse(item)}" for key, item in value.kwargs.items()]
        return f"{value.qualified}({', '.join(parts)})"
    if isinstance(value, Unresolved):
        return value.source
    if isinstance(value, list):
        return "[" + ", ".join(unparse(item) for item in value) + "]"
    if isinstance(value, tuple):
        items = [unparse(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{unparse(k)}: {unparse(v)}" for k, v in value.items()) + "}"
    return repr(value)
