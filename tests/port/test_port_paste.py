"""The port takes the library's line as pasted from a script (issue 20, item 1).

Each form is ported and its recipe compared with the recipe of the bare form the
port took before (the same lab code, so the same numbers); one of each library
also runs against the live library.
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxopt_lab import cli
from jaxopt_lab.port import command
from jaxopt_lab.port.call_text import CallText, Unresolved, parse_call, torch_optimizer_text


def test_qualified_names_and_an_assignment_parse_to_the_class_name():
    for text, module in [
        ("torch.optim.AdamW(model.parameters(), lr=3e-4)", "torch.optim"),
        ("optim.AdamW(params, lr=3e-4)", "optim"),
        ("optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)", "torch.optim"),
    ]:
        parsed = parse_call(text)
        assert (parsed.name, parsed.module, parsed.kwargs) == ("AdamW", module, {"lr": 3e-4})
    scheduler = parse_call(
        "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=2000)"
    )
    assert scheduler.qualified == "torch.optim.lr_scheduler.OneCycleLR"
    assert scheduler.args == (Unresolved("optimizer", 1),)
    keras = parse_call("tf.keras.optimizers.schedules.CosineDecay(1e-3, 10**3)")
    assert (keras.module, keras.args) == ("tf.keras.optimizers.schedules", (1e-3, 1000))


def test_the_params_are_skipped_and_groups_keep_their_hyperparameters():
    plain = torch_optimizer_text(parse_call("optim.AdamW(params, 3e-4, weight_decay=0.1)"))
    assert (plain.groups, plain.args, plain.kwargs) == (None, (3e-4,), {"weight_decay": 0.1})
    grouped = torch_optimizer_text(
        parse_call(
            "torch.optim.SGD([{'params': model.fc.parameters(), 'lr': 1e-2}, "
            "{'params': rest, 'momentum': 0.9}], lr=0.1)"
        )
    )
    assert grouped.groups == [{"lr": 1e-2}, {"momentum": 0.9}]
    with pytest.raises(ValueError, match="first positional argument is the params"):
        torch_optimizer_text(parse_call("SGD(0.1)"))
    with pytest.raises(ValueError, match="expected torch.optim.AdamW"):
        torch_optimizer_text(parse_call("os.path.AdamW(lr=1)"))


def _same_recipe(pasted: str, bare: str, scheduler_pasted=None, scheduler_bare=None, **kwargs):
    ours = command.prepare(pasted, scheduler_pasted, steps=20, **kwargs)
    theirs = command.prepare(bare, scheduler_bare, steps=20, **kwargs)
    assert ours.recipe.code() == theirs.recipe.code()
    return ours


@pytest.mark.parametrize(
    "pasted, bare",
    [
        ("torch.optim.AdamW(model.parameters(), lr=3e-4)", "AdamW(lr=3e-4)"),
        ("optim.AdamW(params, lr=3e-4)", "AdamW(lr=3e-4)"),
        (
            "optimizer = optim.SGD(net.parameters(), 0.05, momentum=0.9)",
            "SGD(lr=0.05, momentum=0.9)",
        ),
        (
            "torch.optim.SGD([{'params': a.parameters(), 'lr': 1e-2}, {'params': b}], lr=0.1)",
            "SGD([{'lr': 1e-2}, {}], lr=0.1)",
        ),
    ],
)
def test_pasted_torch_optimizers_port_as_the_bare_call(torch, pasted, bare):
    _same_recipe(pasted, bare)


def test_pasted_torch_scheduler_skips_its_optimizer(torch):
    prepared = _same_recipe(
        "torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
        "SGD(lr=0.1, momentum=0.9)",
        "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=2000)",
        "OneCycleLR(max_lr=1e-3, total_steps=2000)",
    )
    assert "OneCycleLR(max_lr=0.001, total_steps=2000)" in prepared.recipe.code()
    _same_recipe(
        "SGD(lr=0.1)",
        "SGD(lr=0.1)",
        "lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt, 0.1, total_iters=5), "
        "lr_scheduler.ExponentialLR(opt, gamma=0.9)], milestones=[5])",
        "SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=5), "
        "ExponentialLR(gamma=0.9)], milestones=[5])",
    )


def test_pasted_keras_lines_port_as_the_bare_call(keras):
    ours = command.prepare("keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01)")
    theirs = command.prepare("AdamW(learning_rate=1e-3, weight_decay=0.01)", library="keras")
    assert ours.recipe.code() == theirs.recipe.code()
    ours = command.prepare(
        "tf.keras.optimizers.Adam(learning_rate=tf.keras.optimizers.schedules.CosineDecay("
        "1e-3, 100))"
    )
    theirs = command.prepare("Adam(learning_rate=CosineDecay(1e-3, 100))", library="keras")
    assert ours.recipe.code() == theirs.recipe.code()
    with pytest.raises(ValueError, match="is a keras class, but --from torch"):
        command.prepare("keras.optimizers.Adam()", library="torch")


def test_pasted_line_runs_against_torch_on_the_command_line(torch, capsys):
    status = cli.main(
        [
            "port",
            "optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)",
            "--scheduler",
            "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=2000)",
            "--steps",
            "20",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert "# optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4) + " in output
    assert "within the bound of 1 ulp" in output


def test_a_name_bound_at_run_time_is_refused_in_a_pasted_line(torch):
    with pytest.raises(ValueError, match="'args.lr' .*is not a literal"):
        command.prepare("torch.optim.AdamW(model.parameters(), lr=args.lr)")
    with pytest.raises(ValueError, match=r"cfg\['lr'\]\" \(AdamW group 0 lr\) is not a literal"):
        command.prepare("AdamW([{'params': p, 'lr': cfg['lr']}])")


def test_a_pasted_call_is_data_not_code():
    parsed = parse_call("torch.optim.AdamW(os.system('false'), lr=1.0)")
    assert isinstance(parsed, CallText)
    assert np.isclose(parsed.kwargs["lr"], 1.0)
    assert parsed.args[0].name == "system"  # read, never called
