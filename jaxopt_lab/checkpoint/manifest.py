"""The checkpoint file's manifest: what it declares, and the checks it must pass.

A checkpoint (:mod:`jaxopt_lab.checkpoint`) is an ``.npz`` with one ``.npy``
member per leaf and a ``manifest.json``: the format and version, the tree's
structure written down as a JSON skeleton of its containers
(:func:`structure_skeleton`, read back by :func:`rebuild_plain`), and for each
leaf its key path, kind, dtype, shape and SHA-256. A file may come from anyone,
so :func:`check_members` and :func:`read_manifest` check every size and name it
declares before anything of that size is allocated; each failure is a
:class:`CheckpointError` naming the file and the leaf.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import ml_dtypes
import numpy as np

FORMAT = "jaxopt_lab.checkpoint"
VERSION = 1
MANIFEST = "manifest.json"

PYTHON_SCALARS = {"bool": bool, "int": int, "float": float, "complex": complex}

# What zipfile, json and the .npy reader raise on damaged bytes: a flipped flag bit
# can ask for encryption (RuntimeError) or an unknown compression (NotImplementedError).
DAMAGE = (
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


def storage_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a leaf is written as: itself if ``.npy`` can name it, else uint of its width."""
    if dtype.kind in "biufc" and dtype.isbuiltin == 1:
        return dtype
    return np.dtype(f"uint{8 * dtype.itemsize}")


def sha256_of(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes(order="C")).hexdigest()


# --------------------------------------------------------------------------- structure


def structure_skeleton(treedef: Any) -> Any:
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


def rebuild_plain(skeleton: Any, leaves: list) -> Any:
    """The plain nested structure a skeleton describes (see :func:`load`)."""
    if "leaf" in skeleton:
        return leaves[skeleton["leaf"]]
    if "none" in skeleton:
        return None
    if "dict" in skeleton:
        return {
            _decode_key(key): rebuild_plain(child, leaves)
            for key, child in zip(skeleton["dict"], skeleton["children"], strict=True)
        }
    if "list" in skeleton:
        return [rebuild_plain(child, leaves) for child in skeleton["list"]]
    if "tuple" in skeleton:
        return tuple(rebuild_plain(child, leaves) for child in skeleton["tuple"])
    if "namedtuple" in skeleton:
        return {
            field: rebuild_plain(child, leaves)
            for field, child in zip(skeleton["fields"], skeleton["children"], strict=True)
        }
    if "node" in skeleton:
        return [rebuild_plain(child, leaves) for child in skeleton["children"]]
    raise CheckpointError(f"unknown node in the manifest's structure: {skeleton!r}")


# --------------------------------------------------------------------------- load
# Every size a file declares is checked before it is allocated ("Bounded", above).

_KINDS = {"jax", "numpy", "numpy_scalar", *PYTHON_SCALARS}


class LeafRecord(NamedTuple):
    """One leaf's manifest record, checked: what the member must hold."""

    index: int
    path: str
    kind: str
    dtype: np.dtype
    storage: np.dtype
    shape: tuple[int, ...]
    nbytes: int
    sha256: str


def check_members(archive: zipfile.ZipFile, path: Path, size: int) -> None:
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


def _check_record(index: int, record: Any, path: Path) -> LeafRecord:
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
    return LeafRecord(
        index=index,
        path=leaf_path,
        kind=record["kind"],
        dtype=dtype,
        storage=storage_dtype(dtype),
        shape=tuple(shape),
        nbytes=math.prod(shape) * dtype.itemsize,  # a Python int: no overflow
        sha256=sha256,
    )


def _check_structure(skeleton: Any, leaf_count: int, path: Path) -> None:
    """The skeleton (:func:`structure_skeleton`) is well formed and names each leaf once."""
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


def read_manifest(archive: zipfile.ZipFile, path: Path) -> tuple[dict, list[LeafRecord]]:
    if MANIFEST not in archive.namelist():
        raise CheckpointError(f"{path}: no {MANIFEST}; not a jaxopt_lab checkpoint")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (*DAMAGE, RecursionError) as error:
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
