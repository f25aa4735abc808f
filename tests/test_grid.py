"""The grid map: points in C order, chunks, padding; several devices, several hosts.

The several-hosts test is real: two processes on this machine, each with 2 CPU
devices, joined by ``jax.distributed.initialize`` (a local coordinator, CPU
collectives over gloo), make the same ``sweep(...)`` call (the 2-D lab's and the
MNIST lab's), and each must return exactly what one process with the same 4
devices returns.
"""

from __future__ import annotations

import socket
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import grid
from jaxopt_lab.grid import GridMap, hyperparameter_names, with_settings


def square_plus(point, offset):
    return {"value": point["a"] ** 2 + point["b"] + offset, "a": point["a"]}


def test_grid_map_runs_every_point_in_c_order_across_padded_chunks():
    axes = {"a": np.arange(5.0), "b": np.array([10.0, 20.0, 30.0])}
    grid_map = GridMap(square_plus, axes, chunk_size=4)
    assert (grid_map.shape, grid_map.point_count, grid_map.chunk_count) == ((5, 3), 15, 4)
    chunks = list(grid_map.chunks(np.float32(0.5)))
    assert [first for first, _ in chunks] == [0, 4, 8, 12]
    assert [len(output["value"]) for _, output in chunks] == [4, 4, 4, 3]  # padding dropped
    values = grid_map.collect(np.float32(0.5))["value"].reshape(5, 3)
    expected = axes["a"][:, None] ** 2 + axes["b"][None, :] + 0.5
    np.testing.assert_array_equal(values, expected)


def test_blocks_inside_a_chunk_give_the_same_points():
    axes = {"a": np.linspace(0, 1, 11), "b": np.array([1.0])}
    whole = GridMap(square_plus, axes).collect(np.float32(0))
    blocked = GridMap(square_plus, axes, block=3).collect(np.float32(0))
    np.testing.assert_array_equal(whole["value"], blocked["value"])


def test_block_one_runs_one_point_after_another_without_a_vmap():
    axes = {"a": np.linspace(0, 1, 5), "b": np.array([1.0, 2.0])}
    one_by_one = GridMap(square_plus, axes, block=1).collect(np.float32(0.25))
    whole = GridMap(square_plus, axes).collect(np.float32(0.25))
    np.testing.assert_array_equal(one_by_one["value"], whole["value"])
    points = GridMap(square_plus, axes).points(0, 10)
    for block, point_shape in ((1, ()), (2, (2,))):
        jaxpr = jax.make_jaxpr(grid._batched(square_plus, block))(points, np.float32(0))
        (loop,) = [equation for equation in jaxpr.eqns if equation.primitive.name == "scan"]
        body_inputs = loop.params["jaxpr"].jaxpr.invars
        assert {tuple(variable.aval.shape) for variable in body_inputs} == {point_shape, ()}


def test_hyperparameter_names_come_from_the_declaration_and_with_settings_removes_fixed_ones():
    assert hyperparameter_names("adam") == jaxopt_lab.adam.hyperparameters
    fixed = with_settings("adam", {"b1": 0.5})
    assert "b1" not in hyperparameter_names(fixed)
    assert "learning_rate" in hyperparameter_names(fixed)
    assert with_settings("adam", {"b1": 0.5}) is fixed  # cached: one compiled program
    optimizer = fixed(learning_rate=0.1)
    state = optimizer.init(jnp.zeros(2))
    updates, _ = optimizer.update(jnp.ones(2), state, jnp.zeros(2))
    reference, _ = jaxopt_lab.adam(0.1, b1=0.5).update(jnp.ones(2), state, jnp.zeros(2))
    np.testing.assert_array_equal(updates, reference)


# --------------------------------------------------------------------------- several hosts

WORKER = textwrap.dedent(
    """
    import json, os, sys
    process_id, port, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if count > 1:
        jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=count,
                                   process_id=process_id, initialization_timeout=120)
    import numpy as np
    import jaxopt_lab
    from jaxopt_lab import mnist
    from tests.test_mnist import SMALL_SIZES, synthetic_data

    grid = {"learning_rate": np.geomspace(1e-3, 1.0, 5), "b1": np.array([0.5, 0.8, 0.95])}
    two_d = jaxopt_lab.sweep("adam", grid, "rosenbrock", steps=25, chunk_size=8)
    networks = mnist.sweep(jaxopt_lab.adam, {"learning_rate": [1e-3, 1e-2, 3e-2]},
                           synthetic_data(), 20, 16, seeds=[0, 1], sizes=SMALL_SIZES)
    print(json.dumps({
        "process": jax.process_index(), "devices": jax.device_count(),
        "local_devices": jax.local_device_count(), "chunks": two_d.chunk_count,
        "loss": two_d.final_loss.tolist(), "position": two_d.final_position.tolist(),
        "diverged": two_d.diverged.tolist(), "mnist_losses": networks.losses.tolist(),
        "mnist_accuracy": networks.test_accuracy.tolist(),
        "mnist_devices": networks.device_count,
    }))
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _workers(devices, count: int) -> list[dict]:
    """``count`` processes joined by ``jax.distributed``, four CPU devices among them."""
    port = str(_free_port())
    processes = [
        devices.start(WORKER, str(index), port, str(count), devices=4 // count)
        for index in range(count)
    ]
    try:
        return [devices.report(process, timeout=300) for process in processes]
    finally:
        for process in processes:
            process.kill()


@pytest.mark.slow
def test_two_processes_return_what_one_process_returns(forced_cpu_devices):
    first, second = _workers(forced_cpu_devices, 2)
    (single,) = _workers(forced_cpu_devices, 1)
    assert (first["process"], second["process"]) == (0, 1)
    assert first["devices"] == second["devices"] == single["devices"] == 4
    assert first["local_devices"] == 2 and single["local_devices"] == 4
    assert first["mnist_devices"] == 4 and first["chunks"] == 2  # 15 points, chunks of 8
    for key in ("loss", "position", "diverged", "mnist_losses", "mnist_accuracy"):
        # Every process gets the whole result (all-gathered), and the same devices
        # run the same shards as in one process: equal, bit for bit.
        assert first[key] == second[key], key
        assert first[key] == single[key], key
