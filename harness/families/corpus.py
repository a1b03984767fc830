"""A retrieval corpus: document ids, their tie-break ranks, and the texts - in memory, or streamed.

`load_corpus` reads the whole corpus (rows and texts) into memory: the default, exact path. With
`encode.storage_dtype` set (the large-corpus mode, harness.store) retrieval uses `stream_corpus` instead,
because a 7M-passage corpus as row dicts plus texts costs ~10 GB: pass 1 reads the ids only (duplicate ids,
an empty corpus and empty documents are found there, so qrels can be checked before anything is encoded);
`StreamedCorpus.stream_texts` reads the file again and hands the texts to the encoder block by block; and
`texts_at` reads it once more for the few documents a score needs as text (AIO3's answer matching). Each
later pass checks that the file still holds the ids of pass 1, in the same order.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from harness.data import kept, numbered
from harness.errors import HarnessError
from harness.families.base import Context
from harness.spec import TaskSpec
from harness.vocab import Vocab

DOC_TEXT = Vocab.of("doc_text", ("text", "title_text"))


def doc_text(row: dict, task: TaskSpec, mode: str) -> str:
    _check_mode(task, mode)
    text = row.get(task.column("text")) or ""
    if mode == "title_text":  # MTEB / BEIR / most cards: title + " " + text
        title = row.get(task.column("title")) or ""
        return f"{title} {text}".strip()
    return text


def _check_mode(task: TaskSpec, mode: str) -> None:
    DOC_TEXT.check(mode, f"{task.file}: field 'doc_text'")


def id_column(task: TaskSpec) -> str:
    return "_id" if task.schema == "beir" else "docid"


def rank_ids(ids: list[str]) -> tuple[np.ndarray, int | None]:
    """Each id's rank in sorted order (the deterministic tie-break), and the position of the first id that
    repeats an earlier one (None when all differ): one sort finds both, without a set of all ids."""
    as_array = np.array(ids, dtype=object)
    order = np.argsort(as_array, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    in_order = as_array[order]
    # the sort is stable, so of equal neighbours the second is the later occurrence
    repeats = order[1:][in_order[1:] == in_order[:-1]]
    return rank, (int(repeats.min()) if len(repeats) else None)


def check_text_columns(row: dict, task: TaskSpec, where: str, line: int) -> None:
    """A document's text and title are strings when present (null reads as empty): a number or a list would
    reach the tokenizer as something no reference embeds."""
    for name in ("text", "title"):
        value = row.get(task.column(name))
        if value is not None and not isinstance(value, str):
            raise HarnessError(f"{where}:{line}: column '{task.column(name)}' must be text, got "
                               f"{type(value).__name__}")


def _duplicate_error(task: TaskSpec, where: str, line: int, doc: str) -> HarnessError:
    return HarnessError(f"{where}:{line}: duplicate document id '{doc}' in column '{task.column(id_column(task))}'")


def _empty_error(task: TaskSpec, where: str) -> HarnessError:
    return HarnessError(f"{where}: the corpus of task {task.name} is empty")


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]
    id_rank: np.ndarray  # rank of each id in sorted order: the deterministic tie-break
    lines: list[int]  # each document's line in its file, for messages

    def texts_at(self, positions: Iterable[int]) -> dict[int, str]:
        return {i: self.texts[i] for i in positions}


def load_corpus(task: TaskSpec, ctx: Context, mode: str, drop_empty: bool = False) -> tuple[Corpus, set[str]]:
    """The corpus in memory, and the ids of documents dropped for an empty text (sentence-transformers drops
    them but still counts them as relevant)."""
    id_col = task.column(id_column(task))
    rows = ctx.data.rows(task, "corpus", (id_column(task), "text"))
    where = ctx.data.where(task, "corpus")
    for line, row in numbered(rows):
        check_text_columns(row, task, where, line)
    dropped: set[str] = set()
    if drop_empty:
        dropped = {str(row[id_col]) for row in rows if not doc_text(row, task, mode)}
        rows = kept(rows, lambda row: str(row[id_col]) not in dropped)
    if not rows:
        raise _empty_error(task, where)
    ids = [str(row[id_col]) for row in rows]
    lines = [line for line, _ in numbered(rows)]
    rank, repeat = rank_ids(ids)
    if repeat is not None:
        raise _duplicate_error(task, where, lines[repeat], ids[repeat])
    return Corpus(ids, [doc_text(row, task, mode) for row in rows], rank, lines), dropped


@dataclass
class StreamedCorpus:
    """The ids of a corpus in memory; its texts are read from the data source again when they are needed."""

    ids: list[str]
    id_rank: np.ndarray
    task: TaskSpec
    ctx: Context
    mode: str
    dropped: set[str]

    def stream_texts(self) -> Iterator[str]:
        """Every document's text, in corpus order, read block by block."""
        for _, row in self._rows():
            yield doc_text(row, self.task, self.mode)

    def texts_at(self, positions: Iterable[int]) -> dict[int, str]:
        """The texts of the documents at `positions`; the read stops after the last of them."""
        wanted = set(positions)
        found: dict[int, str] = {}
        if not wanted:
            return found
        for position, row in self._rows():
            if position in wanted:
                found[position] = doc_text(row, self.task, self.mode)
                if len(found) == len(wanted):
                    break
        return found

    def _rows(self) -> Iterator[tuple[int, dict]]:
        """(position, row) of the kept documents, checked against the ids of pass 1."""
        task, id_col = self.task, self.task.column(id_column(self.task))
        where = self.ctx.data.where(task, "corpus")
        position = 0
        for block in self.ctx.data.iter_rows(task, "corpus", (id_column(task), "text")):
            for line, row in block:
                doc = str(row[id_col])
                if doc in self.dropped:
                    continue
                expected = self.ids[position] if position < len(self.ids) else None
                if doc != expected:
                    raise HarnessError(f"{where}:{line}: the corpus changed while it was being read (document "
                                       f"'{doc}' at position {position + 1}, the first read had {expected!r})")
                yield position, row
                position += 1
        if position != len(self.ids):
            raise HarnessError(f"{where}: the corpus changed while it was being read ({position} documents, "
                               f"the first read had {len(self.ids)})")


