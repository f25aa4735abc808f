"""Checkpoints of params and optimizer state: atomic writes, verified reads::

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
``os.replace`` (atomic on POSIX and Windows) and fsyncs the directory
(:func:`jaxopt_lab.files.atomic_file`, the lab's one atomic writer). A crash
at any point leaves either the previous checkpoint or the new one, whole.

**Verified.** :func:`load` checks the zip structure, the manifest's own CRC,
each member's ``.npy`` header against the manifest and each leaf's SHA-256, so
a truncated or corrupted file raises :class:`CheckpointError` naming the file
and the leaf, never returns wrong numbers. With ``like`` it also checks the tree
structure, every shape and every dtype against ``like`` and rebuilds exactly
``like``'s containers.

**Bounded.** A file may come from anyone, so every size it declares is checked
before anything of that size is allocated: members must be stored uncompressed
(no zip bomb) and fit in the file together, the manifest must be well formed
(numeric dtypes, shapes of sizes >= 0, a structure naming each leaf once), and
each ``.npy`` header and member size must match the manifest (and ``like``'s
shapes and dtypes, checked before any leaf is read). A load therefore takes
memory for what the manifest declares, at most the file's size, and refuses a
crafted file in milliseconds.

Single process: every leaf must be addressable from this process (no
multi-host sharded arrays).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxopt_lab import files
from jaxopt_lab.checkpoint.manifest import (
    DAMAGE,
    FORMAT,
    MANIFEST,
    PYTHON_SCALARS,
    VERSION,
    CheckpointError,
    LeafRecord,
    check_members,
    read_manifest,
    rebuild_plain,
    sha256_of,
    storage_dtype,
    structure_skeleton,
)

__all__ = ["CheckpointError", "load", "save"]

_READ_CHUNK = 1 << 22  # bytes per read: the one buffer a load needs beyond its leaves


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
    if not array.dtype.isnative:  # a big-endian NumPy array: same values, native bytes
        array = array.astype(np.dtype(array.dtype.char))
    stored = np.asarray(array, order="C").view(storage_dtype(array.dtype))
    record = {
        "path": path,
        "kind": kind,
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "sha256": sha256_of(stored),
    }
    return stored, record


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
        "structure": structure_skeleton(treedef),
        "leaves": records,
    }
    with files.atomic_file(path) as file:
        _write_zip(file, arrays, manifest)


# --------------------------------------------------------------------------- load
# Every size a file declares is checked before it is allocated ("Bounded", above).


def _read_exactly(member: Any, buffer: memoryview, hasher: Any) -> None:
    position = 0
    while position < len(buffer):
        chunk = member.read(min(_READ_CHUNK, len(buffer) - position))
        if not chunk:
            raise EOFError(f"the member ends after {position} of {len(buffer)} data bytes")
        buffer[position : position + len(chunk)] = chunk
        hasher.update(chunk)
        position += len(chunk)


def _read_leaf(archive: zipfile.ZipFile, leaf: LeafRecord, path: Path) -> np.ndarray:
    """One leaf's array, in its own dtype, verified against the manifest before and after."""
    where = f"{path}: leaf {leaf.index} ({leaf.path})"
    name = f"leaf_{leaf.index:06d}.npy"
    try:
        info = archive.getinfo(name)
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f".npy format version {version}")
            shape, fortran_order, stored_dtype = header
            if stored_dtype != leaf.storage or shape != leaf.shape or fortran_order:
                order = ", Fortran order" if fortran_order else ""
                raise CheckpointError(
                    f"{where}: the file holds {stored_dtype}{list(shape)}{order}, the manifest "
                    f"says {leaf.storage}{list(leaf.shape)}; the file is corrupt"
                )
            data_size = info.file_size - member.tell()
            if data_size != leaf.nbytes:
                raise CheckpointError(
                    f"{where}: the manifest declares {leaf.nbytes} bytes of data, the member "
                    f"holds {data_size}; the file is corrupt or crafted"
                )
            stored = np.empty(leaf.shape, leaf.storage)
            hasher = hashlib.sha256()
            _read_exactly(member, memoryview(stored.reshape(-1).view(np.uint8)), hasher)
    except CheckpointError:
        raise
    except DAMAGE as error:
        raise CheckpointError(f"{where} is unreadable; the file is corrupt ({error!r})") from error
    if hasher.hexdigest() != leaf.sha256:
        raise CheckpointError(f"{where}: checksum mismatch; the file is corrupt")
    return stored.view(leaf.dtype)


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
    if kind in PYTHON_SCALARS:
        return PYTHON_SCALARS[kind](array[()])
    raise CheckpointError(f"{where}: unknown leaf kind {kind!r} in the manifest")


