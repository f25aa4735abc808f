"""Checkpoints of params and optimizer state: atomic writes, verified reads.

    checkpoint.save("run/step_1000.npz", {"params": params, "state": state, "step": 1000})
    restored = checkpoint.load("run/step_1000.npz", like={"params": params, "state": state,
                                                            "step": 0})

A checkpoint holds any pytree of arrays and numbers: lab optimizer states
(NamedTuples with ``None`` fields), optax states (NamedTuples, tuples,
``EmptyState``), flat states, params, JAX and NumPy arrays of every dtype JAX
has (bfloat16 and the other ``ml_dtypes`` included), 0-d and empty arrays,
NumPy scalars and Python ``int``/``float``/``bool``/``complex``.

**Format.** A NumPy ``.npz`` file (a zip of ``.npy`` members, one per leaf,
uncompressed) plus a ``manifest.json`` member: the format version, the tree
structure (``str`` of the ``PyTreeDef`` and a JSON skeleton of its containers),
and for each leaf its key path, shape, dtype, kind (JAX array, NumPy array,
NumPy scalar or Python number) and the SHA-256 of its bytes. Why this and not
a checkpoint library: orbax-checkpoint writes directories through TensorStore
and brings a heavy dependency tree for what is, here, a few arrays;
safetensors (the better candidate) keeps a flat ``str -> tensor`` map with no
tree structure, ``None`` or Python scalars, and is not a dependency of the
lab. NumPy is, its ``.npy``/``.npz`` format is versioned and documented
(NEP 1), and ``numpy.load`` opens a checkpoint without this module. Dtypes
that ``.npy`` cannot name (bfloat16, float8) are stored as unsigned-integer
views of the same width and restored from the manifest.

**Atomic.** :func:`save` writes a temporary file in the destination's
directory, flushes and fsyncs it, renames it over the destination with
``os.replace`` (atomic on POSIX and Windows) and fsyncs the directory. A crash
at any point leaves either the previous checkpoint or the new one, whole.

**Verified.** :func:`load` checks the zip structure, the manifest's own CRC,
each member's ``.npy`` header against the manifest and each leaf's SHA-256, so
a truncated or corrupted file raises :class:`CheckpointError` naming the file
and the leaf, never returns wrong numbers. With ``like`` it also checks the tree
structure, every shape and every dtype against ``like`` and rebuilds exactly
``like``'s containers.

Single process: every leaf must be addressable from this process (no
multi-host sharded arrays).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np

FORMAT = "jaxopt_lab.checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation

_PYTHON_SCALARS = {"bool": bool, "int": int, "float": float, "complex": complex}

# What zipfile, json and the .npy reader raise on damaged bytes: a flipped flag bit
# can ask for encryption (RuntimeError) or an unknown compression (NotImplementedError).
_DAMAGE = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    RuntimeError,
    NotImplementedError,
    OverflowError,
    struct.error,
    zlib.error,
)


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, or does not match ``like``."""


# --------------------------------------------------------------------------- dtypes


def _dtype_from_name(name: str) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError:
        dtype = getattr(ml_dtypes, name, None)
        if dtype is None:
            raise CheckpointError(f"unknown dtype {name!r}") from None
        return np.dtype(dtype)


