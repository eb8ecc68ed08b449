"""Schema compatibility: would a consumer built against the old JSON Schema break on the new one?

A change breaks a consumer when it removes a field, changes a field's type, makes a field
required that was not, or removes a value of an enumeration (a consumer may rely on it, e.g. a
decision's kind). Adding optional fields is fine (readers ignore unknown fields), and so is adding
an enumeration value: consumers skip the values they do not handle.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root.get("$defs", {})[name]
    return node


def _types(node: Schema, root: Schema) -> frozenset[str]:
    """The set of JSON types a node admits (models compare by structure, not by name)."""
    node = _resolve(node, root)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        return frozenset().union(*(_types(n, root) for n in alternatives))
    if "const" in node:
        return frozenset({f"const:{node['const']}"})
    if "enum" in node:
        return (
            frozenset({"string"})
            if all(isinstance(v, str) for v in node["enum"])
            else frozenset({"enum"})
        )
    kind = node.get("type")
    if isinstance(kind, list):
        return frozenset(kind)
    return frozenset({kind or "any"})


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every way `new` would break a consumer of `old` (empty when compatible)."""
    problems: list[str] = []
    _compare(old, old, new, new, "", problems, set())
    return problems


def _compare(
    old: Schema,
    old_root: Schema,
    new: Schema,
    new_root: Schema,
    path: str,
    out: list[str],
    seen: set[str],
) -> None:
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if old_types != new_types and not old_types <= new_types | {"null"}:
        out.append(
            f"{path or '<root>'}: type changed from {sorted(old_types)} to {sorted(new_types)}"
        )
        return
    if path in seen:
        return
    seen.add(path)
    old_obj, new_obj = _resolve(old, old_root), _resolve(new, new_root)
    if "enum" in old_obj and "enum" in new_obj:
        for value in old_obj["enum"]:
            if value not in new_obj["enum"]:
                out.append(f"{path or '<root>'}: enum value {value!r} removed")
    for branch in ("anyOf", "oneOf"):
        for old_alt in old_obj.get(branch, []):
            match = [
                n
                for n in new_obj.get(branch, [])
                if _types(n, new_root) == _types(old_alt, old_root)
            ]
            if match:
                _compare(old_alt, old_root, match[0], new_root, path, out, seen)
    if "items" in old_obj and "items" in new_obj:
        _compare(old_obj["items"], old_root, new_obj["items"], new_root, f"{path}[]", out, seen)
    old_props, new_props = old_obj.get("properties", {}), new_obj.get("properties", {})
    for name, old_prop in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            out.append(f"{where}: field removed")
            continue
        _compare(old_prop, old_root, new_props[name], new_root, where, out, seen)
    newly_required = set(new_obj.get("required", [])) - set(old_obj.get("required", []))
    for name in sorted(newly_required):
        out.append(f"{path + '.' if path else ''}{name}: field became required")
