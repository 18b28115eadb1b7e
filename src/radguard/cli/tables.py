"""Tables for people that never cut an identifier (issue 16 item 12).

At 80 columns (a pipe, an SSH session) Rich shrinks every column to fit and cuts the cells, so two rules
``dicom-any-calling-ae-accepted`` and ``dicom-any-calling-ae-query`` both read ``dicom-any-cal…``.
:func:`print_table` gives each column a role: a **key** (rule id, target, control ref) is printed whole
on one line; a **words** column (a list of control ids) wraps only between its words; a **text** column
(title) wraps anywhere it must. When the keys and the narrowest readable other columns do not fit the
console, the table falls back to a plain layout: one block per row, the keys on its first line, the
other columns indented below, lines never cropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["key", "words", "text"]

#: narrowest a wrapping ``text`` column may become before the plain layout reads better
MIN_TEXT = 12


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    role: Role = "text"
    style: str | None = None


def _plain(cell: Any) -> str:
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)


def _width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


def needed_widths(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> list[int]:
    """The narrowest width of each column that cuts no key and no word of a ``words`` column."""
    widths = []
    for i, col in enumerate(columns):
        cells = [_plain(r[i]) for r in rows]
        if col.role == "key":
            widths.append(max([_width(col.header), *(_width(c) for c in cells)]))
        elif col.role == "words":
            widths.append(max([_longest_word(col.header), *(_longest_word(c) for c in cells)]))
        else:
            widths.append(min(MIN_TEXT, max([_width(col.header), *(_width(c) for c in cells)])))
    return widths


def print_table(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, title: str | None = None,
                caption: str | None = None) -> None:
    """Print ``rows`` as a Rich table that cuts no key, or as plain blocks when it cannot fit ``console``."""
    from rich.table import Table

    widths = needed_widths(columns, rows)
    # a Rich table with the default box and padding (0, 1): 3 characters per column, plus one border
    if sum(widths) + 3 * len(columns) + 1 <= console.width:
        table = Table(title=title, caption=caption)
        for col, width in zip(columns, widths, strict=True):
            if col.role == "key":
                table.add_column(col.header, style=col.style, no_wrap=True, min_width=width, max_width=width)
            elif col.role == "words":
                table.add_column(col.header, style=col.style, min_width=width)
            else:
                table.add_column(col.header, style=col.style, overflow="fold", min_width=width)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    _print_blocks(console, columns, rows, title=title, caption=caption)


def _print_blocks(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, title: str | None,
                  caption: str | None) -> None:
    from rich.text import Text

    def out(text: Text) -> None:
        console.print(text, soft_wrap=True, crop=False, overflow="ignore", highlight=False)

    if title:
        out(Text(title, style="bold"))
    keys = [i for i, c in enumerate(columns) if c.role == "key"]
    others = [i for i, c in enumerate(columns) if c.role != "key"]
    for row in rows:
        first = Text()
        for i in keys:
            cell = row[i]
            text = cell if isinstance(cell, Text) else Text.from_markup(str(cell))
            if text.plain:
                if first.plain:
                    first.append("  ")
                first.append_text(text)
        out(first)
        for i in others:
            value = _plain(row[i])
            if value:
                out(Text(f"    {columns[i].header}: {value}"))
    if caption:
        out(Text(caption, style="dim"))
