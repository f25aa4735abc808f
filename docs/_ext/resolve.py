"""Docstrings as written: cross-references by a path an object is not defined under, and
attribute docstrings napoleon would misread.

The docstrings name objects as a reader meets them: ``jaxopt_lab.crosscheck.TorchTrainingSide``
(re-exported there, defined in another module), or ``Side`` from a module that imports it.
Sphinx registers each object once, under the module that defines it; this handler resolves
such a reference when exactly one registered object ends with the reference's last
components (its full path first, then its name alone). Anything else stays unresolved, and
``nitpicky`` reports it.
"""

from __future__ import annotations

from typing import Any


def _candidates(objects: dict, target: str) -> list[str]:
    parts = target.split(".")
    for count in range(len(parts), 0, -1):
        suffix = ".".join(parts[-count:])
        found = [name for name in objects if name == suffix or name.endswith("." + suffix)]
        if found:
            return found
    return []


def resolve_missing(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    if "." in target and not target.startswith("jaxopt_lab."):
        return None  # another package's name (torch.optim.Adam is not reference.Adam)
    found = _candidates(domain.objects, target)
    if len(found) > 1:  # a re-export (``jaxopt_lab.adam``) is the same object: keep the original
        found = [name for name in found if not domain.objects[name].aliased] or found
    if len(found) > 1:  # still several: the one in the referring module, else the public one
        module = node.get("py:module") or ""
        near = [name for name in found if module and name.startswith(module + ".")]
        public = [name for name in found if name.count(".") == 1]  # jaxopt_lab.<name>
        found = near or public
    if len(found) != 1:
        return None
    entry = domain.objects[found[0]]
    from sphinx.util.nodes import make_refnode

    return make_refnode(
        app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, found[0]
    )


_ORIGINAL: dict[str, list[str]] = {}
_ATTRIBUTES = ("attribute", "data", "property")


def keep_attribute_text(app: Any, what: str, name: str, obj: Any, options: Any, lines: list):
    """Before napoleon: remember an attribute's docstring (napoleon would read its first
    ``words: more words`` as a type, and our constants' docstrings begin so)."""
    if what in _ATTRIBUTES:
        _ORIGINAL[name] = list(lines)


def restore_attribute_text(app: Any, what: str, name: str, obj: Any, options: Any, lines: list):
    """After napoleon: put the attribute's docstring back as written."""
    if what in _ATTRIBUTES and name in _ORIGINAL:
        lines[:] = _ORIGINAL.pop(name)


def setup(app: Any) -> dict:
    app.connect("missing-reference", resolve_missing)
    app.connect("autodoc-process-docstring", keep_attribute_text, priority=400)
    app.connect("autodoc-process-docstring", restore_attribute_text, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
