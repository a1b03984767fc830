"""Reading a model directory in sentence-transformers layout without sentence-transformers.

The transformers and static backends rebuild what sentence-transformers would run from the same files:
`modules.json` (which modules, in which sub-folders), `sentence_bert_config.json` (max length),
`1_Pooling/config.json` (pooling mode, include_prompt), a `Normalize` module. Anything they cannot
reproduce exactly stops the run with one line instead of silently encoding differently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.encoders.base import POOLINGS, EncoderConfig
from harness.errors import HarnessError

# sentence-transformers' legacy boolean pooling keys -> mode name
_LEGACY_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                   "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                   "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


@dataclass(frozen=True)
class Module:
    kind: str  # last component of the module's class name: Transformer, Pooling, Normalize, StaticEmbedding
    path: Path


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read ({exc})") from None


def model_dir(config: EncoderConfig) -> Path:
    """The local directory of `config.path`: itself, or its hub snapshot at the commit the pinned revision
    resolves to (harness.hub records it for provenance; offline, the cached snapshot of that revision)."""
    local = Path(config.path).expanduser()
    if local.is_dir():
        return local
    from harness.data import hub_reachable
    from harness.hub import resolve

    online = hub_reachable()
    revision = resolve(config.path, config.revision, "model", what=f"model {config.name}") if online \
        else config.revision
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(config.path, revision=revision, local_files_only=not online))
    except Exception as exc:  # offline without a cached snapshot, unknown repo, bad revision
        raise HarnessError(f"model {config.name}: '{config.path}' is not a local directory and cannot be "
                           f"fetched ({type(exc).__name__}); point model.path=DIR at a local copy") from None


def modules(directory: Path) -> list[Module]:
    """The sentence-transformers module list, or a lone Transformer for a plain transformers directory."""
    listing = directory / "modules.json"
    if not listing.is_file():
        return [Module("Transformer", directory)]
    return [Module(entry["type"].rsplit(".", 1)[-1], directory / entry.get("path", ""))
            for entry in json.loads(listing.read_text(encoding="utf-8"))]


def check_remote_code(directory: Path, config: EncoderConfig) -> None:
    """Stop before loading when the files ask for code from the model repository and the config forbids it."""
    if config.trust_remote_code:
        return
    asks = []
    for name in ("config.json", "tokenizer_config.json"):
        for module in modules(directory):
            path = module.path / name
            if path.is_file() and "auto_map" in _json(path):
                asks.append(f"{path.relative_to(directory)} (auto_map)")
    listing = directory / "modules.json"
    if listing.is_file():
        for entry in _json(listing):
            if not str(entry.get("type", "")).startswith("sentence_transformers."):
                asks.append(f"modules.json ({entry.get('type')})")
    if asks:
        raise HarnessError(f"model {config.name}: {asks[0]} asks to run code from the model repository, but "
                           f"its config has trust_remote_code: false")


def pooling_of(module_dir: Path) -> tuple[str, bool]:
    """(mode, include_prompt) of a sentence-transformers Pooling module."""
    data = _json(module_dir / "config.json")
    mode = data.get("pooling_mode")
    if mode is None:
        active = [name for key, name in _LEGACY_POOLING.items() if data.get(key)]
        mode = active if len(active) != 1 else active[0]
    if isinstance(mode, list) and len(mode) == 1:
        mode = mode[0]
    if not isinstance(mode, str) or mode not in POOLINGS:
        raise HarnessError(f"{module_dir / 'config.json'}: pooling {mode!r} is not supported outside "
                           f"sentence-transformers (supported: {', '.join(POOLINGS)}); use backend: "
                           f"sentence_transformers")
    return mode, bool(data.get("include_prompt", True))


def max_seq_length(transformer_dir: Path) -> int | None:
    path = transformer_dir / "sentence_bert_config.json"
    if not path.is_file():
        return None
    data = _json(path)
    if data.get("do_lower_case"):
        raise HarnessError(f"{path}: do_lower_case is not reproduced outside sentence-transformers; use "
                           f"backend: sentence_transformers")
    return data.get("max_seq_length")


def default_prompt(directory: Path) -> str | None:
    """The prompt sentence-transformers applies when none is given (`default_prompt_name`), if any."""
    path = directory / "config_sentence_transformers.json"
    if not path.is_file():
        return None
    data = _json(path)
    name = data.get("default_prompt_name")
    return (data.get("prompts") or {}).get(name) if name else None
