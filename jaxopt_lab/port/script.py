"""``jaxopt-lab port --from-file train.py``: the optimizer, scheduler and clipping of a script.

    reading = read_script(open("train.py").read(), filename="train.py")
    reading.optimizer.call      # CallText of torch.optim.AdamW(...), its params dropped
    reading.requests()          # what is bound at run time, as --set requests

The script is read with :mod:`ast` only: never imported, never run. Its
imports are followed to qualify names (``from torch import optim``,
``import torch.optim.lr_scheduler as sched``), and a name assigned exactly once
in the script to a literal (``LR = 3e-4``, ``groups = [{...}, {...}]``, ``warmup =
LinearLR(optimizer, ...)``) is read through (:mod:`~jaxopt_lab.port.script_names`).
Everything else an argument needs (``args.lr``, ``len(loader) * epochs``) is
bound at run time: it is reported with its line, and the command asks for it (``--set
OneCycleLR.total_steps=2000``). Where ``scheduler.step()`` sits in a loop that
encloses the optimizer's (once per epoch), the optimizer steps per scheduler
step are asked for too (``--scheduler-every``).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
from collections.abc import Mapping
from typing import Any

from jaxopt_lab.port.call_text import (
    KERAS_OPTIMIZERS,
    CallText,
    Unresolved,
    dotted,
    echo,
    parse_tree,
    torch_scheduler_text,
    unparse,
    unresolved_in,
)
from jaxopt_lab.port.script_names import CLIPPING, ScriptNames, kind_of

MAX_SCRIPT_BYTES = 256_000
"""Bytes of a script ``--from-file`` reads (a training script is a few kB; a hostile 256 kB
one costs at most about 4 s and 300 MB to refuse, measured)."""

MAX_SCRIPT_DEPTH = 200
"""Levels of nesting of a script's syntax tree."""

MAX_SCHEDULERS = 32
"""Constructions of one kind (optimizer, scheduler, clipping) read from one script: the
schedulers are checked against each other for nesting, so their count is bounded."""


@dataclasses.dataclass(frozen=True)
class Found:
    """One construction in the script: ``kind`` (optimizer, scheduler, clip), the call with
    its arguments by keyword, its line, and the variable it is assigned to (or None)."""

    kind: str
    call: CallText
    line: int
    variable: str | None

    def describe(self) -> str:
        return f"line {self.line}: {self.kind} {unparse(self.call)}"


@dataclasses.dataclass(frozen=True)
class ScriptReading:
    """What :func:`read_script` found, and what it could not resolve."""

    filename: str
    library: str | None
    optimizer: Found | None
    scheduler: Found | None
    clip: Found | None
    scheduler_every: int | None
    scheduler_every_line: int

    def found(self) -> list[Found]:
        return [item for item in (self.optimizer, self.scheduler, self.clip) if item]

    def unresolved(self) -> list[tuple[Found, str, Unresolved]]:
        """``(construction, argument path, the run-time expression)`` for each one left."""
        return [
            (item, path, value)
            for item in self.found()
            for path, value in unresolved_in(_without_params(item))
        ]

    def requests(self) -> list[str]:
        """The command-line arguments that would fill what is bound at run time."""
        asks = [f"--set {path}=VALUE" for _, path, _ in self.unresolved()]
        if self.scheduler is not None and self.scheduler_every is None:
            asks.append("--scheduler-every N")
        return asks


def _without_params(item: Found) -> CallText:
    """The call without what the port never reads: torch's params, a scheduler's optimizer."""
    call = item.call
    if item.kind == "optimizer" and "params" in call.kwargs:
        params = call.kwargs["params"]
        kwargs = dict(call.kwargs)
        if isinstance(params, list) and params and all(isinstance(g, dict) for g in params):
            kwargs["params"] = [{k: v for k, v in g.items() if k != "params"} for g in params]
        else:
            del kwargs["params"]
        return call._replace(kwargs=kwargs)
    if item.kind == "scheduler":
        return torch_scheduler_text(call._replace(module=""))
    if item.kind == "clip":
        return call._replace(
            kwargs={k: v for k, v in call.kwargs.items() if k != "parameters"}, args=()
        )
    return call


