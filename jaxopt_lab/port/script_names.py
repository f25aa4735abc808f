"""A script's names, read from its ``ast``: what each name stands for, and which call is whose.

:class:`ScriptNames` follows the script's imports to qualify names (``from
torch import optim``, ``import torch.optim.lr_scheduler as sched``) and reads
through a name assigned exactly once to a literal or a library call (``LR =
3e-4``, ``warmup = LinearLR(optimizer, ...)``); anything else is bound at run
time (:class:`~jaxopt_lab.port.call_text.Unresolved`). :func:`kind_of` says
whether a qualified name is an optimizer, a scheduler, a Keras schedule or a
clipping call. :mod:`jaxopt_lab.port.script` finds the constructions with them.
"""

from __future__ import annotations

import ast
from typing import Any

from jaxopt_lab.port.call_text import (
    KERAS_OPTIMIZERS,
    KERAS_SCHEDULES,
    CallText,
    Unresolved,
    _Reader,
    dotted,
    read_call,
    unparse,
)

MAX_NAME_CHAIN = 32
"""Names followed through their assignments (``a = b``, ``b = 3e-4``) before giving up."""

CLIPPING = {
    "torch.nn.utils.clip_grad_norm_": ("parameters", "max_norm", "norm_type"),
    "torch.nn.utils.clip_grad.clip_grad_norm_": ("parameters", "max_norm", "norm_type"),
    "torch.nn.utils.clip_grad_value_": ("parameters", "clip_value"),
    "torch.nn.utils.clip_grad.clip_grad_value_": ("parameters", "clip_value"),
}
"""torch's clipping functions, with their positional parameters."""


class ScriptNames:
    """The script's import aliases and its names assigned once."""

    def __init__(self, tree: ast.Module, source: str):
        self.source = source
        self.aliases: dict[str, str] = {}
        assignments: dict[str, list[ast.AST]] = {}
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.aliases.setdefault(root, root)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _names(target):
                        value = (
                            node.value
                            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
                            else None
                        )
                        single = isinstance(target, ast.Name) and not isinstance(
                            node, ast.AugAssign
                        )
                        assignments.setdefault(name, []).append(value if single else None)
            elif isinstance(
                node,
                (
                    ast.For,
                    ast.comprehension,
                    ast.With,
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                    ast.arguments,
                ),
            ):
                for name in _bound_names(node):
                    assignments.setdefault(name, []).append(None)
        self.single = {
            name: values[0]
            for name, values in assignments.items()
            if len(values) == 1 and values[0] is not None
        }
        self.resolving: set[str] = set()

    def qualify(self, name: str) -> str:
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return self.aliases[head] + (f".{rest}" if rest else "")
        return name

    def resolve(self, node: ast.AST) -> Any:
        if not isinstance(node, ast.Name) or node.id not in self.single:
            return None
        if node.id in self.resolving or len(self.resolving) >= MAX_NAME_CHAIN:
            return None  # a cycle, or a chain of names too long to follow: bound at run time
        self.resolving.add(node.id)
        try:
            value = self.single[node.id]
            if (
                isinstance(value, ast.Call)
                and kind_of(self.qualify(dotted(value.func) or "")) == "optimizer"
            ):
                return None  # a scheduler's optimizer: the port never reads it
            if isinstance(value, ast.Call):
                return self.call(value)
            read = _Reader(self.resolve, self.source, "script", self.qualify).value(value)
            return None if isinstance(read, Unresolved) else _opaque_calls(read)
        finally:
            self.resolving.discard(node.id)

    def call(self, node: ast.Call) -> CallText | Unresolved:
        if dotted(node.func) is None:
            return Unresolved(ast.unparse(node), node.lineno)
        read = read_call(node, self.resolve, text=self.source, what="script", qualify=self.qualify)
        return _opaque_calls(read)


def _names(target: ast.AST) -> list[str]:
    return [node.id for node in ast.walk(target) if isinstance(node, ast.Name)]


def _bound_names(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.For, ast.comprehension)):
        return _names(node.target)
    if isinstance(node, ast.With):
        return [n for item in node.items if item.optional_vars for n in _names(item.optional_vars)]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [node.name]
    if isinstance(node, ast.arguments):
        return [a.arg for a in (*node.posonlyargs, *node.args, *node.kwonlyargs)]
    return []


def _is_library_call(call: CallText) -> bool:
    module = call.module
    return (
        module.startswith("torch.optim")
        or module in KERAS_OPTIMIZERS
        or module in KERAS_SCHEDULES
        or call.qualified in CLIPPING
    )


def _opaque_calls(value: Any) -> Any:
    """Calls that are not the libraries' own (``len(loader)``, ``get_lr()``) are run-time
    values."""
    if isinstance(value, CallText):
        if not _is_library_call(value):
            return Unresolved(unparse(value))
        return value._replace(
            args=tuple(_opaque_calls(a) for a in value.args),
            kwargs={k: _opaque_calls(v) for k, v in value.kwargs.items()},
        )
    if isinstance(value, list):
        return [_opaque_calls(item) for item in value]
    if isinstance(value, tuple) and not isinstance(value, Unresolved):
        return tuple(_opaque_calls(item) for item in value)
    if isinstance(value, dict):
        return {k: _opaque_calls(v) for k, v in value.items()}
    return value


def kind_of(qualified: str) -> str | None:
    """``"optimizer"``, ``"scheduler"``, ``"schedule"`` (Keras) or ``"clip"``, or None."""
    module, _, name = qualified.rpartition(".")
    if qualified in CLIPPING:
        return "clip"
    if not name[:1].isupper():
        return None
    if module in ("torch.optim.lr_scheduler",) or module in KERAS_SCHEDULES[:-1]:
        return "schedule" if module in KERAS_SCHEDULES else "scheduler"
    if module == "torch.optim" or module in KERAS_OPTIMIZERS:
        return "optimizer"
    return None
