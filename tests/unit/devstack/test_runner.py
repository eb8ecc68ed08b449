"""The runner behind `make run`: its arguments (through make), its start waves, which service
lines reach the terminal, and the files it leaves for a newcomer (demo keys, stack addresses)."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import threading
from pathlib import Path

import pytest

from services.devstack import demo, runner
from services.devstack.runner import EchoFilter, parse_args, start_waves

ROOT = Path(__file__).resolve().parents[3]


def make_dry_run(*arguments: str) -> str:
    """The commands `make -n` would run (nothing is run)."""
    done = subprocess.run(
        ["make", "-n", *arguments], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_run_passes_its_arguments_to_the_runner() -> None:
    commands = make_dry_run("run", "ARGS=--keep-data --quiet")
    assert "python -m services.devstack --keep-data --quiet" in commands


def test_make_bootstrap_runs_the_actors_bootstrap_on_the_stacks_actors_database() -> None:
    commands = make_dry_run("bootstrap", 'ARGS=--territory "Vallée de la Drôme"')
    line = next(c for c in commands.splitlines() if "services.actors bootstrap" in c)
    assert line.startswith('. ./.run/stack.env && DATABASE_URL="$ACTORS_DATABASE_URL" ')
    assert line.endswith('python -m services.actors bootstrap --territory "Vallée de la Drôme"')
    assert "uv run --no-sync" in line


def test_the_runner_reads_what_make_passes() -> None:
    args = parse_args(["--keep-data", "--quiet"])
    assert args.keep_data and args.quiet and not args.follow_logs
    assert parse_args(["--follow-logs"]).follow_logs
    assert parse_args(["--verbose"]).follow_logs
    assert not parse_args([]).keep_data
    with pytest.raises(SystemExit):
        parse_args(["--quiet", "--follow-logs"])


def test_actors_start_first_then_every_other_service_together() -> None:
    assert start_waves(["actors", "offers", "matching"]) == [["actors"], ["offers", "matching"]]
    assert start_waves(["offers", "matching"]) == [["offers", "matching"]]
    assert start_waves(["actors"]) == [["actors"]]


def test_services_that_need_each_other_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "NEEDS", {"actors": ("offers",), "offers": ("actors",)})
    with pytest.raises(ValueError, match="need each other"):
        start_waves(["actors", "offers"])


INFO = b"2026-12-01T14:44:16.186Z [info     ] Processed   [mcvt.matching.broker]\n"
WARNING = b"2026-12-01T14:44:16.190Z [warning  ] slow consumer [mcvt.matching]\n"
ERROR = b"2026-12-01T14:44:16.191Z [error    ] outbox relay failed; retrying [outbox]\n"
TRACEBACK = [b"Traceback (most recent call last):\n", b'  File "x.py", line 1\n']


def test_routine_lines_stay_out_of_the_terminal_and_problems_reach_it() -> None:
    shown = EchoFilter()
    assert not shown(INFO)
    assert shown(WARNING)
    assert shown(ERROR)
    assert all(shown(line) for line in TRACEBACK)  # the error's traceback comes with it
    assert not shown(INFO)
    assert not shown(b"  a continuation of an info record\n")


def test_json_log_lines_are_sorted_the_same_way() -> None:
    shown = EchoFilter()
    assert not shown(b'{"event": "Processed", "level": "info"}\n')
    assert shown(b'{"event": "relay failed", "level": "error"}\n')


def test_follow_logs_shows_everything() -> None:
    shown = EchoFilter(everything=True)
    assert shown(INFO) and shown(WARNING)


def test_the_pump_writes_every_line_to_the_log_and_only_the_shown_ones_to_the_terminal(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    echo = threading.Event()
    echo.set()
    log = tmp_path / "offers.log"
    lines = [INFO, ERROR, *TRACEBACK, INFO]
    runner.pump_output(
        io.BytesIO(b"".join(lines)), log.open("wb"), b"offers | ", echo, EchoFilter()
    )
    assert log.read_bytes() == b"".join(lines)
    assert capsysbinary.readouterr().out == b"".join(b"offers | " + x for x in [ERROR, *TRACEBACK])


DEMO = demo.Demo(
    territory="Vallée de la Drôme (démo)",
    territory_id="5e0b7c1e-8a3e-4c4f-9d57-0a4cf7f4f0a1",
    members=(
        demo.Member("facilitator", "0f6d1c52-61c3-4bb1-a1e4-6f0f64b2e1d1", "Équipe", "mcvt_a_1"),
        demo.Member("business", "8c1f0f0e-2b7e-4a4a-9c55-6e3a4f3a8d12", "Frigo", "mcvt_b_2"),
    ),
    listings=(demo.Listing("offer", "3730b538-77cc-4fed-8735-08b8b54b23fb", "Van", "per use"),),
)


def test_the_demo_keys_are_saved_for_scripts_and_for_people(tmp_path: Path) -> None:
    written = demo.save_demo(DEMO, tmp_path, "http://127.0.0.1:8001")
    assert written == [tmp_path / "demo.json", tmp_path / "demo-keys.txt"]
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o600  # API keys: the owner's eyes only
    data = json.loads((tmp_path / "demo.json").read_text(encoding="utf-8"))
    assert [m["api_key"] for m in data["members"]] == ["mcvt_a_1", "mcvt_b_2"]
    assert demo.saved_demo(tmp_path) == DEMO
    text = (tmp_path / "demo-keys.txt").read_text(encoding="utf-8")
    assert "API key: mcvt_a_1" in text and "API key: mcvt_b_2" in text
    assert "Vallée de la Drôme (démo)" in text and "http://127.0.0.1:8001/v1/auth/token" in text


def test_no_saved_demo_is_none(tmp_path: Path) -> None:
    assert demo.saved_demo(tmp_path) is None
    (tmp_path / "demo.json").write_text("{not json", encoding="utf-8")
    assert demo.saved_demo(tmp_path) is None


def test_the_stack_addresses_are_shell_variables(tmp_path: Path) -> None:
    odd = "postgresql://postgres:p%40ss'w rd@127.0.0.1:5432/mcvt_actors"
    path = runner.write_stack_env(
        tmp_path, {"actors": "http://127.0.0.1:8001"}, {"actors": odd}, "127.0.0.1:9092"
    )
    assert path.stat().st_mode & 0o777 == 0o600
    script = f'. {shlex.quote(str(path))} && printf \'%s\\n\' "$ACTORS_DATABASE_URL" "$ACTORS_URL"'
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [odd, "http://127.0.0.1:8001"]
