"""Result tables as narrow plain text: columns when they fit the width, one line per value when not.

The book's pages show printed output in a column about 80 characters wide on a
desktop screen, so every table printed by a chapter goes through
:func:`format_table`, which keeps each line within ``width`` characters.

Rows are dicts (keys are the column names) or sequences (then ``headers``
names the columns). Numbers are formatted by a per-column format spec, the
part after the colon in ``"{:.3f}"``::

    >>> rows = [{"model": "plain", "acc": 0.9132, "seconds": 41.2},
    ...         {"model": "resnet", "acc": 0.9457, "seconds": 63.9}]
    >>> print(format_table(rows, formats={"acc": ".1%", "seconds": ".0f"}))
    model     acc  seconds
    ------  -----  -------
    plain   91.3%       41
    resnet  94.6%       64

When the columns do not fit, the table is transposed: one block per row, one
``key: value`` line per column, the blocks separated by a blank line (or, with
``title_column``, headed by that column's value).
"""

import math
import numbers
from collections.abc import Mapping, Sequence

__all__ = ["format_table", "print_table"]


def _is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _cell(value, spec, name):
    """One value as text, with the column's format spec applied to numbers."""
    if value is None:
        return ""
    if spec is not None and _is_number(value):
        try:
            return format(value, spec)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"format_table: formats[{name!r}] = {spec!r} cannot format "
                             f"{value!r} ({exc})") from None
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, "g")
    return str(value)


def _normalise(rows, headers):
    """(column names, list of row tuples) from dict rows or sequence rows."""
    if isinstance(rows, (str, bytes, Mapping)):
        raise TypeError("format_table: rows must be a list of dicts or of sequences, "
                        f"not a single {type(rows).__name__}")
    try:
        rows = list(rows)
    except TypeError:
        raise TypeError("format_table: rows must be a list of dicts or of sequences, "
                        f"not {type(rows).__name__}") from None
    if rows and all(isinstance(r, Mapping) for r in rows):
        if headers is None:
            headers = []
            for r in rows:
                headers.extend(k for k in r if k not in headers)
        headers = [str(h) for h in headers]
        return headers, [tuple(r.get(h) for h in headers) for r in rows]
    if any(isinstance(r, Mapping) for r in rows):
        raise TypeError("format_table: rows mix dicts and sequences; use one kind")
    for i, r in enumerate(rows):
        if isinstance(r, (str, bytes)) or not isinstance(r, Sequence):
            raise TypeError(f"format_table: row {i} is a {type(r).__name__}; rows must be "
                            "dicts or sequences (lists, tuples)")
    n = max((len(r) for r in rows), default=0)
    if headers is None:
        headers = [str(i) for i in range(n)]
    headers = [str(h) for h in headers]
    for i, r in enumerate(rows):
        if len(r) != len(headers):
            raise ValueError(f"format_table: row {i} has {len(r)} values but there are "
                             f"{len(headers)} headers")
    return headers, [tuple(r) for r in rows]


