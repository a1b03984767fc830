"""Score files of the offline_real suite, both protocols, against committed golden files.

A refactoring must not move a number of a score file. The model here is a deterministic stand-in (hashed,
weighted character-bigram counts of prompt + text: similar texts get similar vectors, so every metric sees real
rankings), so the files depend only on the data in ../shared/data and the harness's scoring, not on a model
download; every family and protocol of the suite runs on the real data in about a minute.

Every string, key, id, choice and integer must be identical. Floats agree to 1e-9 (relative): their last bits
come from the BLAS and SIMD kernels numpy, scipy and scikit-learn pick for the CPU (AVX-512 on one machine,
AVX2 on another), which no harness change can hold still; a change of the harness moves a metric far more.
Fields that describe the machine rather than the computation (the harness's git revision, library versions,
absolute paths, the device) are replaced by placeholders before comparing. Regenerate the golden files with
`HARNESS_REGENERATE_GOLDEN=1 pytest tests/core/test_golden_scores.py` and review the diff: a change there is
a change of the numbers or of the file format.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.scoring import bootstrap
from tests.conftest import ROOT

GOLDEN = ROOT / "results" / "golden" / "hash-encoder"
DIM = 64


class HashEncoder:
    """Stands in for a model: signed counts of the text's character bigrams, hashed into DIM buckets."""

    def __init__(self, config):
        self.config = config

    def encode(self, texts, side):
        prompt = side.prompt or ""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            full = prompt + text
            for a, b in zip(full, full[1:]):
                h = zlib.crc32((a + b).encode("utf-8"))
                # a weight in [0.5, 1.5) from other bits of the hash: sums of such weights are seldom tied,
                # so no choice (a clustering model, a similarity, a ranking) turns on the last bits that the
                # CPU's BLAS kernels leave in a distance
                weight = 0.5 + ((h >> 8) & 0xFF) / 256.0
                out[row, h % DIM] += weight if (h >> 16) & 1 else -weight
        return out


def normalised(path: Path) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))
    provenance = data.get("provenance")
    if isinstance(provenance, dict):
        provenance["harness_git_revision"] = "<revision>"
        provenance["versions"] = "<versions>"
        provenance["device"] = "<device>"
        for part in provenance.get("dataset", {}).get("parts", {}).values():
            part["path"] = "<path>"
            if "where" in part:  # the file read, under the machine's data dir
                part["where"] = "<where>"
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _locked() -> None:
    """The golden files were computed in the locked numeric stack (constraints.txt): scikit-learn's clustering,
    for one, gives other assignments in another version. Outside the lock there is nothing to compare with."""
    from harness.provenance import lock_state

    state = lock_state()
    if not isinstance(state, dict) or not state.get("held"):
        pytest.skip(f"the installed packages are not the lock's (make install LOCK=constraints.txt): "
                    f"{state if not isinstance(state, dict) else state.get('differs')}")


@pytest.mark.parametrize("protocol", ["jmteb", "mteb"])
def test_offline_real_score_files_are_byte_identical(protocol, tmp_path, shared_data, monkeypatch, capsys):
    _locked()
    monkeypatch.setattr("harness.runner.build_encoder", HashEncoder)
    out = tmp_path / "out"
    code = main(["run", "suite=offline_real", f"protocol={protocol}", f"data_dir={shared_data}",
                 f"output_dir={out}", "cache=false", "model.path=hash-encoder", "encode.show_progress=false"])
    assert code == 0, capsys.readouterr().err
    produced = {p.relative_to(out).as_posix(): normalised(p) for p in sorted(out.rglob("*.json"))
                if p.name != "run.json"}
    golden_dir = GOLDEN / f"offline_real_{protocol}"
    if os.environ.get("HARNESS_REGENERATE_GOLDEN"):
        for name, text in produced.items():
            (golden_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / name).write_text(text, encoding="utf-8")
    golden = {p.relative_to(golden_dir).as_posix(): normalised(p)
              for p in sorted(golden_dir.rglob("*.json"))}
    assert sorted(produced) == sorted(golden)
    for name in golden:
        mine, theirs = _decoded(json.loads(produced[name])), _decoded(json.loads(golden[name]))
        assert _floats_apart(mine) == _floats_apart(theirs), f"{name} differs from {golden_dir / name} (apart from floats)"
        mine, theirs = _floats(mine), _floats(theirs)
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12, err_msg=f"{name}: {golden_dir / name}")


def _decoded(value):
    """A score file's JSON with its per-item arrays (base64 float64, harness.scoring.bootstrap) as float lists."""
    if isinstance(value, dict) and "statistic" in value and "n" in value:
        _, arrays = bootstrap.unpack(value)
        return {**value, **{key: [float(x) for x in array] for key, array in arrays.items()}}
    if isinstance(value, dict):
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def _floats_apart(value):
    """The JSON value with every float replaced by a placeholder (everything else compared exactly)."""
    if isinstance(value, dict):
        return {key: _floats_apart(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats_apart(item) for item in value]
    return "<float>" if isinstance(value, float) else value


def _floats(value) -> list[float]:
    if isinstance(value, dict):
        return [f for item in value.values() for f in _floats(item)]
    if isinstance(value, list):
        return [f for item in value for f in _floats(item)]
    return [value] if isinstance(value, float) else []
