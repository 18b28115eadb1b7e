"""Command-line values checked without pydantic when they are plain (issue 15: start-up).

Newer typer (0.29 here) converts every parameter value through a pydantic ``TypeAdapter``: the first
option that is not a bare flag imports pydantic and builds the adapters, about 0.1-0.15 s of every
command (``radguard runs --json`` itself takes a few milliseconds). :func:`install` gives each
parameter of a built command a converter that handles the plain cases radguard uses itself
(``str``, ``int`` and ``float`` with their ``min``/``max``, ``Path``, lists of these, ``None``) with
the standard library and gives anything else to typer's own converter, built when first needed:
another annotation, a parser, a value that does not convert, a number out of its range. Every error
message is therefore typer's own, and an accepted value is the one typer would give (the cases are
checked against typer's adapters in ``tests/unit/test_cli_coerce.py``).

With a typer that has no such converter (older versions, which use click types), :func:`install`
changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # newer typer: runtime coercion through pydantic (private API, checked by install's guard)
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:  # pragma: no cover - older typer converts with click types; nothing to do
    RuntimeParam = None  # type: ignore[assignment,misc]

__all__ = ["install", "plain_value"]

#: decimal integers as pydantic reads them (sign, leading zeros) and int() reads them alike; no ``_``,
#: no spaces, at most 18 digits (no big-number limits to match)
_INT = re.compile(r"[+-]?[0-9]{1,18}")
#: decimal floats that float() and pydantic read alike (no ``inf``/``nan``, ``_`` or spaces)
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?")


class _Other(Exception):
    """The value is not one of the plain cases: typer's own converter decides."""


def _number(kind: type, value: Any, info: Any) -> int | float:
    if kind is int:
        if type(value) is int:
            out: int | float = value
        elif type(value) is str and _INT.fullmatch(value):
            out = int(value)
        else:
            raise _Other
    elif type(value) in (float, int) or (type(value) is str and _FLOAT.fullmatch(value)):
        try:
            out = float(value)
        except OverflowError:  # an int beyond float: typer's message
            raise _Other from None
    else:
        raise _Other
    if info.clamp and (info.min is not None or info.max is not None):
        raise _Other
    if (info.min is not None and not out >= info.min) or (info.max is not None and not out <= info.max):
        raise _Other  # typer's message for a value out of range
    return out


def _leaf(annotation: Any, value: Any, info: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as typer's adapter for the leaf ``annotation`` would, or :class:`_Other`."""
    if info.parser is not None:
        raise _Other
    if annotation is str or annotation is bool:
        if type(value) is annotation:
            return value
        raise _Other
    if annotation is int or annotation is float:
        return _number(annotation, value, info)
    if annotation is Path and info.path_type is None:
        if type(value) is str:
            value = Path(value)  # what pydantic's Path gives for a str (typer's coerce_cli_path asks it)
        elif not isinstance(value, Path):
            raise _Other
        try:
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
        except Exception:
            raise _Other from None  # typer's own converter raises its own error
    raise _Other


def plain_value(descriptor: Any, value: Any, param: Any = None, ctx: Any = None) -> Any:
    """``value`` of a parameter described by ``descriptor`` converted without pydantic, or raise
    :class:`_Other` (a plain case is one typer's adapter converts to this same value)."""
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if descriptor.file_annotation is not None:
        raise _Other
    if getattr(annotation, "__origin__", None) is list:
        (item,) = annotation.__args__
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_leaf(item, v, info, param, ctx) for v in items]
    return _leaf(annotation, value, info, param, ctx)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainParam(RuntimeParam):
        """Typer's runtime converter contract; plain values here, the rest by typer's own converter."""

        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return plain_value(self.descriptor, value, param, ctx)
            except _Other:
                pass
            own = build_runtime_param(self.descriptor)
            param._runtime_param = own  # later values of this parameter go to typer's converter directly
            return own._coerce_value(value, param=param, ctx=ctx)


def _plain(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if isinstance(descriptor, TypeDescriptor) and getattr(param, "_runtime_param", False) is None:
        param._runtime_param = _PlainParam(annotation=descriptor.annotation, parameter_info=descriptor.parameter_info,
                                           descriptor=descriptor)


def install(command: Any) -> None:
    """Give every parameter of ``command`` and of its subcommands the plain converter, also the ``--help``
    option a command makes while it parses (typer converts its value too)."""
    if RuntimeParam is None:  # pragma: no cover - older typer
        return
    for param in getattr(command, "params", ()):
        _plain(param)
    own_help = getattr(command, "get_help_option", None)
    if callable(own_help):

        def get_help_option(ctx: Any) -> Any:
            option = own_help(ctx)
            if option is not None:
                _plain(option)
            return option

        command.get_help_option = get_help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        install(sub)
