"""Leaderboard tables as data: one tidy frame, one row per cell (table, row, column, value), and the formats
built from it with pandas.

The tidy frame is what CSV holds (plain headers, one table per `table` value, missing cells empty), so
`pandas.read_csv` reads it back as it was written; `wide` pivots one table back to the card's shape (row and column
order kept) for LaTeX. Values stay unscaled and unrounded; LaTeX prints them as the table spec formats them.
"""

from __future__ import annotations

import io

import pandas as pd

from harness.tables import MISSING, Table

COLUMNS = ("table", "row", "column", "value")


def column_name(header: str) -> str:
    """A header without JMTEB's markdown line break: `jsts<br>(spearman)` -> `jsts (spearman)`."""
    return header.replace("<br>", " ")


def tidy(tables: list[Table]) -> pd.DataFrame:
    records = [{"table": table.title, "row": str(row[0]), "column": column_name(header), "value": value}
               for table in tables for row in table.rows for header, value in zip(table.header[1:], row[1:])]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS)).astype({"value": "float64"})


def wide(frame: pd.DataFrame, title: str) -> pd.DataFrame:
    """One table of the tidy frame in its own shape: rows and columns in the order they were written."""
    part = frame[frame["table"] == title]
    shaped = part.pivot(index="row", columns="column", values="value")
    return shaped.loc[list(dict.fromkeys(part["row"])), list(dict.fromkeys(part["column"]))]


def to_csv(tables: list[Table]) -> str:
    return tidy(tables).to_csv(index=False, lineterminator="\n")


def to_latex(tables: list[Table]) -> str:
    """One `tabular` per table (booktabs rules), cells formatted as the spec says, missing cells "—"."""
    frame = tidy(tables)
    parts = []
    for table in tables:
        spec = table.spec
        values = wide(frame, table.title)
        shaped = values.rename_axis(index=table.header[0], columns=None).reset_index()
        styler = shaped.style.hide(axis="index") \
            .format(lambda v: f"{v * spec.scale:.{spec.decimals}f}", na_rep=MISSING, subset=list(values.columns)) \
            .format(escape="latex", subset=[table.header[0]]).format_index(escape="latex", axis=1)
        text = styler.to_latex(hrules=True, column_format="l" + "r" * values.shape[1])
        caption = f"% {table.title}: {table.note}\n" if table.title else f"% {table.note}\n"
        parts.append(caption + text)
    return "\n".join(parts)


def read_csv(text: str) -> pd.DataFrame:
    """The tidy CSV read back (what a user's `pd.read_csv` does)."""
    return pd.read_csv(io.StringIO(text))
