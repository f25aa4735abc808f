"""The port against the live torch.optim and Keras: the matrix, clipping, groups, code, errors.

Tolerances: 1 ulp of each leaf's scale per step in float32 (the tests hold most
cases to 16 ulps flat) and a relative error of 1e-12 in float64, where a wrong
convention shows at once (the matrix measures at most 9.4e-16 over 1000 steps;
``jaxopt-lab port --matrix``). The tests run the whole matrix, each case once, for
1000 steps in both dtypes, as the README's table does; the cases outside
``matrix.SAMPLE`` are marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import cli, crosscheck, port
from jaxopt_lab.port import command, conventions, matrix

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_KERAS = importlib.util.find_spec("keras") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
needs_keras = pytest.mark.skipif(not HAS_KERAS, reason="keras is not installed")


def _available(case: matrix.PortCase) -> bool:
    return HAS_TORCH if case.library == "torch" else HAS_KERAS and HAS_TORCH


def _layer_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((8, 16)), "b": rng.standard_normal(16)}


def _case_id(case: matrix.PortCase) -> str:
    return case.label[:70]


# --------------------------------------------------------------------------- the matrix


def _matrix_param(case: matrix.PortCase):
    """Every case once; those outside the sample are ``slow`` (CI runs them all)."""
    marks = () if case in matrix.SAMPLE else (pytest.mark.slow,)
    return pytest.param(case, id=_case_id(case), marks=marks)


@pytest.mark.parametrize("case", [_matrix_param(case) for case in matrix.CASES])
def test_matrix_case_agrees_for_1000_steps_in_both_dtypes(case):
    # Each case is run once, at the matrix's full length, in both dtypes: compiling
    # dominates (1000 steps cost about what 100 do), so no shorter rerun is kept.
    if not _available(case):
        pytest.skip(f"{case.library} is not installed")
    for _, result in matrix.run_matrix([case], steps=1000):
        comparison = result.comparison
        assert result.failure is None, f"{comparison.dtype}: {result.failure}"
        if comparison.dtype == np.float64:
            assert comparison.max_rel_error.max() <= case.float64_rtol
        else:
            bound = case.float32_ulps or matrix.FLOAT32_ULPS
            assert comparison.max_scaled_ulps.max() <= bound, comparison.max_scaled_ulps.max()


# --------------------------------------------------------------------------- clipping


def _torch_clip(grads, **clip):
    import torch

    tensors = [
        torch.zeros(g.shape, dtype=torch.float64 if g.dtype == np.float64 else None) for g in grads
    ]
    for tensor, grad in zip(tensors, grads):
        tensor.grad = torch.tensor(grad)
    if "max_norm" in clip:
        torch.nn.utils.clip_grad_norm_(tensors, clip["max_norm"], clip.get("norm_type", 2.0))
    else:
        torch.nn.utils.clip_grad_value_(tensors, clip["clip_value"])
    return [t.grad.numpy() for t in tensors]


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "max_norm, norm_type", [(1.0, 2.0), (0.3, float("inf")), (5.0, 1.0), (2.0, 3.0), (1e3, 2.0)]
)
def test_clip_grad_norm_is_torch(dtype, max_norm, norm_type):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(shape).astype(dtype) for shape in [(16, 8), (16,), (3,)]]
    expected = _torch_clip(grads, max_norm=max_norm, norm_type=norm_type)
    with jax.enable_x64(dtype == np.float64):
        clip = port.clip_grad_norm(max_norm, norm_type)
        got, _ = jax.jit(clip.update)([jnp.asarray(g) for g in grads], clip.init(None))
        for ours, theirs in zip(got, expected):
            # The same coefficient times each gradient, up to the order in which torch
            # and XLA sum the norms (a 128-term sum: a few roundings).
            error = crosscheck.normwise_relative_error(np.asarray(ours), theirs)
            assert error <= 16 * np.finfo(dtype).eps


@needs_torch
def test_clip_grad_norm_scales_just_below_the_threshold_as_torch_does():
    # ||g|| = 1 exactly: torch multiplies by 1 / (1 + 1e-6); optax leaves g alone.
    grads = [np.array([0.6, 0.8], np.float64)]
    expected = _torch_clip(grads, max_norm=1.0)[0]
    with jax.enable_x64(True):
        ours, _ = port.clip_grad_norm(1.0).update([jnp.asarray(grads[0])], optax.EmptyState())
        theirs, _ = optax.clip_by_global_norm(1.0).update(
            [jnp.asarray(grads[0])], optax.EmptyState()
        )
    np.testing.assert_allclose(np.asarray(ours[0]), expected, rtol=1e-15)
    assert np.all(expected < grads[0])
    np.testing.assert_array_equal(np.asarray(theirs[0]), grads[0])


@needs_torch
def test_clip_grad_value_is_torch():
    grads = [np.random.default_rng(1).standard_normal((5, 7)).astype(np.float32)]
    expected = _torch_clip(grads, clip_value=0.3)
    clip = port.clip_grad_value(0.3)
    got, _ = clip.update([jnp.asarray(grads[0])], clip.init(None))
    np.testing.assert_array_equal(np.asarray(got[0]), expected[0])


@needs_keras
@pytest.mark.parametrize(
    "keras_clip, ours",
    [
        ({"clipnorm": 0.5}, port.keras_clipnorm(0.5)),
        ({"global_clipnorm": 2.0}, port.keras_global_clipnorm(2.0)),
        ({"clipvalue": 0.2}, port.keras_clipvalue(0.2)),
    ],
)
def test_keras_clipping_is_keras(keras_clip, ours):
    keras = crosscheck.import_keras()
    params = _layer_params()
    gradients = crosscheck.random_gradients(params, 20, scale=3.0)
    result = crosscheck.compare(
        optax.chain(ours, jaxopt_lab.sgd(float(np.float32(0.1)))),
        keras.optimizers.SGD(learning_rate=0.1, **keras_clip),
        params,
        gradients,
        dtype=np.float32,
    )
    assert np.all(result.max_ulp_distance == 0)  # the same ops, compiled by the same XLA


def test_clipping_rejects_bad_thresholds():
    for make in (
        port.clip_grad_norm,
        port.clip_grad_value,
        port.keras_clipnorm,
        port.keras_global_clipnorm,
        port.keras_clipvalue,
    ):
        with pytest.raises(ValueError, match="must be > 0"):
            make(0.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        port.clip_grad_norm(1.0, norm_type=0)


# --------------------------------------------------------------------------- groups and code


def _torch_two_groups():
    import torch

    tensors = [torch.zeros(16, 8), torch.zeros(16), torch.zeros(16, 8), torch.zeros(16)]
    optimizer = torch.optim.AdamW(
        [{"params": tensors[:2]}, {"params": tensors[2:], "weight_decay": 0.0, "lr": 1e-3}],
        lr=3e-4,
        betas=(0.9, 0.95),
        weight_decay=0.1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[1e-3, 2e-3], total_steps=100
        )
    return optimizer, scheduler


PARAMS = {
    "block0": {"kernel": np.ones((16, 8)), "bias": np.zeros(16)},
    "block1": {"kernel": np.ones((16, 8)), "bias": np.zeros(16)},
}
GROUPS = {"block0": {"kernel": 0, "bias": 0}, "block1": {"kernel": 1, "bias": 1}}


@needs_torch
def test_group_of_as_key_path_function_equals_the_pytree():
    def by_path(path):
        return int(path[0].key[-1])

    optimizer, scheduler = _torch_two_groups()
    from_tree = port.from_torch(optimizer, scheduler, clip_grad_norm=1.0, group_of=GROUPS)
    from_function = port.from_torch(optimizer, scheduler, clip_grad_norm=1.0, group_of=by_path)
    gradients = crosscheck.random_gradients(PARAMS, 30)
    result = crosscheck.compare(from_tree, from_function, PARAMS, gradients, dtype=np.float32)
    assert np.all(result.max_ulp_distance == 0)


@needs_torch
def test_group_of_must_name_a_group():
    optimizer, scheduler = _torch_two_groups()
    bad = {"block0": {"kernel": 0, "bias": 2}, "block1": {"kernel": 1, "bias": 1}}
    transformation = port.from_torch(optimizer, scheduler, group_of=bad)
    with pytest.raises(ValueError, match=r"gives 2 for the leaf at \['block0'\]\['bias'\]"):
        transformation.init(PARAMS)


@needs_torch
def test_printed_code_builds_the_same_transformation():
    optimizer, scheduler = _torch_two_groups()
    recipe = port.torch_recipe(optimizer, scheduler, clip_grad_norm=1.0, group_of=GROUPS)
    code = recipe.code()
    assert code.startswith("import optax\nimport jaxopt_lab\nfrom jaxopt_lab import port\n")
    assert "group_of = {'block0': {'kernel': 0, 'bias': 0}" in code
    namespace: dict = {}
    exec(compile(code, "<port>", "exec"), namespace)  # the code we generated, not user text
    gradients = crosscheck.random_gradients(PARAMS, 50)
    result = crosscheck.compare(
        namespace["optimizer"], recipe.build(), PARAMS, gradients, dtype=np.float32
    )
    assert np.all(result.max_ulp_distance == 0)


@needs_keras
def test_printed_keras_code_builds_the_same_transformation():
    keras = crosscheck.import_keras()
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, 50, warmup_target=2e-3, warmup_steps=10)
    recipe = port.keras_recipe(keras.optimizers.AdamW(learning_rate=schedule, clipnorm=1.0))
    namespace: dict = {}
    exec(compile(recipe.code(), "<port>", "exec"), namespace)
    params = _layer_params()
    result = crosscheck.compare(
        namespace["optimizer"],
        recipe.build(),
        params,
        crosscheck.random_gradients(params, 30),
        dtype=np.float32,
    )
    assert np.all(result.max_ulp_distance == 0)


def test_port_imports_without_torch_or_keras():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'keras'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import jaxopt_lab.port as port\n"
        "from jaxopt_lab.port import torch_schedules\n"
        "s = port.torch_schedule(torch_schedules.OneCycleLR(max_lr=1e-3, total_steps=10),\n"
        "                        [{'lr': 1e-3, 'betas': (0.9, 0.99)}])\n"
        "print(float(s.lr[0](3)), float(s.momentum[0](3)))\n"
    )
    output = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    lr, momentum = map(float, output.stdout.split())
    assert 4e-5 < lr < 1e-3 and 0.85 < momentum < 0.95


# --------------------------------------------------------------------------- errors


@needs_torch
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t, torch: torch.optim.Muon([torch.zeros(3, 2)]), "Muon cannot be ported exactly"),
        (lambda t, torch: torch.optim.ASGD(t), "ASGD cannot be ported exactly"),
        (lambda t, torch: torch.optim.Adam(t, lr=torch.tensor(1e-3)), "lr given as a Tensor"),
    ],
)
def test_torch_settings_the_port_cannot_reproduce_are_named(make, message):
    import torch

    with pytest.raises(port.PortError, match=message):
        port.from_torch(make([torch.zeros(3)], torch))


@needs_torch
@pytest.mark.parametrize(
    "make",
    [
        lambda t, torch: torch.optim.Adam(t, lr=1e-2, weight_decay=0.1, maximize=True),
        lambda t, torch: torch.optim.AdamW(t, lr=1e-2, betas=(0.8, 0.9)),
        lambda t, torch: torch.optim.RMSprop(t, lr=1e-2, momentum=0.5, centered=True),
        lambda t, torch: torch.optim.Adagrad(t, lr=0.1, lr_decay=0.01),
        lambda t, torch: torch.optim.SGD(t, lr=0.1, momentum=0.9, dampening=0.2),
    ],
)
def test_complex_params_follow_torch(make):
    # torch treats a complex parameter as pairs of reals (view_as_real); the port
    # passes complex_convention="torch" to the lab optimizers. 60 steps, complex128.
    import torch

    rng = np.random.default_rng(3)
    start = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    grads = rng.standard_normal((60, 5)) + 1j * rng.standard_normal((60, 5))
    tensor = torch.tensor(start.copy())
    optimizer = make([tensor], torch)
    transformation = port.from_torch(make([torch.zeros(5, dtype=torch.complex128)], torch))
    with jax.enable_x64(True):
        params = jnp.asarray(start)
        state = transformation.init(params)
        step = jax.jit(transformation.update)
        for grad in grads:
            tensor.grad = torch.tensor(grad)
            optimizer.step()
            updates, state = step(jnp.asarray(grad), state, params)
            params = optax.apply_updates(params, updates)
        ours = np.asarray(params)
    theirs = tensor.detach().numpy()
    assert np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)) <= 1e-12


@needs_torch
def test_an_unknown_torch_option_is_named():
    import torch

    optimizer = torch.optim.SGD([torch.zeros(3)], lr=0.1)
    optimizer.defaults["new_option"] = 1.0
    optimizer.param_groups[0]["new_option"] = 1.0
    with pytest.raises(port.PortError, match="option 'new_option'"):
        port.from_torch(optimizer)


@needs_torch
def test_torch_state_and_scheduler_mistakes_are_named():
    import torch

    L = torch.optim.lr_scheduler
    tensor = torch.zeros(3)
    optimizer = torch.optim.SGD([tensor], lr=0.1, momentum=0.9)
    tensor.grad = torch.ones(3)
    optimizer.step()
    with pytest.raises(port.PortError, match="has already stepped"):
        port.from_torch(optimizer)

    optimizer = torch.optim.SGD([torch.zeros(3)], lr=0.1)
    scheduler = L.StepLR(optimizer, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scheduler.step()
    with pytest.raises(port.PortError, match=r"StepLR has already stepped \(last_epoch=1\)"):
        port.from_torch(optimizer, scheduler, steps=10)

    optimizer = torch.optim.SGD([torch.zeros(3)], lr=0.1)
    scheduler = L.LinearLR(optimizer, 0.5)
    optimizer.param_groups[0]["lr"] = 0.3
    with pytest.raises(port.PortError, match="another scheduler or a manual change"):
        port.from_torch(optimizer, scheduler)

    optimizer = torch.optim.SGD([torch.zeros(3)], lr=0.1)  # no steps=: the closed form
    port.from_torch(optimizer, L.ExponentialLR(optimizer, 0.9))
    with pytest.raises(PortErrorOrValue, match="LambdaLR cannot be ported"):
        optimizer = torch.optim.SGD([torch.zeros(3)], lr=0.1)
        port.from_torch(optimizer, L.LambdaLR(optimizer, lambda epoch: 1.0))
    other = torch.optim.SGD([torch.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="does not belong to this optimizer"):
        port.from_torch(torch.optim.SGD([torch.zeros(3)], lr=0.1), L.StepLR(other, 3), steps=9)


PortErrorOrValue = (port.PortError, ValueError)


@needs_torch
def test_torch_argument_mistakes_are_named():
    import torch

    two = torch.optim.SGD([{"params": [torch.zeros(2)]}, {"params": [torch.zeros(2)]}], lr=0.1)
    with pytest.raises(ValueError, match="has 2 param groups: give group_of"):
        port.from_torch(two)
    one = torch.optim.SGD([torch.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="clip_grad_norm or clip_grad_value, not both"):
        port.from_torch(one, clip_grad_norm=1.0, clip_grad_value=1.0)
    with pytest.raises(ValueError, match="scheduler_every=2 given without a scheduler"):
        port.from_torch(one, scheduler_every=2)
    with pytest.raises(TypeError, match="must be a torch.optim optimizer"):
        port.from_torch(optax.adam(1e-3))


@needs_keras
@pytest.mark.parametrize(
    "settings, message",
    [
        ({"use_ema": True}, r"use_ema=True\) is not covered"),
        ({"gradient_accumulation_steps": 2}, "gradient_accumulation_steps"),
        ({"loss_scale_factor": 128.0}, "loss_scale_factor"),
    ],
)
def test_keras_settings_the_port_cannot_reproduce_are_named(settings, message):
    keras = crosscheck.import_keras()
    with pytest.raises(port.PortError, match=message):
        port.from_keras(keras.optimizers.Adam(**settings))


@needs_keras
def test_keras_muon_sends_embeddings_and_vectors_to_adamw():
    # Keras's Muon steps a variable whose path holds "embedding" (and any non-matrix)
    # with AdamW; the port applies the rule to the JAX key path. float64, 40 steps.
    keras = crosscheck.import_keras()
    rng = np.random.default_rng(5)
    shapes = {"dense": (16, 8), "embedding": (12, 4), "bias": (8,)}
    start = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    grads = {name: rng.standard_normal((40, *shape)) for name, shape in shapes.items()}
    optimizer = keras.optimizers.Muon(learning_rate=1e-2, weight_decay=0.01, adam_weight_decay=0.1)
    transformation = port.from_keras(optimizer)
    with jax.enable_x64(True):
        names = sorted(shapes)
        variables = [keras.Variable(start[n], name=n, dtype="float64") for n in names]
        live = optimizer.__class__.from_config(optimizer.get_config())
        live.build(variables)
        values = [v.value for v in variables]
        slots = [v.value for v in live.variables]
        params = {n: jnp.asarray(start[n]) for n in names}
        state = transformation.init(params)
        for step in range(40):
            values, slots = live.stateless_apply(
                slots, [jnp.asarray(grads[n][step]) for n in names], values
            )
            updates, state = transformation.update(
                {n: jnp.asarray(grads[n][step]) for n in names}, state, params
            )
            params = optax.apply_updates(params, updates)
        for name, value in zip(names, values):
            # Keras takes the Newton-Schulz norm in float32: the matrix agrees to 1e-6.
            tolerance = 1e-6 if name == "dense" else 1e-12
            assert crosscheck.normwise_relative_error(params[name], value) <= tolerance, name
    with pytest.raises(port.PortError, match="exclude_layers"):
        port.from_keras(keras.optimizers.Muon(exclude_layers=["dense"]))


@needs_keras
def test_keras_exclusions_and_other_optimizers_are_named():
    keras = crosscheck.import_keras()
    optimizer = keras.optimizers.AdamW()
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    with pytest.raises(port.PortError, match="exclude_from_weight_decay"):
        port.from_keras(optimizer)
    with pytest.raises(port.PortError, match="keras.optimizers.Ftrl is not covered"):
        port.from_keras(keras.optimizers.Ftrl())


# --------------------------------------------------------------------------- the command


def test_parse_call_reads_literals_and_nested_calls_only():
    parsed = command.parse_call(
        "SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=10)], milestones=[10])"
    )
    assert parsed.name == "SequentialLR"
    assert parsed.kwargs["milestones"] == [10]
    assert parsed.kwargs["schedulers"][0] == command.CallText(
        "LinearLR", (), {"start_factor": 0.1, "total_iters": 10}
    )
    assert command.parse_call("AdamW([{'lr': 1e-3}], betas=(0.9, -0.95))").args == ([{"lr": 1e-3}],)
    assert command.parse_call("AdamW(lr=__import__('os'))").kwargs["lr"] == command.CallText(
        "__import__", ("os",), {}
    )  # parsed as data, never called: the builders accept only the library's own names
    # A name bound at run time is kept as its source; the port refuses it (or asks for it).
    assert command.parse_call("AdamW(lr=x)").kwargs["lr"] == command.Unresolved("x", 1)
    for text, message in [
        ("AdamW(lr=__import__('os').getcwd())", "must be a call like Name"),
        ("AdamW(**{'lr': 1})", r"\*\* arguments"),
        ("AdamW(lr=1e-3", "is not valid Python"),
        ("1 + 2", "must be a call"),
    ]:
        with pytest.raises(ValueError, match=message):
            command.parse_call(text)


@needs_torch
def test_port_command_prints_code_and_agreement(capsys):
    status = cli.main(
        [
            "port",
            "SGD([{'momentum': 0.9}, {}], lr=0.05, weight_decay=1e-4)",
            "--scheduler",
            "StepLR(step_size=5, gamma=0.5)",
            "--clip-grad-norm",
            "1.0",
            "--steps",
            "30",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert "port.clip_grad_norm(1.0)" in output and "port.param_groups(" in output
    assert "| 30 |" in output and "within the bound of 1 ulp" in output


@needs_keras
def test_port_command_from_keras(capsys):
    status = cli.main(
        [
            "port",
            "Adam(learning_rate=ExponentialDecay(1e-3, 10, 0.9))",
            "--from",
            "keras",
            "--steps",
            "20",
            "--dtype",
            "float64",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert "port.keras_schedules.ExponentialDecay(" in output and "float64" in output


@needs_torch
@pytest.mark.parametrize(
    "argv, message",
    [
        (["port", "AdamW(lr=__import__('os').getcwd())"], "must be a call like Name"),
        (["port", "AdamW(lr=__import__('os'))"], "lr=__import__(...) is a call"),
        (
            ["port", "SGD(lr=0.1)", "--scheduler", "StepLR(step_size=exec('1'))"],
            "torch.optim.lr_scheduler has no scheduler 'exec'",
        ),
        (
            ["port", "SGD(learning_rate=eval('1'))", "--from", "keras"],
            "keras.optimizers.schedules has no schedule 'eval'",
        ),
        (["port", "AdamW(lr=3e-4"], "is not valid Python"),
        (["port", "Bogus(lr=1.0)"], "torch.optim has no optimizer 'Bogus'"),
        (["port", "SGD(lr=-1.0)"], "torch rejected it"),
        (["port", "Muon(lr=1e-2)"], "Muon only supports 2D parameters"),
        (
            ["port", "SGD(lr=0.1)", "--scheduler", "LambdaLR(lr_lambda=1)"],
            "LambdaLR cannot be ported: it calls an arbitrary Python function",
        ),
        (["port", "SGD(lr=0.1)", "--from", "keras", "--clip-grad-norm", "1"], "with --from keras"),
    ],
)
def test_port_command_error_path(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    usage, error = capsys.readouterr().err.rstrip("\n").rsplit("\n", 1)  # parser.error
    assert usage.startswith("usage: jaxopt-lab port")
    assert error.startswith("jaxopt-lab port: error: ") and message in error


@needs_torch
def test_port_command_tables(capsys, monkeypatch):
    adam = [case for case in matrix.TORCH_CASES if case.optimizer == "Adam(lr=1e-3)"]
    monkeypatch.setattr(matrix, "CASES", adam)
    monkeypatch.setattr(conventions, "CONVENTIONS", conventions.CONVENTIONS[2:3])
    status = cli.main(["port", "--matrix", "--conventions", "--steps", "20"])
    output = capsys.readouterr().out
    assert status == 0
    assert "`Adam(lr=1e-3)`" in output and "| agree" in output
    assert "1 cases, 0 failures (20 steps)" in output
    assert "| torch's AdamW scales p by 1 - lr*wd" in output
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["port"])
    assert exit_info.value.code == 2
    assert "give an optimizer call, --matrix or --conventions" in capsys.readouterr().err


# --------------------------------------------------------------------------- naive ports


SENSITIVE = ["clip_grad_norm_ adds 1e-6", "OneCycleLR ends", "Keras's clipnorm"]


@pytest.mark.parametrize("title", SENSITIVE)
def test_naive_ports_fail_where_the_port_agrees(title):
    """Sensitivity: each convention, done naively, breaks the check the port passes.

    float64 is where a convention shows at once (the float32 bound, 1 ulp of the
    leaf's scale per step, is looser than some of them).
    """
    (convention,) = [c for c in conventions.CONVENTIONS if title in c.title]
    if not (HAS_TORCH and (convention.library == "torch" or HAS_KERAS)):
        pytest.skip("the library is not installed")
    measured = conventions.measure(convention, steps=100, dtypes=[np.float64])
    assert measured.port_relative <= 1e-12
    assert measured.naive_relative > 1e-12
    assert measured.naive_relative > 1000 * measured.port_relative


@pytest.mark.parametrize(
    "argv, message",
    [
        (["port", "Adam(lr=1e-3)", "--steps", "0"], "argument --steps: expected an integer"),
        (["port", "Adam(lr=1e-3)", "--scheduler-every", "0"], "argument --scheduler-every"),
        (["port", "Adam(lr=1e-3)", "--seed", "-1"], "argument --seed"),
    ],
)
def test_port_command_checks_its_numbers_before_anything_runs(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
