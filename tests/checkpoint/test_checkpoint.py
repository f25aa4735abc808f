"""Checkpoints: bit-for-bit round trips, atomic writes, and clear errors on bad files.

Every comparison here is exact (bits, dtypes, container types): a checkpoint
that changes a single ulp is wrong, so there is no tolerance to state.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import checkpoint
from jaxopt_lab.checkpoint import CheckpointError
from tests.bombs import deflate_zeros

ROOT = Path(__file__).resolve().parents[2]


def bits(leaf):
    """A leaf's exact content: its Python type, dtype, shape and raw bytes."""
    array = np.asarray(leaf)
    return type(leaf), array.dtype, array.shape, array.tobytes()


def assert_identical(actual, expected):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for got, want in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        assert bits(got) == bits(want)


def odd_params():
    """Params with every awkward leaf: bfloat16, float16, 0-d, empty, None, nesting."""
    key = jax.random.key(0)
    return {
        "dense": {
            "w": jax.random.normal(key, (3, 4), jnp.float32),
            "b": jnp.zeros((4,), jnp.bfloat16) + jnp.bfloat16(0.1),
        },
        "scale": jnp.array(1.5, jnp.float16),
        "empty": jnp.zeros((0, 5), jnp.float32),
        "frozen": None,
        "blocks": [(jnp.full((2,), -2.5, jnp.bfloat16),), [jnp.float32(3.0)]],
    }


def trained_state(optimizer, params, steps=3):
    state = optimizer.init(params)
    for step in range(steps):
        grads = jax.tree.map(lambda p, step=step: jnp.ones_like(p) * (step + 1), params)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize(
    "make_optimizer",
    [
        *jaxopt_lab.OPTIMIZERS.values(),
        lambda: jaxopt_lab.rmsprop(centered=True, momentum=0.9),
        lambda: jaxopt_lab.adam(state_dtype=jnp.float32),
        lambda: optax.adam(1e-3),
        lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(1e-3)),
    ],
)
def test_round_trip_of_params_and_optimizer_state_is_bit_exact(tmp_path, make_optimizer):
    params, state = trained_state(make_optimizer(), odd_params())
    tree = {"params": params, "state": state, "iteration": 3}
    checkpoint.save(tmp_path / "c.npz", tree)
    assert_identical(checkpoint.load(tmp_path / "c.npz", like=tree), tree)


def test_round_trip_keeps_nan_payloads_infinities_and_scalar_kinds(tmp_path):
    nan_with_payload = np.array([0x7FC00123], np.uint32).view(np.float32)
    tree = {
        "specials": jnp.array([np.inf, -np.inf, -0.0, np.nan], jnp.float32),
        "payload": nan_with_payload,
        "bf16_nan": np.array([0x7FC1], np.uint16).view(ml_dtypes.bfloat16),
        "numpy_scalar": np.float16(0.333),
        "python": (1, 2.5, True, 1 + 2j),
        "int32": jnp.array([-(2**31), 2**31 - 1], jnp.int32),
        "bool": np.array([True, False]),
    }
    checkpoint.save(tmp_path / "c.npz", tree)
    assert_identical(checkpoint.load(tmp_path / "c.npz", like=tree), tree)
    assert_identical(checkpoint.load(tmp_path / "c.npz"), tree)


def test_non_native_byte_order_round_trips_as_native(tmp_path):
    """A big-endian NumPy array comes back with the same values, in native byte order."""
    tree = {"w": np.array([1.5, -2.0, np.inf], ">f4"), "i": np.array([7, -1], ">i8")}
    checkpoint.save(tmp_path / "c.npz", tree)
    loaded = checkpoint.load(tmp_path / "c.npz")
    for key, array in tree.items():
        assert loaded[key].dtype == array.dtype.newbyteorder("=")
        np.testing.assert_array_equal(loaded[key], array)


def test_float64_round_trip_under_x64(tmp_path, x64):
    tree = {"w": jnp.array([1 / 3, np.pi, 5e-324], jnp.float64)}
    checkpoint.save(tmp_path / "c.npz", tree)
    assert_identical(checkpoint.load(tmp_path / "c.npz", like=tree), tree)


def test_float64_jax_leaf_is_refused_rather_than_truncated_without_x64(tmp_path):
    with jax.enable_x64(True):
        checkpoint.save(tmp_path / "c.npz", {"w": jnp.array([1 / 3], jnp.float64)})
    with pytest.raises(CheckpointError, match=r"\['w'\].*float64.*enable_x64"):
        checkpoint.load(tmp_path / "c.npz")
    loaded = checkpoint.load(tmp_path / "c.npz", like={"w": np.zeros(1, np.float64)})
    assert loaded["w"].dtype == np.float64 and loaded["w"][0] == 1 / 3


