"""Hostile port texts (issue 19, items 5-8): one line, exit 2, before any work is done.

Each case is refused by ``parser.error`` (the usage, then one error line naming
what is wrong), echoing at most about 200 characters of the input. Their time
and memory are measured in ``benchmarks/port_hostile.py``; here, behaviour.
"""

from __future__ import annotations

import os

import pytest

from jaxopt_lab import cli
from jaxopt_lab.port import call_text, command, script

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

EXAMPLES = int(os.environ.get("JAXOPT_LAB_EXAMPLES", "200"))
FUZZ = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example: a hostile text must fail fast, not merely fail
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",  # the same examples on every CI run
)

CASES = {
    "100,000 unary minuses": (["SGD(lr=" + "-" * 100_000 + "1)"], "longer than 4000 characters"),
    "20,000 nots": (["SGD(lr=" + "not " * 20_000 + "1)"], "longer than 4000 characters"),
    "30,000-term sum": (["SGD(lr=" + "+".join(["1"] * 30_000) + ")"], "longer than 4000"),
    "1,500-term sum": (["SGD(lr=" + "+".join(["1"] * 1500) + ")"], "nests deeper than 40 levels"),
    "3,900 unary minuses": (["SGD(lr=" + "-" * 3900 + "1)"], "nests too deeply"),
    "100,000-digit number": (["SGD(lr=" + "9" * 100_000 + ")"], "longer than 4000 characters"),
    "3,000-digit number": (["SGD(lr=" + "9" * 3000 + ")"], "an integer of more than 30 digits"),
    "a tower of powers": (["SGD(lr=10**10**10)"], "'10 ** 10 ** 10' has no finite value"),
    "a NUL": (["SGD(lr=1)\x00"], "holds a NUL character"),
    "betas of one": (["Adam(betas=(0.9,))"], "Adam: betas must be a pair of numbers, got '(0.9,)'"),
    "betas in a group": (["Adam([{'betas': 0.9}])"], "betas (param group 0) must be a pair"),
    "lr inf": (["SGD(lr=1e999)"], "a number that is not finite"),
    "StepLR(step_size=0)": (
        ["SGD(lr=0.1)", "--scheduler", "StepLR(step_size=0)"],
        "StepLR step_size must be an int >= 1, got 0",
    ),
    "CosineAnnealingLR(T_max=0)": (
        ["SGD(lr=0.1)", "--scheduler", "CosineAnnealingLR(T_max=0)"],
        "CosineAnnealingLR T_max must be an int >= 1, got 0",
    ),
    "nested T_max=0": (
        [
            "SGD(lr=0.1)",
            "--scheduler",
            "SequentialLR(schedulers=[CosineAnnealingLR(T_max=0)], milestones=[])",
        ],
        "CosineAnnealingLR T_max must be an int >= 1, got 0",
    ),
    "CyclicLR(step_size_up=0)": (
        ["SGD(lr=0.1)", "--scheduler", "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=0)"],
        "CyclicLR cannot be ported",
    ),
    "5,000 param groups": (
        ["SGD([" + ", ".join(["{}"] * 5000) + "], lr=0.1)"],
        "longer than 4000 characters",
    ),
    "65 param groups": (
        ["SGD([" + ", ".join(["{}"] * 65) + "], lr=0.1)"],
        "65 param groups; the port command builds at most 64",
    ),
    "partial": (
        ["SGD(lr=0.1)", "--scheduler", "partial(StepLR, 3)"],
        "has no scheduler 'partial' that the port covers",
    ),
    "ref": (["SGD(lr=0.1)", "--scheduler", "ref(1)"], "has no scheduler 'ref'"),
    "Counter": (["SGD(lr=0.1)", "--scheduler", "Counter()"], "has no scheduler 'Counter'"),
    "__class__": (["SGD(lr=0.1)", "--scheduler", "__class__()"], "has no scheduler '__class__'"),
    "a Keras function as a schedule": (
        ["Adam(learning_rate=serialize(1))", "--from", "keras"],
        "keras.optimizers.schedules has no schedule 'serialize'",
    ),
    "a torch scheduler base class": (
        ["SGD(lr=0.1)", "--scheduler", "LRScheduler()"],
        "has no scheduler 'LRScheduler' that the port covers",
    ),
    "an attribute of a call": (["SGD(lr=(0).real)"], "is not a literal"),
    "OneCycleLR past its end": (
        [
            "SGD(lr=0.1, momentum=0.9)",
            "--scheduler",
            "OneCycleLR(max_lr=1.0, total_steps=10)",
            "--steps",
            "50",
        ],
        "OneCycleLR ends after 10 scheduler steps",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_port_text_gets_one_line_and_exit_2(torch, keras, capsys, name):
    argv, message = CASES[name]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["port", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    usage, error = err.rstrip("\n").rsplit("\n", 1)
    assert usage.startswith("usage: jaxopt-lab port")
    assert error.startswith("jaxopt-lab port: error: ") and message in error
    assert len(error) < 600  # the input is echoed to about 200 characters, not whole


def test_echo_keeps_about_200_characters():
    assert call_text.echo("x" * 10) == "'xxxxxxxxxx'"
    echoed = call_text.echo("y" * 100_000)
    assert len(echoed) < call_text.ECHO + 30 and echoed.endswith("(100000 characters)")


def test_the_step_count_of_a_huge_one_cycle_is_not_tabulated(torch, capsys):
    status = cli.main(
        [
            "port",
            "SGD(lr=0.1, momentum=0.9)",
            "--scheduler",
            "OneCycleLR(max_lr=1.0, total_steps=10**12)",
            "--steps",
            "5",
        ]
    )
    assert status == 0
    assert "torch.optim.lr_scheduler.OneCycleLR" not in capsys.readouterr().err


def test_groups_are_read_in_one_pass(torch):
    prepared = command.prepare(
        "SGD(["
        + ", ".join("{'lr': %g}" % (0.01 * (i + 1)) for i in range(command.MAX_GROUPS))
        + "])",
        steps=5,
    )
    torch_groups = prepared.live[0].param_groups
    assert len(torch_groups) == command.MAX_GROUPS
    assert all(len(group["params"]) == 2 for group in torch_groups)
    assert [group["lr"] for group in torch_groups[:3]] == [0.01, 0.02, 0.03]


# --------------------------------------------------------------------------- fuzzing

_PIECES = st.sampled_from(
    [
        "SGD",
        "AdamW",
        "torch.optim.",
        "lr_scheduler.",
        "keras.optimizers.",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        "=",
        "lr",
        "betas",
        "params",
        "'lr'",
        ":",
        "-",
        "not ",
        "+",
        "*",
        "**",
        ".",
        "1",
        "0.9",
        "1e999",
        "10",
        "None",
        "True",
        "x",
        "model.parameters()",
        "lambda: 0",
        "\n",
        " ",
        "\\",
        "'",
        '"',
        "#",
        "@",
        "__class__",
        "\x00",
        "é",
    ]
)
CALL_LIKE = st.lists(_PIECES, max_size=60).map("".join)
REPEATED = st.tuples(st.text(max_size=5), st.integers(0, 5000), st.text(max_size=5)).map(
    lambda t: "SGD(lr=" + t[0] * t[1] + t[2] + ")"
)
TEXTS = st.one_of(st.text(max_size=300), CALL_LIKE, REPEATED)


def _one_line(error: ValueError) -> None:
    message = str(error)
    assert "\n" not in message and len(message) < 800, message


@FUZZ
@hypothesis.given(TEXTS)
def test_fuzzed_call_texts_parse_or_fail_in_one_line(text):
    try:
        parsed = call_text.parse_call(text)
        for role in (
            call_text.torch_optimizer_text,
            call_text.torch_scheduler_text,
            call_text.keras_text,
        ):
            try:
                call_text.refuse_unresolved(role(parsed), text, "optimizer")
            except ValueError as error:
                _one_line(error)
        call_text.unparse(parsed)
    except ValueError as error:
        _one_line(error)


@FUZZ
@hypothesis.given(TEXTS)
def test_fuzzed_values_and_scripts_read_or_fail_in_one_line(text):
    for read in (call_text.parse_value, lambda t: script.read_script(t, filename="fuzz.py")):
        try:
            read(text)
        except ValueError as error:
            _one_line(error)


def test_the_library_port_caps_its_param_groups(torch):
    from jaxopt_lab import port
    from jaxopt_lab.port.torch_optimizers import MAX_PARAM_GROUPS

    tensors = [torch.zeros(1) for _ in range(MAX_PARAM_GROUPS + 1)]
    optimizer = torch.optim.SGD([{"params": [t]} for t in tensors], lr=0.1)
    message = f"{MAX_PARAM_GROUPS + 1} param groups; the port builds at most {MAX_PARAM_GROUPS}"
    with pytest.raises(port.PortError, match=message):
        port.from_torch(optimizer, group_of=lambda path: 0)
