"""Plain command-line values are converted without pydantic, to exactly what typer's own converter gives
(issue 15: start-up); anything else is left to typer, with typer's own error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from radguard.cli import coerce
from radguard.cli.main import app, main

pytestmark = pytest.mark.skipif(coerce.RuntimeParam is None, reason="this typer converts with click types")

_VALUES: dict[Any, list[Any]] = {
    str: ["", "x", " spaced ", "-", "ünï", "[a]"],
    int: [0, 7, -3, "0", "007", "+5", "-12", "123456789012345678", " 5", "1_000", "5.0", "x", "", "0x10", 2.0, True],
    float: [0.5, 3, -0.0, "1", "1.5", "-2.25", ".5", "5.", "1e3", "2E-2", "inf", "nan", " 2", "1_0", "x", True,
            "1e999", "-1e-999", "123456789012345678901234567890.123456789012345678901234567891",
            "0.1000000000000000055511151231257827", "2.2250738585072011e-308", 10**400, float("nan")],
    Path: ["", "a", "/x/../y", " sp ", "~/x", "-", Path("p")],
}


def _descriptor(annotation: Any, **info: Any) -> Any:
    from typer._coercion import resolve_type_descriptor
    from typer.models import OptionInfo

    return resolve_type_descriptor(annotation, OptionInfo(**info))


def _typer(descriptor: Any, value: Any) -> tuple[str, Any]:
    from typer._coercion import build_runtime_param

    try:
        return "ok", build_runtime_param(descriptor)._coerce_value(value, param=None, ctx=None)  # type: ignore[arg-type]
    except Exception as exc:
        return "error", type(exc).__name__


def _cases() -> list[tuple[Any, dict[str, Any], Any]]:
    cases: list[tuple[Any, dict[str, Any], Any]] = []
    for annotation, values in _VALUES.items():
        for value in values:
            cases.append((annotation, {}, value))
            cases.append((list[annotation], {}, [value, value]))  # type: ignore[valid-type]
    for info in ({"min": 1}, {"min": 0, "max": 10}, {"max": 4096}):
        for value in (-1, 0, 1, 10, 11, 5000, "3", "-1", "11", 0.5):
            cases.append((int, info, value))
            cases.append((float, info, value))
    cases.append((Path, {"exists": True}, "/no/such/path"))
    cases.append((Path, {"exists": True}, "/"))
    cases.append((Path, {"exists": True, "dir_okay": False}, "/"))
    cases.append((Path, {"resolve_path": True}, "/tmp/../etc"))
    return cases


@pytest.mark.parametrize(("annotation", "info", "value"), _cases())
def test_a_plain_value_is_what_typer_gives_and_the_rest_is_left_to_typer(annotation: Any, info: dict[str, Any],
                                                                          value: Any) -> None:
    descriptor = _descriptor(annotation, **info)
    want = _typer(descriptor, value)
    try:
        got = coerce.plain_value(descriptor, value)
    except coerce._Other:
        return  # typer's converter decides (the installed parameter falls back to it)
    assert want == ("ok", got), (annotation, info, value)
    assert type(got) is type(want[1])


def test_plain_cases_are_the_common_ones() -> None:
    for annotation, value, want in ((str, "x", "x"), (int, "42", 42), (float, "0.5", 0.5), (Path, "a/b", Path("a/b")),
                                    (list[str], ("a", "b"), ["a", "b"]), (list[int], ("1",), [1])):
        assert coerce.plain_value(_descriptor(annotation), value) == want
    with pytest.raises(coerce._Other):
        coerce.plain_value(_descriptor(int, min=1), "0")  # out of range: typer's message


def test_install_covers_every_parameter_and_keeps_typer_errors() -> None:
    command = typer.main.get_command(app)
    coerce.install(command)
    stack: list[Any] = [command]
    seen = 0
    while stack:
        c = stack.pop()
        for p in c.params:
            assert type(p._runtime_param).__name__ == "_PlainParam", (c.name, p.name)
            seen += 1
        stack.extend(getattr(c, "commands", {}).values())
    assert seen > 100


def test_a_bad_value_gives_typer_s_own_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--limit", "0", "--json"]) == 2
    err = capsys.readouterr().err
    assert "--limit" in err and "greater than or equal to 1" in err
    assert main(["runs", "--limit", "many", "--json"]) == 2
    assert "valid integer" in capsys.readouterr().err


def test_runs_json_does_not_import_pydantic(tmp_path: Path) -> None:
    env = {**os.environ, "RADGUARD_DB": f"sqlite:///{tmp_path / 'store.db'}"}
    code = ("import sys; from radguard.cli.main import main; rc = main(['runs', '--json', '--limit', '5', "
            "'--kind', 'seal']); print(rc, 'pydantic' in sys.modules, 'click' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert proc.stderr.split()[-3:] == ["0", "False", "False"], proc.stderr
    assert proc.stdout.startswith('{"schema": "radguard.runs/1"')