def test_load_without_like_gives_plain_containers(tmp_path):
    params = {"w": jnp.ones((2,), jnp.float32), "skip": None}
    state = jaxopt_lab.rmsprop().init(params)
    chain_state = optax.chain(optax.identity(), optax.sgd(0.1)).init(params)
    tree = {"state": state, "chain": chain_state, "by_int": {7: [params]}}
    checkpoint.save(tmp_path / "c.npz", tree)
    plain = checkpoint.load(tmp_path / "c.npz")
    assert list(plain["state"]) == ["count", "mean_square", "mean_gradient", "velocity"]
    assert plain["state"]["mean_gradient"] is None
    assert plain["state"]["mean_square"]["skip"] is None
    assert bits(plain["state"]["mean_square"]["w"]) == bits(state.mean_square["w"])
    assert plain["chain"] == ({}, ({}, {}))  # EmptyState()s become empty dicts
    assert bits(plain["by_int"][7][0]["w"]) == bits(params["w"])


def test_like_may_be_shape_dtype_structs(tmp_path):
    params = {"w": jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3)}
    checkpoint.save(tmp_path / "c.npz", params)
    like = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    loaded = checkpoint.load(tmp_path / "c.npz", like=like)
    assert isinstance(loaded["w"], jax.Array)
    assert bits(loaded["w"]) == bits(params["w"])


def test_resumed_optimizer_run_equals_uninterrupted_run(tmp_path):
    """10 steps + save + load + 10 steps is the 20-step run, bit for bit."""
    optimizer = jaxopt_lab.adamw(1e-2, state_dtype=jnp.float32)
    params = {"w": jax.random.normal(jax.random.key(1), (5,), jnp.bfloat16), "b": jnp.zeros(())}

    @jax.jit
    def step(params, state, index):
        grads = jax.grad(lambda p: jnp.sum(jnp.sin(p["w"] * index) ** 2) + p["b"] ** 2)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def run(params, state, start, stop):
        for index in range(start, stop):
            params, state = step(params, state, jnp.float32(index))
        return params, state

    straight = run(params, optimizer.init(params), 0, 20)
    first_half = run(params, optimizer.init(params), 0, 10)
    checkpoint.save(tmp_path / "c.npz", first_half)
    fresh = (params, optimizer.init(params))
    resumed = run(*checkpoint.load(tmp_path / "c.npz", like=fresh), 10, 20)
    assert_identical(resumed, straight)


# --------------------------------------------------------------------------- atomicity


