"""Table layouts as data (conf/tables/<name>.yaml; see conf/tables/README.md) and the tables built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.errors import HarnessError, one_of
from harness.paths import ROOT

SPEC_DIR = ROOT / "conf" / "tables"
AVERAGING = {
    "micro": "micro average: mean over all datasets",
    "macro": "macro average: mean of the category means (each category = mean of its datasets)",
    "none": "no average: each cell is one published or reproduced figure",
}
LAYOUTS = ("jmteb", "categories", "columns", "datasets")


@dataclass(frozen=True)
class Spec:
    """A table layout as data (conf/tables/<name>.yaml)."""

    name: str
    layout: str
    title: str = ""
    sources: tuple[str, ...] = ()        # published files read by default, relative to the repository root
    averaging: str = "micro"             # micro | macro | none
    categories: tuple[str, ...] = ("Retrieval", "STS", "Classification", "Reranking", "Clustering",
                                   "PairClassification")
    rows: tuple[str, ...] = ()           # models (or datasets) in this order; empty = every model, sorted
    labels: dict[str, str] = field(default_factory=dict)    # model/dataset -> label printed in the card
    columns: tuple[dict, ...] = ()       # layouts columns/datasets: [{task?, metric, label}]
    model: str = ""                      # layout datasets: the one model
    mean_row: str = ""                   # layout datasets: label of the mean row (printed first)
    aliases: dict[str, str] = field(default_factory=dict)   # layout jmteb: dataset -> shown name
    # suite task -> the task's name in the card's published sources, where they differ: columns and rows name
    # the suite's tasks, so a run of the suite lands in the card's cells
    card_names: dict[str, str] = field(default_factory=dict)
    # model -> averaging rule for the published rows a card averages otherwise than `averaging` (RoSEtta's card
    # prints the leaderboard's micro averages beside its own macro one); a run's row follows `averaging`
    row_averaging: dict[str, str] = field(default_factory=dict)
    align: str = "left"                  # layout jmteb: left (JMTEB 1.3) | center (JMTEB 1.4)
    same_structure_as: str = ""          # layout jmteb: drop models whose datasets differ from this model's
    read_order: tuple[str, ...] = ()     # layout jmteb: models read first, in this order (decides exact ties)
    scale: float = 100.0
    decimals: int = 2
    bold: bool = True
    source_file: str = ""


def load_spec(name_or_path: str) -> Spec:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = SPEC_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise one_of("table", name_or_path, [p.stem for p in SPEC_DIR.glob("*.yaml")])
    if not path.is_file():
        raise HarnessError(f"{path}: no such table spec")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = set(Spec.__dataclass_fields__) - {"name", "source_file"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise HarnessError(f"{path}: unknown field '{unknown[0]}'; valid: {', '.join(sorted(known))}")
    if data.get("layout") not in LAYOUTS:
        raise HarnessError(f"{path}: field 'layout' must be one of {', '.join(LAYOUTS)}, got {data.get('layout')!r}")
    if data.get("averaging", "micro") not in AVERAGING:
        raise HarnessError(f"{path}: field 'averaging' must be one of {', '.join(AVERAGING)}")
    for key in ("labels", "aliases", "card_names", "row_averaging"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise HarnessError(f"{path}: field '{key}' must map names to names")
    for model, rule in (data.get("row_averaging") or {}).items():
        if rule not in ("micro", "macro"):
            raise HarnessError(f"{path}: field 'row_averaging.{model}' must be micro or macro, got {rule!r}")
    for key in ("sources", "categories", "rows", "columns", "read_order"):
        if key in data:
            data[key] = tuple(data[key])
    return Spec(name=path.stem, source_file=str(path), **data)


DEFAULT_SPEC = Spec(name="jmteb", layout="jmteb", title="Leaderboard")


MISSING = "—"  # a cell the card has but the row's source does not (each one named in Table.warnings)


@dataclass
class Table:
    """Rows of unscaled values (None: a missing cell); the first cell of each row is its label. `note` names the
    averaging rule; `warnings` name every missing cell of a run's row."""

    title: str
    header: list[str]
    rows: list[list]
    note: str
    spec: Spec
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"title": self.title, "note": self.note, "header": self.header,
                "rows": [dict(zip(self.header, r)) for r in self.rows], "warnings": self.warnings}
