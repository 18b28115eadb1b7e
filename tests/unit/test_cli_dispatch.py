"""A command builds only its own module's typer commands (start-up), and gets exactly what the full app has."""

from __future__ import annotations

import typer

from radguard.cli.main import _top_names, app, app_for


def _params(command: object) -> list[str]:
    return [p.name for p in getattr(command, "params", [])]


def test_every_command_is_built_alone_with_the_same_parameters() -> None:
    full = typer.main.get_command(app)
    names = sorted(_top_names(app))
    assert {"scan", "seal", "audit", "pcap", "gateway", "web", "govern", "range", "report"} <= set(names)
    for name in names:
        one = app_for([name, "--json"])
        assert one is not app and name in _top_names(one)
        alone = typer.main.get_command(one)
        assert _params(alone.commands[name]) == _params(full.commands[name]), name  # type: ignore[attr-defined]
        assert len(_top_names(one)) < len(names)


def test_root_help_version_and_unknown_commands_get_the_whole_app() -> None:
    assert app_for([]) is app
    assert app_for(["--version"]) is app
    assert app_for(["no-such-command"]) is app


def test_building_a_command_twice_does_not_duplicate_it() -> None:
    before = len(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    for _ in range(3):
        app_for(["seal"])
        app_for(["findings", "list"])
    assert len(typer.main.get_command(app).commands) == before  # type: ignore[attr-defined]
    group = typer.main.get_command(app_for(["findings"])).commands["findings"]  # type: ignore[attr-defined]
    assert sorted(group.commands) == ["diff", "list"]
