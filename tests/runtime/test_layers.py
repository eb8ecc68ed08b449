"""The layers hold at import time, not only in the lint: pure modules pull in no framework or
driver, even through the runtime, and the runtime imports nothing that sits above it.

Each check imports in a fresh interpreter, so what another test imported cannot hide a leak.
The pure modules and the banned packages are read from the ruff configuration (TID251), so the
lint rule and this test guard the same list.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_RUFF = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]


def _expand(pattern: str) -> list[str]:
    """Brace alternatives of a glob, nested ones included: `a/{b,c}.py` → a/b.py, a/c.py."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth, options, last = 0, [], start + 1
    for index in range(start, len(pattern)):
        char = pattern[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                options.append(pattern[last:index])
                head, tail = pattern[:start], pattern[index + 1 :]
                return [p for option in options for p in _expand(head + option + tail)]
        elif char == "," and depth == 1:
            options.append(pattern[last:index])
            last = index + 1
    raise ValueError(f"unbalanced braces in {pattern!r}")


def pure_modules() -> list[str]:
    """Dotted names of the modules the banned-import rule applies to."""
    (negated,) = [p for p, rules in _RUFF["per-file-ignores"].items() if p.startswith("!")]
    paths = {path for glob in _expand(negated[1:]) for path in ROOT.glob(glob)}
    parts = [p.relative_to(ROOT).with_suffix("").parts for p in paths]
    return sorted(".".join(p[:-1] if p[-1] == "__init__" else p) for p in parts)


BANNED = sorted(_RUFF["flake8-tidy-imports"]["banned-api"])
# Every service package: none imports another (they share contracts and the runtime only).
SERVICES = sorted(
    p.parent.name
    for p in (ROOT / "services").glob("*/__main__.py")
    if p.parent.name not in ("devstack", "tools")
)
ABOVE_THE_RUNTIME = [
    *(f"services.{name}" for name in SERVICES),
    "services.devstack",
    "services.tools",
]


def _loaded(modules: list[str], watched: list[str]) -> list[str]:
    """Which of `watched` (packages or modules) a fresh interpreter holds after importing."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"watched = {watched!r}\n"
        "print(json.dumps(sorted({w for w in watched for m in sys.modules"
        " if m == w or m.startswith(w + '.')})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found: list[str] = json.loads(done.stdout)
    return found


def test_the_rule_covers_every_domain_module_and_the_matching_engine() -> None:
    modules = pure_modules()
    for expected in (
        "services.actors.domain",
        "services.offers.domain.offers",
        "services.offers.domain.needs",
        "services.matching.scoring",
        "services.matching.lifecycle",
        "services.runtime.principal",
    ):
        assert expected in modules


def test_pure_modules_import_no_framework_or_driver_even_indirectly() -> None:
    modules = pure_modules()
    if _loaded(modules, BANNED):
        leaks = {m: found for m in modules if (found := _loaded([m], BANNED))}
        raise AssertionError(f"pure modules that pull in banned imports: {leaks}")


def test_the_runtime_imports_nothing_above_it() -> None:
    runtime = sorted(
        f"services.runtime.{p.stem}"
        for p in (ROOT / "services" / "runtime").glob("*.py")
        if p.stem != "__init__"
    )
    assert _loaded(runtime, ABOVE_THE_RUNTIME) == []


def _imported(path: Path) -> set[str]:
    """The modules a file names in its import statements (read, not executed)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_service_imports_another_service() -> None:
    assert {"actors", "offers", "matching", "agreements", "governance"} <= set(SERVICES)
    crossings = {
        f"{path.relative_to(ROOT)} imports {name}"
        for service in SERVICES
        for path in (ROOT / "services" / service).rglob("*.py")
        for name in _imported(path)
        if name.startswith("services.")
        and name.split(".")[1] in SERVICES
        and name.split(".")[1] != service
    }
    assert crossings == set()