def stream_corpus(task: TaskSpec, ctx: Context, mode: str,
                  drop_empty: bool = False) -> tuple[StreamedCorpus, set[str]]:
    """Pass 1 over the corpus: the ids (texts are not kept), checked as `load_corpus` checks them, and the
    ids dropped for an empty text."""
    _check_mode(task, mode)  # a bad field fails here, before the queries are read
    id_col = task.column(id_column(task))
    ids: list[str] = []
    lines = array("q")  # file line of each kept id, for the duplicate-id message
    dropped: set[str] = set()
    for block in ctx.data.iter_rows(task, "corpus", (id_column(task), "text")):
        for line, row in block:
            check_text_columns(row, task, ctx.data.where(task, "corpus"), line)
            doc = str(row[id_col])
            if drop_empty and not doc_text(row, task, mode):
                dropped.add(doc)
            else:
                ids.append(doc)
                lines.append(line)
    where = ctx.data.where(task, "corpus")
    if dropped and any(doc in dropped for doc in ids):  # as load_corpus: an id dropped once is dropped everywhere
        keep = [i for i, doc in enumerate(ids) if doc not in dropped]
        ids, lines = [ids[i] for i in keep], array("q", (lines[i] for i in keep))
    if not ids:
        raise _empty_error(task, where)
    rank, repeat = rank_ids(ids)
    if repeat is not None:
        raise _duplicate_error(task, where, lines[repeat], ids[repeat])
    return StreamedCorpus(ids, rank, task, ctx, mode, dropped), dropped