def test_crash_mid_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    old = {"w": jnp.arange(1000, dtype=jnp.float32)}
    checkpoint.save(path, old)
    calls = []
    real_write_array = np.lib.format.write_array

    def write_then_crash(file, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first leaf is written, the second is half written
            file.write(b"\x93NUMPY partial")
            raise OSError("disk full (simulated)")
        return real_write_array(file, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    new = {"w": jnp.zeros(1000, jnp.float32), "v": jnp.ones(3, jnp.float32)}
    with pytest.raises(OSError, match="simulated"):
        checkpoint.save(path, new)
    assert len(calls) == 2
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind
    assert_identical(checkpoint.load(path, like=old), old)


def test_crash_before_rename_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    old = {"w": jnp.ones(4, jnp.float32)}
    checkpoint.save(path, old)

    def failing_replace(source, destination):
        raise OSError("killed before rename (simulated)")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.save(path, {"w": jnp.zeros(4, jnp.float32)})
    assert os.listdir(tmp_path) == ["c.npz"]
    assert_identical(checkpoint.load(path, like=old), old)


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from jaxopt_lab import checkpoint

    path = sys.argv[1]
    version = 0
    while True:
        version += 1
        checkpoint.save(path, {"version": version, "w": np.full(2_000_000, version, np.float32)})
        print(version, flush=True)
    """
)


def test_sigkill_during_save_never_leaves_a_torn_checkpoint(tmp_path):
    """A real process killed with SIGKILL at random moments while saving in a loop."""
    path = tmp_path / "c.npz"
    like = {"version": 0, "w": np.zeros(2_000_000, np.float32)}
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = np.random.default_rng(0)
    for _ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], env=environment, stdout=subprocess.PIPE
        )
        try:
            first_saved = int(writer.stdout.readline())  # it is now saving version 2
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        saved_versions = [int(line) for line in writer.stdout.read().split()]
        writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL
        loaded = checkpoint.load(path, like=like)
        # the last completed save, or the one whose rename beat the kill
        last_reported = max([first_saved, *saved_versions])
        assert loaded["version"] in (last_reported, last_reported + 1)
        assert np.all(loaded["w"] == loaded["version"])


# --------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_path):
    tree = {"params": odd_params(), "state": jaxopt_lab.adam().init(odd_params()), "step": 3}
    path = tmp_path / "c.npz"
    checkpoint.save(path, tree)
    return path, tree


def test_truncated_file_gives_clear_error(saved, tmp_path):
    path, tree = saved
    content = path.read_bytes()
    for length in [0, 1, 22, len(content) // 2, len(content) - 1]:
        truncated = tmp_path / f"truncated_{length}.npz"
        truncated.write_bytes(content[:length])
        with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
            checkpoint.load(truncated, like=tree)


def test_every_flipped_byte_raises_or_changes_nothing(tmp_path):
    """No single corrupted byte anywhere in the file yields different numbers.

    Bytes the zip format does not check (timestamps, version fields) may flip
    harmlessly; every other flip must raise CheckpointError.
    """
    tree = {
        "w": np.array([1.0, -2.0, 3.5], np.float32),
        "b": np.array([0.1, 0.2], ml_dtypes.bfloat16),
        "count": np.int32(7),
        "none": None,
        "step": 3,
    }
    path = tmp_path / "c.npz"
    checkpoint.save(path, tree)
    content = path.read_bytes()
    corrupt = tmp_path / "corrupt.npz"
    raised = harmless = 0
    for position in range(len(content)):
        flipped = bytearray(content)
        flipped[position] ^= 0xFF
        corrupt.write_bytes(bytes(flipped))
        try:
            loaded = checkpoint.load(corrupt, like=tree)
        except CheckpointError:
            raised += 1
            continue
        assert_identical(loaded, tree)
        harmless += 1
    assert raised > 0.8 * len(content)  # the data and the manifest are all covered


def test_corrupted_leaf_data_names_the_leaf(saved, tmp_path):
    path, tree = saved
    content = bytearray(path.read_bytes())
    # the float32 weights of params["dense"]["w"], found by their bytes
    weights = np.asarray(tree["params"]["dense"]["w"]).tobytes()
    position = bytes(content).index(weights)
    content[position + 5] ^= 0x01  # one bit of one float: a silently-wrong number
    path.write_bytes(bytes(content))
    # the zip member's CRC-32 or the leaf's SHA-256 catches it, whichever reads first
    with pytest.raises(CheckpointError, match=r"\['params'\]\['dense'\]\['w'\].*corrupt"):
        checkpoint.load(path, like=tree)
    with pytest.raises(CheckpointError, match=r"\['params'\]\['dense'\]\['w'\].*corrupt"):
        checkpoint.load(path)


def test_a_plain_npz_is_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    with pytest.raises(CheckpointError, match="not a jaxopt_lab checkpoint"):
        checkpoint.load(tmp_path / "plain.npz")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "nothing.npz")


def test_wrong_structure_shows_both_structures_and_the_differing_paths(saved):
    path, tree = saved
    like = {**tree, "params": {**tree["params"], "extra": jnp.zeros(2)}}
    with pytest.raises(CheckpointError, match="tree structure") as error:
        checkpoint.load(path, like=like)
    message = str(error.value)
    assert "in like, not in the checkpoint: ['params']['extra']" in message
    assert "checkpoint: PyTreeDef(" in message and "like:       PyTreeDef(" in message


def test_other_optimizer_state_type_is_a_structure_error(tmp_path):
    params = {"w": jnp.ones(3, jnp.float32)}
    checkpoint.save(tmp_path / "c.npz", jaxopt_lab.adam().init(params))
    like = optax.scale_by_adam().init(params)  # same leaves, other NamedTuple
    with pytest.raises(CheckpointError, match="ScaleByAdamState"):
        checkpoint.load(tmp_path / "c.npz", like=like)


def test_wrong_shape_names_the_leaf_and_both_shapes(saved):
    path, tree = saved
    like = {**tree, "params": {**tree["params"], "empty": jnp.zeros((5, 0), jnp.float32)}}
    expected = r"\['params'\]\['empty'\] has shape \(0, 5\); like has \(5, 0\)"
    with pytest.raises(CheckpointError, match=expected):
        checkpoint.load(path, like=like)


def test_wrong_dtype_names_the_leaf_and_both_dtypes(saved):
    path, tree = saved
    params = {**tree["params"], "scale": jnp.array(1.5, jnp.bfloat16)}
    expected = r"\['params'\]\['scale'\] has dtype float16; like has bfloat16"
    with pytest.raises(CheckpointError, match=expected):
        checkpoint.load(path, like={**tree, "params": params})
    with pytest.raises(CheckpointError, match=r"\['step'\] has dtype int64; like has float64"):
        checkpoint.load(path, like={**tree, "step": 3.0})


def test_non_numeric_leaf_is_refused_on_save_naming_its_path(tmp_path):
    with pytest.raises(TypeError, match=r"leaf at \['meta'\]\['name'\] is a str"):
        checkpoint.save(tmp_path / "c.npz", {"meta": {"name": "run-1"}})
    assert os.listdir(tmp_path) == []


def test_checkpoint_is_a_readable_npz(saved):
    path, tree = saved
    with np.load(path) as archive:
        assert "manifest.json" in archive.files
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None


# --------------------------------------------------------------------------- crafted files
#
# Files nobody should trust: each is built here byte by byte (an independent zip writer,
# numpy's own .npy header writer), and each must raise CheckpointError before the reader
# allocates what the file claims: the peak (tracemalloc, which sees NumPy's buffers) and
# the time are bounded by what the manifest and `like` declare (a few bytes here), not by
# what the bytes would inflate to. Before the fix these took the whole inflated size
# (GiBs), or raised MemoryError / TypeError / KeyError.

BOMB_BYTES = 2**31  # what the zip bomb inflates to; the file itself is about 2 MB
PEAK_LIMIT = 16 * 2**20  # bytes; the small genuine checkpoint below loads in far less
TIME_LIMIT = 2.0  # seconds; each crafted file is refused in milliseconds


def zip_bytes(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive from scratch: ``(name, stored bytes, method, size, crc32)`` per member.

    ``method`` 0 is stored, 8 is deflate (the bytes already compressed); sizes under 4 GiB.
    """
    local, central = bytearray(), bytearray()
    # fmt: off
    for name, stored, method, size, crc in members:
        encoded = name.encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                             len(stored), size, len(encoded), 0) + encoded + stored
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21,
                               crc, len(stored), size, len(encoded), 0, 0, 0, 0, 0,
                               offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(central), len(local), 0)
    # fmt: on
    return bytes(local + central + end)