def format_table(rows, headers=None, *, width=80, formats=None, title_column=None,
                 align=None, gap=2, transpose=None):
    """Format result rows as a plain-text table at most ``width`` characters wide.

    Parameters
    ----------
    rows : list of dict, or list of sequences
        One entry per result. Dict rows name their columns by key (the union
        of keys in first-seen order; missing values print empty); sequence
        rows need ``headers``, or get column numbers.
    headers : list of str, optional
        Column names and order. With dict rows it selects and orders columns.
    width : int
        Widest line allowed (80 keeps a chapter's output uncut on the web page).
    formats : dict of str to str, or str, optional
        Format spec per column for numbers, e.g. ``{"acc": ".3f", "n": ","}``;
        one string applies to every numeric column. Other numbers use ``"g"``
        for floats and ``str`` for the rest.
    title_column : str, optional
        In the transposed layout, this column's value heads each block instead
        of appearing as a ``key: value`` line.
    align : dict of str to {"<", ">"}, optional
        Alignment per column; numbers align right and text left by default.
    gap : int
        Spaces between columns.
    transpose : bool, optional
        Force the layout: ``True`` for one line per value, ``False`` for
        columns even if they are too wide. By default columns are used when
        they fit within ``width`` and the transposed layout otherwise.

    Returns
    -------
    str
        The table, lines joined by newlines, without a trailing newline.
        In the transposed layout, values too long for a line wrap onto
        indented continuation lines, so no line exceeds ``width``.

    Raises
    ------
    ValueError
        If ``width`` is too small, a row's length does not match ``headers``,
        a format spec does not apply, or ``title_column`` is not a column.
    TypeError
        If ``rows`` is not a list of dicts or of sequences.
    """
    if not isinstance(width, numbers.Integral) or width < 20:
        raise ValueError(f"format_table: width must be an integer of at least 20, got {width!r}")
    if not isinstance(gap, numbers.Integral) or gap < 1:
        raise ValueError(f"format_table: gap must be a positive integer, got {gap!r}")
    headers, rows = _normalise(rows, headers)
    if isinstance(formats, str):
        formats = {h: formats for h in headers}
    formats = dict(formats or {})
    unknown = set(formats) - set(headers)
    if unknown:
        raise ValueError(f"format_table: formats names columns that are not in the table: "
                         f"{sorted(unknown)}")
    if title_column is not None and title_column not in headers:
        raise ValueError(f"format_table: title_column {title_column!r} is not a column "
                         f"(columns: {headers})")
    align = dict(align or {})
    for name, a in align.items():
        if a not in ("<", ">"):
            raise ValueError(f"format_table: align[{name!r}] must be '<' or '>', got {a!r}")

    cells = [[_cell(v, formats.get(h), h) for v, h in zip(r, headers)] for r in rows]
    numeric = [bool(rows) and all(_is_number(r[j]) or r[j] is None for r in rows)
               and any(_is_number(r[j]) for r in rows) for j in range(len(headers))]
    widths = [max([len(h)] + [len(c[j]) for c in cells]) for j, h in enumerate(headers)]
    total = sum(widths) + gap * (len(headers) - 1)
    if transpose is None:
        transpose = total > width
    if not transpose:
        return _columns(headers, cells, widths, numeric, align, gap)
    return _transposed(headers, cells, title_column, width)


def _columns(headers, cells, widths, numeric, align, gap):
    def line(values):
        parts = []
        for j, (v, w) in enumerate(zip(values, widths)):
            a = align.get(headers[j], ">" if numeric[j] else "<")
            parts.append(f"{v:{a}{w}}")
        return (" " * gap).join(parts).rstrip()

    out = [line(headers), (" " * gap).join("-" * w for w in widths)]
    out.extend(line(c) for c in cells)
    return "\n".join(out)


def _wrap(text, room):
    """Pieces of ``text`` no longer than ``room``, split at spaces where possible."""
    pieces = []
    lead = len(text) - len(text.lstrip(" "))
    while len(text) > room:
        cut = text.rfind(" ", lead + 1, room + 1)
        if cut <= lead:
            cut = room
        lead = 0
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    pieces.append(text)
    return pieces


def _transposed(headers, cells, title_column, width):
    keys = [h for h in headers if h != title_column]
    indent = "  " if title_column is not None else ""
    key_width = max((len(k) for k in keys if len(indent) + len(k) + 2 <= width // 2), default=0)
    blocks = []
    for c in cells:
        values = dict(zip(headers, c))
        lines = []
        if title_column is not None:
            lines.extend(_wrap(values[title_column], width))
        for k in keys:
            head = f"{indent}{k:<{key_width}}: "
            if len(head) > width // 2:
                head = f"{indent}{k}: "
            if len(head) > width // 2:
                lines.extend(_wrap(f"{indent}{k}:", width))
                head = indent + "    "
            pieces = _wrap(values[k], width - len(head))
            lines.append((head + pieces[0]).rstrip())
            lines.extend((" " * len(head) + p).rstrip() for p in pieces[1:])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def print_table(rows, headers=None, **kwargs):
    """Print :func:`format_table` of the same arguments (see there)."""
    print(format_table(rows, headers, **kwargs))
