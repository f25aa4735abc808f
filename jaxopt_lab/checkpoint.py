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

import contextlib
import hashlib
import json
import math
import os
import secrets
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

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
    if not array.dtype.isnative:  # a big-endian NumPy array: same values, native bytes
        array = array.astype(np.dtype(array.dtype.char))
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
# Every size a file declares is checked before it is allocated ("Bounded", above).

_KINDS = {"jax", "numpy", "numpy_scalar", *_PYTHON_SCALARS}
_READ_CHUNK = 1 << 22  # bytes per read: the one buffer a load needs beyond its leaves


class _Leaf(NamedTuple):
    """One leaf's manifest record, checked: what the member must hold."""

    index: int
    path: str
    kind: str
    dtype: np.dtype
    storage: np.dtype
    shape: tuple[int, ...]
    nbytes: int
    sha256: str


def _check_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Every member stored uncompressed, all of them fitting in the file together."""
    total = 0
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path}: member {info.filename} is compressed (method {info.compress_type}); "
                "checkpoints store their members uncompressed, and a compressed member "
                "could inflate to any size"
            )
        if info.file_size != info.compress_size:
            raise CheckpointError(
                f"{path}: member {info.filename} declares {info.file_size} bytes but stores "
                f"{info.compress_size}; the file is corrupt"
            )
        total += info.file_size
    size = path.stat().st_size
    if total > size:
        raise CheckpointError(
            f"{path}: its members declare {total} bytes in all, more than the file's {size}; "
            "the file is corrupt or crafted"
        )


def _dtype_from_name(name: Any, where: str) -> np.dtype:
    """A leaf dtype named in a manifest: NumPy's numeric dtypes and the ml_dtypes ones."""
    if not isinstance(name, str):
        raise CheckpointError(f"{where}: dtype {name!r} in the manifest is not a dtype name")
    dtype = getattr(ml_dtypes, name, None)
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.dtype(dtype)
    try:
        dtype = np.dtype(name)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufc" or dtype.isbuiltin != 1 or dtype.name != name:
        raise CheckpointError(
            f"{where}: dtype {name!r} in the manifest is not a numeric dtype that checkpoints "
            "hold (bool, int, uint, float, complex, or an ml_dtypes type)"
        )
    return dtype


def _check_record(index: int, record: Any, path: Path) -> _Leaf:
    where = f"{path}: leaf {index}"
    if not isinstance(record, dict):
        raise CheckpointError(f"{where}: the manifest's record is not an object: {record!r:.80}")
    missing = [key for key in ("path", "kind", "dtype", "shape", "sha256") if key not in record]
    if missing:
        raise CheckpointError(f"{where}: the manifest's record has no {missing[0]!r}")
    leaf_path = record["path"]
    if not isinstance(leaf_path, str):
        raise CheckpointError(f"{where}: path {leaf_path!r:.80} in the manifest is not a string")
    where = f"{where} ({leaf_path})"
    if record["kind"] not in _KINDS:
        raise CheckpointError(f"{where}: unknown leaf kind {record['kind']!r:.80}")
    dtype = _dtype_from_name(record["dtype"], where)
    shape = record["shape"]
    if not (
        isinstance(shape, list)
        and all(type(size) is int and size >= 0 for size in shape)
        and len(shape) <= 64
    ):
        raise CheckpointError(
            f"{where}: shape {shape!r:.80} in the manifest is not a list of at most 64 sizes >= 0"
        )
    sha256 = record["sha256"]
    if not (
        isinstance(sha256, str) and len(sha256) == 64 and set(sha256) <= set("0123456789abcdef")
    ):
        raise CheckpointError(f"{where}: sha256 {sha256!r:.80} in the manifest is not a digest")
    return _Leaf(
        index=index,
        path=leaf_path,
        kind=record["kind"],
        dtype=dtype,
        storage=_storage_dtype(dtype),
        shape=tuple(shape),
        nbytes=math.prod(shape) * dtype.itemsize,  # a Python int: no overflow
        sha256=sha256,
    )