def _storage_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a leaf is written as: itself if ``.npy`` can name it, else uint of its width."""
    if dtype.kind in "biufc" and dtype.isbuiltin == 1:
        return dtype
    return np.dtype(f"uint{8 * dtype.itemsize}")


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes(order="C")).hexdigest()


# --------------------------------------------------------------------------- structure


def _skeleton(treedef: Any) -> Any:
    """A JSON description of a ``PyTreeDef``'s containers, leaves numbered in order.

    ``{"leaf": i}`` for a leaf; ``{"none": true}``; ``{"dict": [[key, kind], ...], ...}``
    etc. Used to rebuild a plain nested structure without ``like``.
    """
    counter = iter(range(treedef.num_leaves))

    def walk(node: Any) -> Any:
        data = node.node_data()
        if data is None:
            return {"leaf": next(counter)}
        node_type, aux = data
        children = [walk(child) for child in node.children()]
        if node_type is type(None):
            return {"none": True}
        if issubclass(node_type, Mapping):
            keys = aux[-1] if node_type.__name__ == "defaultdict" else aux
            return {"dict": [_encode_key(key) for key in keys], "children": children}
        if node_type is list:
            return {"list": children}
        if node_type is tuple:
            return {"tuple": children}
        if issubclass(node_type, tuple) and hasattr(node_type, "_fields"):
            return {
                "namedtuple": node_type.__name__,
                "fields": list(node_type._fields),
                "children": children,
            }
        return {"node": getattr(node_type, "__qualname__", str(node_type)), "children": children}

    return walk(treedef)


def _encode_key(key: Any) -> list:
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        return [repr(key), "repr"]
    return [key, type(key).__name__]


def _decode_key(encoded: list) -> Any:
    """A dict key back: ``str`` and ``int`` keys as themselves, others as their ``repr``."""
    return encoded[0]


def _rebuild_plain(skeleton: Any, leaves: list) -> Any:
    """The plain nested structure a skeleton describes (see :func:`load`)."""
    if "leaf" in skeleton:
        return leaves[skeleton["leaf"]]
    if "none" in skeleton:
        return None
    if "dict" in skeleton:
        return {
            _decode_key(key): _rebuild_plain(child, leaves)
            for key, child in zip(skeleton["dict"], skeleton["children"], strict=True)
        }
    if "list" in skeleton:
        return [_rebuild_plain(child, leaves) for child in skeleton["list"]]
    if "tuple" in skeleton:
        return tuple(_rebuild_plain(child, leaves) for child in skeleton["tuple"])
    if "namedtuple" in skeleton:
        return {
            field: _rebuild_plain(child, leaves)
            for field, child in zip(skeleton["fields"], skeleton["children"], strict=True)
        }
    if "node" in skeleton:
        return [_rebuild_plain(child, leaves) for child in skeleton["children"]]
    raise CheckpointError(f"unknown node in the manifest's structure: {skeleton!r}")


def _paths(tree: Any) -> list[str]:
    return [
        jax.tree_util.keystr(path) or "<root>"
        for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]
    ]


# --------------------------------------------------------------------------- save


def _leaf_record(path: str, leaf: Any) -> tuple[np.ndarray, dict]:
    """The array to write for one leaf, and its manifest entry."""
    if isinstance(leaf, jax.Array):
        kind = "jax"
    elif isinstance(leaf, np.ndarray):
        kind = "numpy"
    elif isinstance(leaf, np.generic):
        kind = "numpy_scalar"
    elif type(leaf) in (bool, int, float, complex):
        kind = type(leaf).__name__
    else:
        raise TypeError(
            f"checkpoint leaf at {path} is a {type(leaf).__name__}; checkpoints hold "
            "arrays and numbers (JAX or NumPy arrays, NumPy scalars, bool/int/float/complex)"
        )
    array = np.asarray(leaf)
    if array.dtype.kind not in "biufcV" or array.dtype.fields is not None:
        raise TypeError(f"checkpoint leaf at {path} has dtype {array.dtype}, which is not numeric")
    stored = np.asarray(array, order="C").view(_storage_dtype(array.dtype))
    record = {
        "path": path,
        "kind": kind,
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "sha256": _sha256(stored),
    }
    return stored, record


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_zip(file: Any, arrays: list[np.ndarray], manifest: dict) -> None:
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for index, array in enumerate(arrays):
            with archive.open(f"leaf_{index:06d}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))


def save(path: str | os.PathLike, tree: Any) -> None:
    """Write ``tree`` (params, optimizer state, step counters...) to ``path``, atomically.

    The file is written beside ``path`` under a temporary name, fsynced, and
    renamed over ``path``: readers and crashes see the old file or the new
    one, never a partial one. ``path`` is used as given (``.npz`` is the
    customary suffix); its directory must exist.

    Raises:
      TypeError: a leaf is not an array or a number (the message names its path).
    """
    path = Path(path)
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    arrays, records = [], []
    for key_path, leaf in leaves_with_paths:
        array, record = _leaf_record(jax.tree_util.keystr(key_path) or "<root>", leaf)
        arrays.append(array)
        records.append(record)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "treedef": str(treedef),
        "structure": _skeleton(treedef),
        "leaves": records,
    }
    directory = path.parent
    # Not tempfile.mkstemp: its files are 0600, and a checkpoint should get the umask's mode.
    temporary = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_zip(file, arrays, manifest)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


# --------------------------------------------------------------------------- load


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> dict:
    if MANIFEST not in archive.namelist():
        raise CheckpointError(f"{path}: no {MANIFEST}; not a jaxopt_lab checkpoint")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except _DAMAGE as error:
        raise CheckpointError(f"{path}: the manifest is corrupt ({error!r})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a jaxopt_lab checkpoint (no {FORMAT!r} manifest)")
    if manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {manifest.get('version')!r}; this "
            f"jaxopt_lab reads version {VERSION}"
        )
    return manifest


def _read_leaf(archive: zipfile.ZipFile, index: int, record: dict, path: Path) -> np.ndarray:
    """One leaf's array, in its own dtype, verified against the manifest."""
    where = f"{path}: leaf {index} ({record['path']})"
    dtype = _dtype_from_name(record["dtype"])
    storage = _storage_dtype(dtype)
    try:
        with archive.open(f"leaf_{index:06d}.npy") as member:
            stored = np.lib.format.read_array(member, allow_pickle=False)
    except _DAMAGE as error:
        raise CheckpointError(f"{where} is unreadable; the file is corrupt ({error!r})") from error
    if stored.dtype != storage or list(stored.shape) != record["shape"]:
        raise CheckpointError(
            f"{where}: the file holds {stored.dtype}{list(stored.shape)}, the manifest says "
            f"{storage}{record['shape']}; the file is corrupt"
        )
    if _sha256(stored) != record["sha256"]:
        raise CheckpointError(f"{where}: checksum mismatch; the file is corrupt")
    return stored.view(dtype)


