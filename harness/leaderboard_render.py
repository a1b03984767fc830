"""Leaderboard tables as markdown, CSV, JSON or LaTeX.

Markdown of the `jmteb` layout reproduces JMTEB's leaderboard.md byte for byte: a pipe table whose column
width is max(len(header) + 2, longest cell), cells left-aligned (JMTEB 1.3) or centred with the extra space on
the right (JMTEB 1.4, model names stay left). Card layouts print compact pipe tables like the cards do.
CSV (the tidy frame of harness.table_frame: table, row, column, value) and JSON carry the unrounded, unscaled
values; LaTeX prints them as markdown does.
"""

from __future__ import annotations

import json

from harness.table_frame import to_csv, to_latex
from harness.tables import MISSING, Table

HEADER = ("# Leaderboard\nThis leaderboard shows the results stored under `docs/results`. "
          "The scores are all multiplied by 100.\n\n")
SUMMARY_TEXT = {
    "micro": "The summary shows the average scores within each task. "
             "The average score is the average of scores by dataset.",
    "macro": "The summary shows the average scores within each task. "
             "The average score is the average of the task averages.",
}


def fmt(value: float | None, scale: float, decimals: int) -> str:
    return MISSING if value is None else f"{value * scale:.{decimals}f}"


def formatted(table: Table) -> list[list[str]]:
    """Label + formatted cells; the maximum of each numeric column in bold (every tie bold, as JMTEB does)."""
    spec = table.spec
    width = len(table.header)
    best = [max((r[i] for r in table.rows if r[i] is not None), default=None) if i else None for i in range(width)]
    out = []
    for row in table.rows:
        cells = [str(row[0])]
        for i in range(1, width):
            text = fmt(row[i], spec.scale, spec.decimals)
            bold = spec.bold and row[i] is not None and row[i] == best[i]
            cells.append(f"**{text}**" if bold else text)
        out.append(cells)
    return out


def pipe_table(header: list[str], rows: list[list[str]], align: str) -> str:
    """tabulate's "pipe" format with string cells (what JMTEB's exporter calls)."""
    widths = [max([len(h) + 2] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    aligns = ["left"] + [align] * (len(header) - 1)

    def pad(text: str, width: int, how: str) -> str:
        if how == "center":
            left = (width - len(text)) // 2
            return " " * left + text + " " * (width - len(text) - left)
        return text.ljust(width)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(pad(c, w, a) for c, w, a in zip(cells, widths, aligns)) + " |"

    rule = "|" + "|".join((":" + "-" * w + ":") if a == "center" else (":" + "-" * (w + 1))
                          for w, a in zip(widths, aligns)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def card_markdown(table: Table) -> str:
    head = "| " + " | ".join(table.header) + " |"
    rule = "|" + "|".join([":---"] + [":---:"] * (len(table.header) - 1)) + "|"
    body = ["| " + " | ".join(cells) + " |" for cells in formatted(table)]
    title = f"### {table.title}\n\n" if table.title else ""
    return title + "\n".join([head, rule] + body) + f"\n\n_{table.note}_\n"


def jmteb_markdown(tables: list[Table]) -> str:
    parts = [HEADER]
    for table in tables:
        parts.append(f"## {table.title}\n")
        if table.title == "Summary":
            parts.append(f"\n{SUMMARY_TEXT[table.spec.averaging]}\n\n")
        parts.append(pipe_table(table.header, formatted(table), table.spec.align))
        parts.append("\n\n")
    return "".join(parts)


def render(tables: list[Table], fmt_name: str, sources: list[str]) -> str:
    if fmt_name == "md":
        if tables and tables[0].spec.layout == "jmteb":
            return jmteb_markdown(tables)
        sources_line = "".join(f"\nSource: {s}\n" for s in sources)
        return "\n".join(card_markdown(t) for t in tables) + sources_line
    if fmt_name == "csv":
        return to_csv(tables)
    if fmt_name == "latex":
        return to_latex(tables)
    return json.dumps({"sources": sources, "tables": [t.to_json() for t in tables]}, indent=2,
                      ensure_ascii=False) + "\n"