def _like_spec(like_leaf: Any, leaf: LeafRecord) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype ``like`` asks of one leaf."""
    if type(like_leaf) in PYTHON_SCALARS.values():
        return (), np.asarray(like_leaf).dtype
    try:
        return tuple(like_leaf.shape), np.dtype(like_leaf.dtype)
    except (AttributeError, TypeError):
        raise TypeError(
            f"like leaf at {leaf.path} is a {type(like_leaf).__name__}; like must "
            "hold arrays, jax.ShapeDtypeStruct or numbers"
        ) from None


def _check_like_leaf(like_leaf: Any, leaf: LeafRecord, path: Path) -> None:
    """The manifest's shape and dtype of one leaf against ``like``'s, before reading it."""
    where = f"{path}: leaf {leaf.path}"
    expected_shape, expected_dtype = _like_spec(like_leaf, leaf)
    if leaf.shape != expected_shape:
        raise CheckpointError(f"{where} has shape {leaf.shape}; like has {expected_shape}")
    if leaf.dtype != expected_dtype:
        raise CheckpointError(f"{where} has dtype {leaf.dtype}; like has {expected_dtype}")


def _like_leaf(array: np.ndarray, like_leaf: Any, leaf: LeafRecord, path: Path) -> Any:
    """Convert one loaded leaf (already checked against ``like``) to ``like``'s type."""
    if type(like_leaf) in PYTHON_SCALARS.values():
        return type(like_leaf)(array[()])
    if isinstance(like_leaf, np.ndarray):
        return array
    if isinstance(like_leaf, np.generic):
        return array[()]
    return _to_jax(array, f"{path}: leaf {leaf.path}", getattr(like_leaf, "sharding", None))


def _structure_error(
    path: Path, manifest: dict, leaves: list[LeafRecord], like: Any
) -> CheckpointError:
    saved_paths = [leaf.path for leaf in leaves]
    like_paths = _paths(like)
    missing = [p for p in like_paths if p not in saved_paths]
    extra = [p for p in saved_paths if p not in like_paths]
    detail = ""
    if missing:
        detail += f"\n  in like, not in the checkpoint: {', '.join(missing[:5]):.200}"
    if extra:
        detail += f"\n  in the checkpoint, not in like: {', '.join(extra[:5]):.200}"
    # Both structures, each cut to a window around where they part (a few lines, not kB).
    saved, wanted = manifest["treedef"], str(jax.tree.structure(like))
    part = next((i for i, (a, b) in enumerate(zip(saved, wanted)) if a != b), 0)
    start = max(0, part - 60)
    for name, text in (("checkpoint", saved), ("like", wanted)):
        head = text[:40] + " ... " if start > 40 else text[:start]
        window = text[start : start + 160] + ("..." if len(text) > start + 160 else "")
        detail += f"\n  {name + ':':11} {head}{window}"
    return CheckpointError(f"{path} does not have the tree structure of like.{detail}")


_FILE_TYPES = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def _file_type(mode: int) -> str:
    return _FILE_TYPES.get(stat.S_IFMT(mode), "not a regular file")


def _open_regular(path: Path) -> tuple[Any, int]:
    """``path`` opened for reading, and its size, if it is (or links to) a regular file.

    Checked on the open descriptor (``fstat``), so nothing can swap the file in
    between; ``O_NONBLOCK`` keeps a FIFO from blocking the open. A symlink is
    followed only to a regular file, and the error says where it led.
    """
    try:
        link = path.is_symlink()
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise
    except OSError as error:
        raise CheckpointError(f"{path} cannot be opened ({error.strerror})") from None
    info = os.fstat(descriptor)
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        target = f" links to {os.path.realpath(path)}, which is" if link else " is"
        raise CheckpointError(
            f"{path}{target} {_file_type(mode)}; a checkpoint is a regular file (a symlink "
            "is followed only to a regular file)"
        )
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb"), info.st_size


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
      CheckpointError: (a ``ValueError``) ``path`` is not a regular file (a
        directory, a FIFO, a device, a symlink to any of them) or cannot be
        opened; the file is truncated, corrupt or not a
        checkpoint, or does not match ``like``; the message names the leaf path
        and what differs. A float64 JAX leaf loaded with ``jax_enable_x64`` off
        is also refused rather than silently truncated.
    """
    path = Path(path)
    file, size = _open_regular(path)
    try:
        archive = zipfile.ZipFile(file, "r")
    except DAMAGE as error:
        file.close()
        raise CheckpointError(
            f"{path} is truncated or not a checkpoint (not a readable zip: {error})"
        ) from error
    with file, archive:
        check_members(archive, path, size)
        manifest, leaves = read_manifest(archive, path)
        if like is not None:
            like_leaves, like_treedef = jax.tree.flatten(like)
            if str(like_treedef) != manifest["treedef"] or len(like_leaves) != len(leaves):
                raise _structure_error(path, manifest, leaves, like)
            for like_leaf, leaf in zip(like_leaves, leaves, strict=True):
                _check_like_leaf(like_leaf, leaf, path)
        arrays = [_read_leaf(archive, leaf, path) for leaf in leaves]
    if like is None:
        restored = [
            _restore_kind(array, leaf.kind, f"{path}: leaf {leaf.path}")
            for array, leaf in zip(arrays, leaves, strict=True)
        ]
        return rebuild_plain(manifest["structure"], restored)
    restored = [
        _like_leaf(array, like_leaf, leaf, path)
        for array, like_leaf, leaf in zip(arrays, like_leaves, leaves, strict=True)
    ]
    return like_treedef.unflatten(restored)