def _to_jax(array: np.ndarray, where: str, sharding: Any = None) -> jax.Array:
    if jax.dtypes.canonicalize_dtype(array.dtype) != array.dtype:
        raise CheckpointError(
            f"{where} is {array.dtype}, which JAX would truncate to "
            f"{jax.dtypes.canonicalize_dtype(array.dtype)} with jax_enable_x64 off: load it "
            "under jax.enable_x64(True), or pass like= with NumPy leaves"
        )
    return jax.device_put(array, sharding)


def _restore_kind(array: np.ndarray, kind: str, where: str) -> Any:
    """Give a loaded array back the type it was saved as."""
    if kind == "jax":
        return _to_jax(array, where)
    if kind == "numpy":
        return array
    if kind == "numpy_scalar":
        return array[()]
    if kind in _PYTHON_SCALARS:
        return _PYTHON_SCALARS[kind](array[()])
    raise CheckpointError(f"{where}: unknown leaf kind {kind!r} in the manifest")


def _like_leaf(array: np.ndarray, like_leaf: Any, record: dict, path: Path) -> Any:
    """Check one loaded leaf against ``like``'s and convert it to ``like``'s type."""
    where = f"{path}: leaf {record['path']}"
    if type(like_leaf) in _PYTHON_SCALARS.values():
        expected_shape, expected_dtype = (), np.asarray(like_leaf).dtype
    else:
        try:
            expected_shape = tuple(like_leaf.shape)
            expected_dtype = np.dtype(like_leaf.dtype)
        except (AttributeError, TypeError):
            raise TypeError(
                f"like leaf at {record['path']} is a {type(like_leaf).__name__}; like must "
                "hold arrays, jax.ShapeDtypeStruct or numbers"
            ) from None
    if array.shape != expected_shape:
        raise CheckpointError(f"{where} has shape {array.shape}; like has {expected_shape}")
    if array.dtype != expected_dtype:
        raise CheckpointError(f"{where} has dtype {array.dtype}; like has {expected_dtype}")
    if type(like_leaf) in _PYTHON_SCALARS.values():
        return type(like_leaf)(array[()])
    if isinstance(like_leaf, np.ndarray):
        return array
    if isinstance(like_leaf, np.generic):
        return array[()]
    return _to_jax(array, where, getattr(like_leaf, "sharding", None))


