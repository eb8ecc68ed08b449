"""Every test package that starts a service stack has a broker of its own (`tests/brokers.py`):
a new consumer group replays its topics from the beginning, so sharing the session's broker
would make a package's stack wait on every other package's events."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_package_that_starts_a_stack_imports_its_own_broker() -> None:
    starting = {
        path.parent
        for path in TESTS.rglob("*.py")
        if path.parent != TESTS
        and path != Path(__file__).resolve()
        and "start_stack(" in path.read_text()
    }
    assert starting, "no test package starts a stack: the scan is looking in the wrong place"
    missing = sorted(
        str(package.relative_to(TESTS))
        for package in starting
        if "tests.brokers import" not in _text(package / "conftest.py")
    )
    assert missing == []


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
