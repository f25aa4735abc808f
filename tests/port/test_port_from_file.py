"""``jaxopt-lab port --from-file``: a training script read through its syntax tree (issue 20, 1).

Three small scripts are kept beside this file (``port_scripts/``): a plain one,
one with param groups and a scheduler, one whose values are bound at run time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jaxopt_lab import cli
from jaxopt_lab.port import script
from jaxopt_lab.port.call_text import Unresolved

SCRIPTS = Path(__file__).parent / "port_scripts"


def _read(name: str) -> script.ScriptReading:
    path = SCRIPTS / name
    return script.read_script(path.read_text(), filename=name)


def _port(capsys, *argv):
    try:
        status = cli.main(["port", *argv])
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_plain_script_finds_the_optimizer_and_its_clipping():
    reading = _read("plain.py")
    assert script.optimizer_text(reading).kwargs == {"lr": 3e-4, "weight_decay": 0.1}
    assert reading.optimizer.line == 7 and reading.scheduler is None
    assert script.clip_arguments(reading) == {"clip_grad_norm": 1.0}
    assert reading.unresolved() == [] and reading.requests() == []


def test_groups_and_scheduler_script_reads_names_assigned_once():
    reading = _read("groups_scheduler.py")
    optimizer = script.optimizer_text(reading)
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.args[0]]
    assert groups == [{"weight_decay": 1e-4}, {"weight_decay": 0.0, "lr": 0.005}]  # BASE_LR / 10
    assert optimizer.kwargs == {"lr": 0.05, "momentum": 0.9, "nesterov": True}
    scheduler = script.scheduler_text(reading)
    assert scheduler.name == "SequentialLR" and scheduler.kwargs["milestones"] == [10]
    assert [sub.name for sub in scheduler.kwargs["schedulers"]] == ["LinearLR", "CosineAnnealingLR"]
    assert reading.scheduler_every == 1  # scheduler.step() beside optimizer.step()
    assert script.clip_arguments(reading) == {"clip_grad_value": 0.5}


def test_unresolved_script_names_what_is_bound_at_run_time():
    reading = _read("unresolved.py")
    left = {path: (value.source, value.line) for _, path, value in reading.unresolved()}
    assert left == {
        "Adam.lr": ("args.lr", 14),
        "OneCycleLR.max_lr": ("args.lr", 15),
        "OneCycleLR.total_steps": ("len(loader) * 4", 15),
    }
    filled = script.with_settings(
        reading, {"Adam.lr": 1e-3, "max_lr": 1e-2, "OneCycleLR.total_steps": 200}
    )
    assert filled.unresolved() == []
    assert script.scheduler_text(filled).kwargs == {"max_lr": 1e-2, "total_steps": 200}
    with pytest.raises(ValueError, match="--set momentum: no such value"):
        script.with_settings(reading, {"momentum": 0.9})


@pytest.mark.parametrize("name", ["plain.py", "groups_scheduler.py"])
def test_from_file_ports_the_script_and_proves_it(torch, capsys, name):
    status, out, _ = _port(capsys, "--from-file", str(SCRIPTS / name), "--steps", "20")
    assert status == 0
    assert "read with ast, not run" in out and "within the bound of 1 ulp" in out
    if name == "groups_scheduler.py":
        assert "port.param_groups(" in out and "SequentialLR(" in out
        assert "port.clip_grad_value(0.5)" in out


def test_from_file_asks_in_one_line_for_what_it_cannot_resolve(torch, capsys):
    status, out, err = _port(capsys, "--from-file", str(SCRIPTS / "unresolved.py"))
    assert status == 2
    assert "unresolved: " in out and "Adam.lr = args.lr (bound at run time)" in out
    error = err.rstrip("\n").splitlines()[-1]
    assert error == (
        f"jaxopt-lab port: error: {SCRIPTS / 'unresolved.py'} binds these at run time; give "
        "them: --set Adam.lr=VALUE --set OneCycleLR.max_lr=VALUE "
        "--set OneCycleLR.total_steps=VALUE"
    )
    status, out, _ = _port(
        capsys,
        "--from-file",
        str(SCRIPTS / "unresolved.py"),
        "--set",
        "Adam.lr=1e-3",
        "--set",
        "max_lr=1e-2",
        "--set",
        "total_steps=20",
        "--steps",
        "20",
    )
    assert status == 0 and "OneCycleLR(max_lr=0.01, total_steps=20)" in out


def test_a_scheduler_stepped_per_epoch_asks_for_the_steps_per_epoch(tmp_path):
    source = (
        "import torch\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "sched = torch.optim.lr_scheduler.StepLR(opt, 3)\n"
        "for epoch in range(10):\n"
        "    for batch in loader:\n"
        "        opt.step()\n"
        "    sched.step()\n"
    )
    reading = script.read_script(source, filename="epochs.py")
    assert reading.scheduler_every is None and reading.scheduler_every_line == 7
    assert reading.requests() == ["--scheduler-every N"]
    assert script.scheduler_text(reading).kwargs == {"step_size": 3}


def test_the_script_is_never_run(tmp_path, capsys):
    sentinel = tmp_path / "ran"
    path = tmp_path / "train.py"
    path.write_text(
        f"open({str(sentinel)!r}, 'w').write('ran')\n"
        "import torch\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=LR)\n"
        f"raise SystemExit(open({str(sentinel)!r}, 'w'))\n"
    )
    status, _, err = _port(capsys, "--from-file", str(path))
    assert status == 2 and "--set SGD.lr=VALUE" in err
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = 1\n", "no torch.optim or keras.optimizers construction found"),
        (
            "import torch\na = torch.optim.SGD(p, lr=1)\nb = torch.optim.Adam(p)\n",
            "2 optimizer constructions (lines 2, 3)",
        ),
        ("def f(:\n", "is not valid Python"),
        ("x = " + "(" * 300 + ")" * 300 + "\n", "(line 1): too many nested parentheses"),
        ("x = " + "-" * 100_000 + "1\n", "nests too deeply for Python's parser"),
        ("x = " + "+".join(["1"] * 1000) + "\n", "nests deeper than 200 levels"),
        (
            "import torch\no = torch.optim.SGD(p, lr=1)\n"
            + "s = torch.optim.lr_scheduler.StepLR(o, 1)\n" * 5000,
            "more than 32 scheduler constructions",
        ),
    ],
)
def test_scripts_the_port_cannot_read_are_refused_in_one_line(tmp_path, capsys, source, message):
    path = tmp_path / "train.py"
    path.write_text(source)
    status, _, err = _port(capsys, "--from-file", str(path))
    assert status == 2
    assert message in err.rstrip("\n").splitlines()[-1]


def test_files_that_are_not_scripts_are_refused(tmp_path, capsys):
    for path, message in [
        (tmp_path, "is not a regular file"),
        (tmp_path / "missing.py", "No such file"),
        (Path("/dev/zero"), "is not a regular file"),
    ]:
        status, _, err = _port(capsys, "--from-file", str(path))
        assert status == 2 and message in err.splitlines()[-1]
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * (script.MAX_SCRIPT_BYTES + 1))
    status, _, err = _port(capsys, "--from-file", str(big))
    assert status == 2 and "at most 256000 are read" in err.splitlines()[-1]
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    status, _, err = _port(capsys, "--from-file", str(binary))
    assert status == 2 and "is not UTF-8 text" in err.splitlines()[-1]


def test_imports_qualify_names_and_unknown_calls_are_run_time_values():
    source = (
        "from torch import optim\n"
        "import torch.optim.lr_scheduler as sched\n"
        "from torch.nn.utils import clip_grad_norm_ as clip\n"
        "LR = 2 * 1e-3\n"
        "o = optim.Adam(net.parameters(), LR, betas=(0.8, 0.99), eps=get_eps())\n"
        "s = sched.ExponentialLR(o, gamma=0.95)\n"
        "clip(net.parameters(), 5.0, norm_type=1.0)\n"
    )
    reading = script.read_script(source, filename="t.py")
    optimizer = script.optimizer_text(reading)
    assert optimizer.kwargs["lr"] == 2e-3 and optimizer.kwargs["betas"] == (0.8, 0.99)
    assert optimizer.kwargs["eps"] == Unresolved("get_eps()")
    assert script.scheduler_text(reading).kwargs == {"gamma": 0.95}
    assert script.clip_arguments(reading) == {"clip_grad_norm": 5.0, "clip_norm_type": 1.0}


def test_a_keras_script_is_ported_from_keras(keras, tmp_path, capsys):
    path = tmp_path / "train_keras.py"
    path.write_text(
        "from tensorflow import keras\n"
        "decay = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)\n"
        "model.compile(optimizer=keras.optimizers.AdamW(learning_rate=decay, "
        "weight_decay=0.01, global_clipnorm=1.0))\n"
    )
    status, out, _ = _port(capsys, "--from-file", str(path), "--steps", "10")
    assert status == 0
    assert "port.keras_schedules.ExponentialDecay(" in out and "within the bound" in out


def test_a_long_chain_of_names_is_not_followed_to_a_recursion_error():
    chain = "".join(f"n{i} = n{i + 1}\n" for i in range(5000)) + "n5000 = 0.1\n"
    source = "import torch\n" + chain + "opt = torch.optim.SGD(p, lr=n0)\n"
    reading = script.read_script(source, filename="chain.py")
    assert [path for _, path, _ in reading.unresolved()] == ["SGD.lr"]
    short = "import torch\na = b\nb = 0.1\nopt = torch.optim.SGD(p, lr=a)\n"
    assert script.optimizer_text(script.read_script(short, filename="s.py")).kwargs == {"lr": 0.1}