def _structure_error(path: Path, manifest: dict, like: Any) -> CheckpointError:
    saved_paths = [record["path"] for record in manifest["leaves"]]
    like_paths = _paths(like)
    missing = [p for p in like_paths if p not in saved_paths]
    extra = [p for p in saved_paths if p not in like_paths]
    detail = ""
    if missing:
        detail += f"\n  in like, not in the checkpoint: {', '.join(missing[:10])}"
    if extra:
        detail += f"\n  in the checkpoint, not in like: {', '.join(extra[:10])}"
    return CheckpointError(
        f"{path} does not have the tree structure of like.{detail}"
        f"\n  checkpoint: {manifest['treedef']}\n  like:       {jax.tree.structure(like)}"
    )


def load(path: str | os.PathLike, like: Any = None) -> Any:
    """Read a checkpoint written by :func:`save`, verifying every byte.

    With ``like`` (a tree of arrays, ``jax.ShapeDtypeStruct`` or numbers, e.g.
    ``{"params": params, "state": optimizer.init(params)}``): the checkpoint
    must have ``like``'s tree structure (same containers, NamedTuple types,
    dict keys, ``None`` fields) and each leaf ``like``'s shape and dtype; the
    result is built with ``like``'s containers, and each leaf takes ``like``'s
    leaf type (JAX array on ``like``'s sharding, NumPy array or scalar, Python
    number).

    Without ``like``: a plain nested structure. Dicts, lists, tuples and
    ``None`` come back as themselves; a NamedTuple (a lab or optax state) comes
    back as a ``dict`` from field name to value, in field order, and any other
    pytree node as a ``list`` of its children; leaves come back as the kind they
    were saved as (JAX array, NumPy array or scalar, Python number).

    Raises:
      FileNotFoundError: no file at ``path``.
      CheckpointError: (a ``ValueError``) the file is truncated, corrupt or not a
        checkpoint, or does not match ``like``; the message names the leaf path
        and what differs. A float64 JAX leaf loaded with ``jax_enable_x64`` off
        is also refused rather than silently truncated.
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path, "r")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _DAMAGE as error:
        raise CheckpointError(
            f"{path} is truncated or not a checkpoint (not a readable zip: {error})"
        ) from error
    with archive:
        manifest = _read_manifest(archive, path)
        records = manifest["leaves"]
        if like is not None:
            like_leaves, like_treedef = jax.tree.flatten(like)
            if str(like_treedef) != manifest["treedef"]:
                raise _structure_error(path, manifest, like)
        arrays = [_read_leaf(archive, index, record, path) for index, record in enumerate(records)]
    if like is None:
        leaves = [
            _restore_kind(array, record["kind"], f"{path}: leaf {record['path']}")
            for array, record in zip(arrays, records, strict=True)
        ]
        return _rebuild_plain(manifest["structure"], leaves)
    leaves = [
        _like_leaf(array, like_leaf, record, path)
        for array, like_leaf, record in zip(arrays, like_leaves, records, strict=True)
    ]
    return like_treedef.unflatten(leaves)
