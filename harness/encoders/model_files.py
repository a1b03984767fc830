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


def unloadable(config: EncoderConfig, exc: Exception) -> HarnessError:
    """The one line for a model.path the libraries cannot load (no model_type, missing weights, a broken file):
    the path and the library's first line of reason, not its traceback."""
    text = str(exc).strip()
    reason = text.splitlines()[0][:300] if text else type(exc).__name__
    if "trust_remote_code" in text:
        return HarnessError(f"model {config.name}: the model needs remote code but its config has "
                            f"trust_remote_code: false")
    return HarnessError(f"field 'model.path': {config.path} cannot be loaded as a model ({reason})")


def modules(directory: Path) -> list[Module]:
    """The sentence-transformers module list, or a lone Transformer for a plain transformers directory."""
    listing = directory / "modules.json"
    if not listing.is_file():
        return [Module("Transformer", directory)]
    entries = _json(listing)
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("type"), str)
                                                and isinstance(e.get("path", ""), str) for e in entries):
        raise HarnessError(f"{listing}: expected a list of modules, each with a 'type' and a 'path'")
    return [Module(entry["type"].rsplit(".", 1)[-1], directory / entry.get("path", "")) for entry in entries]


def check_remote_code(directory: Path, config: EncoderConfig) -> None:
    """The one gate for custom code: stop before any library reads the model when its files ask for code from
    the model repository (`auto_map` in a config.json or tokenizer_config.json at the top or in a module
    folder; a modules.json entry outside sentence_transformers) and the model config does not allow it."""
    if config.trust_remote_code:
        return
    asks: list[tuple[Path, str, str]] = []  # (file, what, detail)
    files = {directory / name for name in ("config.json", "tokenizer_config.json")}
    files |= set(directory.glob("*/config.json")) | set(directory.glob("*/tokenizer_config.json"))
    listing = directory / "modules.json"
    if listing.is_file():
        files |= {m.path / n for m in modules(directory) for n in ("config.json", "tokenizer_config.json")}
    for path in sorted(p for p in files if p.is_file()):
        data = _json(path)
        if isinstance(data, dict) and data.get("auto_map"):
            auto_map = data["auto_map"]
            targets = auto_map.values() if isinstance(auto_map, dict) else auto_map
            names = sorted(map(str, targets if isinstance(targets, (list, tuple, type({}.values()))) else [targets]))
            asks.append((path, "auto_map", f" ({', '.join(names)})"))
    if listing.is_file():
        entries = _json(listing)
        for entry in entries if isinstance(entries, list) else []:
            kind = str(entry.get("type", "")) if isinstance(entry, dict) else repr(entry)
            if not kind.startswith("sentence_transformers."):
                asks.append((listing, kind, ""))
    if asks:
        path, what, detail = asks[0]
        raise HarnessError(f"{path}: {path.relative_to(directory)} ({what}) asks to run code from the model "
                           f"repository{detail}, but model {config.name} has trust_remote_code: false; set "
                           f"model.trust_remote_code=true only for a model you trust")


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


def own_prompts(directory: Path) -> dict[str, str]:
    """The `prompts` of config_sentence_transformers.json ({} without one); a null prompt is "" there, as
    sentence-transformers reads it (harness.encoders.base.model_prompts adds the two it always holds)."""
    path = directory / "config_sentence_transformers.json"
    if not path.is_file():
        return {}
    prompts = _json(path).get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(v, (str, type(None))) for v in prompts.values()):
        raise HarnessError(f"{path}: field 'prompts' must map prompt names to strings")
    return {name: text or "" for name, text in prompts.items()}


class FilePrompts:
    """Mixin of the backends that read a model directory: its own prompts (the model is not loaded)."""

    config: EncoderConfig

    def own_prompts(self) -> dict[str, str]:
        return own_prompts(model_dir(self.config))


def default_prompt(directory: Path) -> str | None:
    """The prompt sentence-transformers applies when none is given (`default_prompt_name`), if any."""
    path = directory / "config_sentence_transformers.json"
    if not path.is_file():
        return None
    data = _json(path)
    name = data.get("default_prompt_name")
    return (data.get("prompts") or {}).get(name) if name else None