def stored(name: str, content: bytes) -> tuple[str, bytes, int, int, int]:
    return name, content, 0, len(content), zlib.crc32(content)


def deflated_zeros(name: str, prefix: bytes, zeros: int) -> tuple[str, bytes, int, int, int]:
    """A deflate member holding ``prefix`` then ``zeros`` zero bytes (see tests/bombs.py)."""
    body, crc = deflate_zeros(prefix, zeros)
    return name, body, 8, len(prefix) + zeros, crc


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """A .npy header by NumPy's own writer (version 1.0)."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}  # fmt: skip
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


LIKE = {"w": np.arange(4, dtype=np.float32)}


@pytest.fixture
def genuine(tmp_path) -> tuple[dict, bytes]:
    """The manifest and the leaf member that save() writes for LIKE, read back with zipfile."""
    checkpoint.save(tmp_path / "genuine.npz", LIKE)
    with zipfile.ZipFile(tmp_path / "genuine.npz") as archive:
        return json.loads(archive.read("manifest.json")), archive.read("leaf_000000.npy")


def with_record(manifest: dict, **changes) -> dict:
    """The manifest with its one leaf record changed (a value of None deletes the key)."""
    record = {**manifest["leaves"][0], **changes}
    return {**manifest, "leaves": [{k: v for k, v in record.items() if v is not None}]}


def manifest_member(manifest: dict) -> tuple[str, bytes, int, int, int]:
    return stored("manifest.json", json.dumps(manifest).encode())


def leaf_record(dtype: str, shape: list[int], content: bytes = b"") -> dict:
    return {"dtype": dtype, "shape": shape, "sha256": hashlib.sha256(content).hexdigest()}


CRAFTED = {
    # 2 MB whose one leaf inflates to 2 GiB; header and manifest agree with each other.
    "zip bomb in a leaf": lambda manifest, leaf: [
        manifest_member(with_record(manifest, **leaf_record("float32", [BOMB_BYTES // 4]))),
        deflated_zeros("leaf_000000.npy", npy_header("<f4", (BOMB_BYTES // 4,)), BOMB_BYTES),
    ],
    # The manifest itself as a bomb: a genuine manifest, then 2 GiB of zero bytes.
    "zip bomb as the manifest": lambda manifest, leaf: [
        deflated_zeros("manifest.json", json.dumps(manifest).encode(), BOMB_BYTES),
        stored("leaf_000000.npy", leaf),
    ],
    # The .npy header claims 2^40 float32 (4 TiB); the manifest says 4, like says 4.
    "leaf header of 2^40 elements": lambda manifest, leaf: [
        manifest_member(manifest),
        stored("leaf_000000.npy", npy_header("<f4", (2**40,)) + leaf[-16:]),
    ],
    # Manifest and header agree on 2^40 elements; the file holds 16 bytes of them.
    "manifest and header of 2^40 elements": lambda manifest, leaf: [
        manifest_member(with_record(manifest, **leaf_record("float32", [2**40]))),
        stored("leaf_000000.npy", npy_header("<f4", (2**40,)) + leaf[-16:]),
    ],
    "manifest dtype object": lambda manifest, leaf: [
        manifest_member(with_record(manifest, dtype="object")),
        stored("leaf_000000.npy", leaf),
    ],
    "manifest without dtype": lambda manifest, leaf: [
        manifest_member(with_record(manifest, dtype=None)),
        stored("leaf_000000.npy", leaf),
    ],
    "manifest leaves: 7": lambda manifest, leaf: [
        manifest_member({**manifest, "leaves": 7}),
        stored("leaf_000000.npy", leaf),
    ],
    "manifest shape [-4]": lambda manifest, leaf: [
        manifest_member(with_record(manifest, shape=[-4])),
        stored("leaf_000000.npy", leaf),
    ],
    "manifest structure names leaf 5 of 1": lambda manifest, leaf: [
        manifest_member(
            {**manifest, "structure": {"dict": [["w", "str"]], "children": [{"leaf": 5}]}}
        ),
        stored("leaf_000000.npy", leaf),
    ],  # fmt: skip
    "manifest structure with a list as a dict key": lambda manifest, leaf: [
        manifest_member(
            {**manifest, "structure": {"dict": [[["w"], "str"]], "children": [{"leaf": 0}]}}
        ),
        stored("leaf_000000.npy", leaf),
    ],  # fmt: skip
}
EXPECTED = {
    "zip bomb in a leaf": r"leaf_000000\.npy.* compressed",
    "zip bomb as the manifest": r"manifest\.json.* compressed",
    "leaf header of 2^40 elements": (
        r"leaf 0 \(\['w'\]\): the file holds float32\[1099511627776\], the manifest says"
    ),
    "manifest and header of 2^40 elements": (
        r"leaf 0 \(\['w'\]\).*4398046511104 bytes",  # the file cannot hold what it declares
        r"\['w'\] has shape \(1099511627776,\); like has \(4,\)",  # like is checked first
    ),
    "manifest dtype object": r"leaf 0.*dtype 'object'",
    "manifest without dtype": r"leaf 0.*'dtype'",
    "manifest leaves: 7": r"'leaves'.*list",
    "manifest shape [-4]": r"leaf 0.*shape \[-4\]",
    "manifest structure names leaf 5 of 1": r"structure names leaves \[5\], but .* 1 leaves",
    "manifest structure with a list as a dict key": r"structure has a bad node",
}


@pytest.mark.parametrize("with_like", [False, True], ids=["no like", "like"])
@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_file_is_refused_quickly_in_bounded_memory(tmp_path, genuine, case, with_like):
    path = tmp_path / "crafted.npz"
    path.write_bytes(zip_bytes(CRAFTED[case](*genuine)))
    expected = EXPECTED[case]
    if isinstance(expected, tuple):
        expected = expected[with_like]
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CheckpointError, match=expected):
            checkpoint.load(path, like=LIKE if with_like else None)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"{case}: peak {peak / 2**20:.0f} MiB"
    assert elapsed < TIME_LIMIT, f"{case}: {elapsed:.1f} s"


def test_crafted_file_builder_makes_readable_zips(tmp_path, genuine):
    """The zip writer above is sound: the genuine members, rewritten by it, load."""
    path = tmp_path / "rebuilt.npz"
    manifest, leaf = genuine
    path.write_bytes(zip_bytes([manifest_member(manifest), stored("leaf_000000.npy", leaf)]))
    assert_identical(checkpoint.load(path, like=LIKE), LIKE)