def _check_structure(skeleton: Any, leaf_count: int, path: Path) -> None:
    """The skeleton (see :func:`_skeleton`) is well formed and names each leaf exactly once."""
    seen: list[int] = []

    def bad(node: Any) -> CheckpointError:
        return CheckpointError(f"{path}: the manifest's structure has a bad node {node!r:.80}")

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            raise bad(node)
        if "leaf" in node or "none" in node:
            if "leaf" in node:
                if type(node["leaf"]) is not int:
                    raise bad(node)
                seen.append(node["leaf"])
            return
        if "list" in node or "tuple" in node:
            children, labels = node.get("list", node.get("tuple")), None
        elif "dict" in node:
            children, keys = node.get("children"), node["dict"]
            if not isinstance(keys, list) or not all(
                isinstance(key, list) and len(key) == 2 for key in keys
            ):
                raise bad(node)
            labels = [key[0] for key in keys]
        elif "namedtuple" in node:
            children, labels = node.get("children"), node.get("fields")
        elif "node" in node:
            children, labels = node.get("children"), None
        else:
            raise bad(node)
        if not isinstance(children, list):
            raise bad(node)
        if labels is not None and (
            not isinstance(labels, list)
            or len(labels) != len(children)
            or not all(type(label) in (str, int) for label in labels)
        ):
            raise bad(node)
        for child in children:
            walk(child)

    try:
        walk(skeleton)
    except RecursionError:
        raise CheckpointError(f"{path}: the manifest's structure is nested too deeply") from None
    if sorted(seen) != list(range(leaf_count)):
        raise CheckpointError(
            f"{path}: the manifest's structure names leaves {sorted(seen)[:10]}, but the "
            f"manifest has {leaf_count} leaves; the file is corrupt"
        )


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> tuple[dict, list[_Leaf]]:
    if MANIFEST not in archive.namelist():
        raise CheckpointError(f"{path}: no {MANIFEST}; not a jaxopt_lab checkpoint")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (*_DAMAGE, RecursionError) as error:
        raise CheckpointError(f"{path}: the manifest is corrupt ({error!r:.200})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a jaxopt_lab checkpoint (no {FORMAT!r} manifest)")
    if manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {manifest.get('version')!r:.80}; this "
            f"jaxopt_lab reads version {VERSION}"
        )
    records = manifest.get("leaves")
    if not isinstance(records, list):
        raise CheckpointError(
            f"{path}: the manifest's 'leaves' is {records!r:.80}, not a list of leaf records"
        )
    if not isinstance(manifest.get("treedef"), str):
        raise CheckpointError(f"{path}: the manifest's 'treedef' is not a string")
    leaves = [_check_record(index, record, path) for index, record in enumerate(records)]
    _check_structure(manifest.get("structure"), len(leaves), path)
    return manifest, leaves


def _read_exactly(member: Any, buffer: memoryview, hasher: Any) -> None:
    position = 0
    while position < len(buffer):
        chunk = member.read(min(_READ_CHUNK, len(buffer) - position))
        if not chunk:
            raise EOFError(f"the member ends after {position} of {len(buffer)} data bytes")
        buffer[position : position + len(chunk)] = chunk
        hasher.update(chunk)
        position += len(chunk)


def _read_leaf(archive: zipfile.ZipFile, leaf: _Leaf, path: Path) -> np.ndarray:
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
    except _DAMAGE as error:
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
    if kind in _PYTHON_SCALARS:
        return _PYTHON_SCALARS[kind](array[()])
    raise CheckpointError(f"{where}: unknown leaf kind {kind!r} in the manifest")


def _like_spec(like_leaf: Any, leaf: _Leaf) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype ``like`` asks of one leaf."""
    if type(like_leaf) in _PYTHON_SCALARS.values():
        return (), np.asarray(like_leaf).dtype
    try:
        return tuple(like_leaf.shape), np.dtype(like_leaf.dtype)
    except (AttributeError, TypeError):
        raise TypeError(
            f"like leaf at {leaf.path} is a {type(like_leaf).__name__}; like must "
            "hold arrays, jax.ShapeDtypeStruct or numbers"
        ) from None


def _check_like_leaf(like_leaf: Any, leaf: _Leaf, path: Path) -> None:
    """The manifest's shape and dtype of one leaf against ``like``'s, before reading it."""
    where = f"{path}: leaf {leaf.path}"
    expected_shape, expected_dtype = _like_spec(like_leaf, leaf)
    if leaf.shape != expected_shape:
        raise CheckpointError(f"{where} has shape {leaf.shape}; like has {expected_shape}")
    if leaf.dtype != expected_dtype:
        raise CheckpointError(f"{where} has dtype {leaf.dtype}; like has {expected_dtype}")


def _like_leaf(array: np.ndarray, like_leaf: Any, leaf: _Leaf, path: Path) -> Any:
    """Convert one loaded leaf (already checked against ``like``) to ``like``'s type."""
    if type(like_leaf) in _PYTHON_SCALARS.values():
        return type(like_leaf)(array[()])
    if isinstance(like_leaf, np.ndarray):
        return array
    if isinstance(like_leaf, np.generic):
        return array[()]
    return _to_jax(array, f"{path}: leaf {leaf.path}", getattr(like_leaf, "sharding", None))


def _structure_error(path: Path, manifest: dict, leaves: list[_Leaf], like: Any) -> CheckpointError:
    saved_paths = [leaf.path for leaf in leaves]
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
        f"\n  checkpoint: {manifest['treedef']:.2000}\n  like:       {jax.tree.structure(like)}"
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
        _check_members(archive, path)
        manifest, leaves = _read_manifest(archive, path)
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
        return _rebuild_plain(manifest["structure"], restored)
    restored = [
        _like_leaf(array, like_leaf, leaf, path)
        for array, like_leaf, leaf in zip(arrays, like_leaves, leaves, strict=True)
    ]
    return like_treedef.unflatten(restored)