def read_file(path: str | os.PathLike) -> str:
    """A script's text: a regular file (a symlink only to one) of at most
    :data:`MAX_SCRIPT_BYTES`, in UTF-8; else one ``ValueError`` line."""
    name = os.fspath(path)
    try:
        status = os.stat(name)
    except OSError as error:
        raise ValueError(f"--from-file {echo(name)}: {error.strerror or error}") from None
    import stat

    if not stat.S_ISREG(status.st_mode):
        raise ValueError(f"--from-file {echo(name)} is not a regular file")
    if status.st_size > MAX_SCRIPT_BYTES:
        raise ValueError(
            f"--from-file {echo(name)} is {status.st_size} bytes; at most {MAX_SCRIPT_BYTES} "
            "are read"
        )
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_SCRIPT_BYTES + 1)
    except OSError as error:
        raise ValueError(f"--from-file {echo(name)}: {error.strerror or error}") from None
    if len(data) > MAX_SCRIPT_BYTES:
        raise ValueError(f"--from-file {echo(name)} holds more than {MAX_SCRIPT_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"--from-file {echo(name)} is not UTF-8 text: {error.reason}") from None


# --------------------------------------------------------------------------- reading


def _by_keyword(qualified: str, call: CallText, kind: str) -> CallText:
    """Positional arguments as keywords (torch's and the clipping functions' signatures)."""
    if kind == "clip":
        names = CLIPPING[qualified]
    elif qualified.startswith("torch.optim"):
        import torch  # the library's signature, not the script's code

        module = torch.optim.lr_scheduler if kind == "scheduler" else torch.optim
        target = getattr(module, call.name, None)
        if not isinstance(target, type):
            return call
        try:
            names = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            return call
    else:
        return call
    if len(call.args) > len(names):
        return call
    kwargs = dict(zip(names, call.args))
    kwargs.update(call.kwargs)
    return call._replace(args=(), kwargs=kwargs)


def _assigned_to(script: ScriptNames, node: ast.AST) -> str | None:
    parent = script.parents.get(node)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        return dotted(target)
    if isinstance(parent, (ast.AnnAssign, ast.NamedExpr)):
        return dotted(parent.target)
    return None


def read_script(source: str, *, filename: str = "script") -> ScriptReading:
    """Find the optimizer, scheduler and clipping in a script's text, reading its ``ast``.

    Raises ``ValueError`` (one line) for a script that is not Python, that
    holds no optimizer, or more than one.
    """
    tree = parse_tree(
        source,
        what=f"--from-file {filename}",
        mode="exec",
        max_text=MAX_SCRIPT_BYTES,
        max_depth=MAX_SCRIPT_DEPTH,
        show=False,
    )
    script = ScriptNames(tree, source)
    found: dict[str, list[Found]] = {"optimizer": [], "scheduler": [], "clip": []}
    scheduler_nodes: list[tuple[ast.Call, Found]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if name is None:
            continue
        qualified = script.qualify(name)
        kind = kind_of(qualified)
        if kind not in found:
            continue
        call = script.call(node)
        if isinstance(call, Unresolved):
            continue
        call = _by_keyword(qualified, call, kind)
        item = Found(kind, call, node.lineno, _assigned_to(script, node))
        found[kind].append(item)
        if len(found[kind]) > MAX_SCHEDULERS:  # bounded work, whatever the file holds
            raise ValueError(
                f"--from-file {filename}: more than {MAX_SCHEDULERS} {kind} constructions; "
                "port one at a time by pasting each call"
            )
        if kind == "scheduler":
            scheduler_nodes.append((node, item))
    optimizers = found["optimizer"]
    if not optimizers:
        raise ValueError(
            f"--from-file {filename}: no torch.optim or keras.optimizers construction found"
        )
    if len(optimizers) > 1:
        lines = ", ".join(str(item.line) for item in optimizers)
        raise ValueError(
            f"--from-file {filename}: {len(optimizers)} optimizer constructions (lines {lines}); "
            "port them one at a time by pasting each call"
        )
    optimizer = optimizers[0]
    library = "keras" if optimizer.call.module in KERAS_OPTIMIZERS else "torch"
    schedulers = [
        item for node, item in scheduler_nodes if not _is_nested(node, item, scheduler_nodes)
    ]
    if len(schedulers) > 1:
        lines = ", ".join(str(item.line) for item in schedulers)
        raise ValueError(
            f"--from-file {filename}: {len(schedulers)} schedulers (lines {lines}); give one "
            "with --scheduler"
        )
    if len(found["clip"]) > 1:
        lines = ", ".join(str(item.line) for item in found["clip"])
        raise ValueError(
            f"--from-file {filename}: {len(found['clip'])} clipping calls (lines "
            f"{lines}); give one with --clip-grad-norm or --clip-grad-value"
        )
    scheduler = schedulers[0] if schedulers else None
    every, every_line = 1, 0
    if scheduler is not None:
        every, every_line = _scheduler_every(tree, script, optimizer, scheduler)
    return ScriptReading(
        filename,
        library,
        optimizer,
        scheduler,
        found["clip"][0] if found["clip"] else None,
        every,
        every_line,
    )


def _is_nested(node: ast.Call, item: Found, schedulers: list[tuple[ast.Call, Found]]) -> bool:
    """A scheduler inside another's call (``SequentialLR``'s list), or assigned to a name
    that another's call reads."""
    for other, _ in schedulers:
        if other is node:
            continue
        for inner in ast.walk(other):
            if inner is node or (
                item.variable is not None
                and isinstance(inner, ast.Name)
                and inner.id == item.variable
            ):
                return True
    return False


def _loops(script: ScriptNames, node: ast.AST) -> list[ast.AST]:
    """The loops enclosing ``node``, innermost first."""
    loops = []
    while node in script.parents:
        node = script.parents[node]
        if isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
            loops.append(node)
    return loops


def _step_calls(tree: ast.AST, variable: str | None) -> list[ast.Call]:
    if variable is None:
        return []
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "step"
        and dotted(node.func.value) == variable
    ]


def _scheduler_every(
    tree: ast.AST, script: ScriptNames, optimizer: Found, scheduler: Found
) -> tuple[int | None, int]:
    """1 where ``scheduler.step()`` shares the innermost loop of ``optimizer.step()``; None
    (ask) where it sits in an enclosing loop (once per epoch) or cannot be placed."""
    scheduler_steps = _step_calls(tree, scheduler.variable)
    optimizer_steps = _step_calls(tree, optimizer.variable)
    if len(scheduler_steps) != 1 or len(optimizer_steps) != 1:
        return (1, 0) if not scheduler_steps else (None, scheduler_steps[0].lineno)
    scheduler_loops = _loops(script, scheduler_steps[0])
    optimizer_loops = _loops(script, optimizer_steps[0])
    line = scheduler_steps[0].lineno
    if scheduler_loops[:1] == optimizer_loops[:1]:
        return 1, line
    return None, line


def with_settings(reading: ScriptReading, settings: Mapping[str, Any]) -> ScriptReading:
    """The reading with ``--set PATH=VALUE`` filled in (``AdamW.lr``, ``OneCycleLR.total_steps``;
    a bare key where one construction has it unresolved). Raises ``ValueError`` for a key that
    names nothing left to resolve."""
    left = reading.unresolved()
    replaced: dict[int, CallText] = {}
    for key, value in settings.items():
        matches = [
            (item, path) for item, path, _ in left if path == key or path.split(".", 1)[-1] == key
        ]
        if not matches:
            known = ", ".join(path for _, path, _ in left) or "nothing"
            raise ValueError(f"--set {key}: no such value bound at run time (left: {known})")
        if len(matches) > 1:
            raise ValueError(f"--set {key} is ambiguous: say {' or '.join(p for _, p in matches)}")
        item, path = matches[0]
        call = replaced.get(id(item), item.call)
        keyword = path.split(".", 1)[1] if "." in path else None
        if keyword is None or keyword not in call.kwargs:
            raise ValueError(
                f"--set {key}: {path} is not a keyword argument; paste the call with its value"
            )
        replaced[id(item)] = call._replace(kwargs={**call.kwargs, keyword: value})
    fields = {}
    for field in ("optimizer", "scheduler", "clip"):
        item = getattr(reading, field)
        if item is not None and id(item) in replaced:
            fields[field] = dataclasses.replace(item, call=replaced[id(item)])
    return dataclasses.replace(reading, **fields)


def report_lines(reading: ScriptReading) -> list[str]:
    """What was found, line by line, and what is bound at run time."""
    lines = [f"# {reading.filename}: read with ast, not run"]
    for item in reading.found():
        lines.append(f"found {item.describe()}")
    if reading.scheduler is not None:
        if reading.scheduler_every == 1:
            lines.append(
                "scheduler.step() runs once per optimizer step"
                + (
                    f" (line {reading.scheduler_every_line})"
                    if reading.scheduler_every_line
                    else " (assumed)"
                )
            )
        elif reading.scheduler_every is None:
            lines.append(
                f"scheduler.step() (line {reading.scheduler_every_line}) runs outside the "
                "optimizer's loop: how many optimizer steps per scheduler step is bound at run time"
            )
    for item, path, value in reading.unresolved():
        lines.append(
            f"unresolved: {reading.filename}:{value.line or item.line}: {path} = "
            f"{echo(value.source)[1:-1]} (bound at run time)"
        )
    return lines


def clip_arguments(reading: ScriptReading) -> dict[str, Any]:
    """``clip_grad_norm``, ``clip_norm_type`` or ``clip_grad_value`` for the port."""
    if reading.clip is None:
        return {}
    call = reading.clip.call
    if call.name == "clip_grad_norm_":
        arguments = {"clip_grad_norm": call.kwargs.get("max_norm")}
        if "norm_type" in call.kwargs:
            arguments["clip_norm_type"] = call.kwargs["norm_type"]
        return arguments
    return {"clip_grad_value": call.kwargs.get("clip_value")}


def scheduler_text(reading: ScriptReading) -> CallText | None:
    """The scheduler call without its optimizer argument."""
    if reading.scheduler is None:
        return None
    return torch_scheduler_text(reading.scheduler.call)


def optimizer_text(reading: ScriptReading) -> CallText:
    """The optimizer call with its params (or groups) as the first positional argument."""
    call = reading.optimizer.call
    if "params" not in call.kwargs:
        return call
    kwargs = dict(call.kwargs)
    params = kwargs.pop("params")
    return call._replace(args=(params,), kwargs=kwargs)
