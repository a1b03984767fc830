"""A model config built from a sentence-transformers model's own configuration, for a model named without a
YAML: `harness run model=<hub id or directory>`, and `harness.evaluate(<SentenceTransformer>)`.

What the model's files say is what it runs with: `modules.json` (its modules: Pooling's mode, a Normalize
module), `sentence_bert_config.json` (max_seq_length), `config_sentence_transformers.json` (prompts,
default_prompt_name, similarity_fn_name). The backend is sentence_transformers, which runs those very
modules, so nothing is re-implemented: the settings are read to be printed at start and recorded in every
result's provenance (`provenance.model.st_config`), and the max length, prompts and similarity become the
config's own fields. An in-memory model is described from the object by the same rules, so a model and its
saved directory get the same record.

Prompts map onto the harness's prompt keys (harness.prompts) as sentence-transformers applies them:
`query` -> query; the first of `document`, `passage`, `corpus` -> document (its encode_document order);
keys that already are harness keys (a task type such as `Retrieval`, a task name, `<scope>-query`) are kept;
others are reported as unused. A `default_prompt_name` fills the roles left without a prompt, since
sentence-transformers applies it whenever no prompt is given. Empty prompts are no prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")  # org/name
DOCUMENT_PROMPTS = ("document", "passage", "corpus")
OPTION_PREFIX = "_st_"  # Hydra ConfigStore options of the group `model` built here
_LEGACY_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                   "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                   "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
_registered: set[str] = set()


def _json(path: Path, default: Any = None, kind: type = dict) -> Any:
    """A JSON file's value (`default` when the file is absent); anything else than a `kind` is one line."""
    if not path.is_file():
        return {} if default is None else default
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, kind):
        raise HarnessError(f"{path}: expected a JSON {'object' if kind is dict else 'list'}")
    return data


def pooling_mode(config: dict[str, Any]) -> str | list[str] | None:
    """A Pooling module's mode from its config (sentence-transformers >= 6 `pooling_mode`, or the legacy
    boolean keys older versions write)."""
    mode = config.get("pooling_mode")
    if mode is None:
        mode = [name for key, name in _LEGACY_POOLING.items() if config.get(key)]
    if isinstance(mode, (list, tuple)):
        mode = list(mode)
        return mode[0] if len(mode) == 1 else (mode or None)
    return mode


def record(kinds: list[str], pooling: dict[str, Any] | None, max_seq_length: int | None,
           prompts: dict[str, Any] | None, default_prompt_name: str | None, similarity: str | None) -> dict:
    """The model's own settings, as recorded in provenance (`st_config`)."""
    return {"modules": kinds,
            "pooling": pooling_mode(pooling) if pooling is not None else None,
            "include_prompt": bool(pooling.get("include_prompt", True)) if pooling is not None else None,
            "normalize": "Normalize" in kinds,
            # transformers' "no limit" sentinel (1e30) is no limit
            "max_seq_length": max_seq_length if isinstance(max_seq_length, int) and max_seq_length < 10**9 else None,
            "prompts": {k: v for k, v in (prompts or {}).items() if v},
            "default_prompt_name": default_prompt_name or None,
            "similarity_fn_name": similarity or "cosine"}


def read_directory(directory: Path) -> dict:
    """The record of a model directory in sentence-transformers layout (a plain transformers directory has no
    modules: sentence-transformers adds mean pooling)."""
    entries = _json(directory / "modules.json", default=[], kind=list)
    if not all(isinstance(e, dict) for e in entries):
        raise HarnessError(f"{directory / 'modules.json'}: expected a list of modules (objects)")
    kinds, pooling, transformer = [], None, directory
    for entry in entries:
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
        kinds.append(kind)
        if kind == "Pooling" and pooling is None:
            pooling = _json(directory / entry.get("path", "") / "config.json")
        if kind == "Transformer":
            transformer = directory / entry.get("path", "")
    st = _json(directory / "config_sentence_transformers.json")
    # sentence-transformers' own order: sentence_bert_config.json, else the tokenizer's model_max_length (where
    # sentence-transformers >= 6 keeps it), else the model's max_position_embeddings
    max_length = _json(transformer / "sentence_bert_config.json").get("max_seq_length")
    if max_length is None:
        max_length = _json(transformer / "tokenizer_config.json").get("model_max_length")
    if max_length is None:
        max_length = _json(transformer / "config.json").get("max_position_embeddings")
    return record(kinds, pooling, max_length, st.get("prompts"), st.get("default_prompt_name"),
                  st.get("similarity_fn_name"))


def read_model(model) -> dict:
    """The record of an in-memory SentenceTransformer (the same rules as `read_directory`)."""
    modules = list(model)
    pooling = next((m.get_config_dict() for m in modules if type(m).__name__ == "Pooling"), None)
    return record([type(m).__name__ for m in modules], pooling, model.max_seq_length, dict(model.prompts or {}),
                  model.default_prompt_name, model.similarity_fn_name)


def harness_prompts(st: dict) -> tuple[dict[str, str], list[str]]:
    """(prompts under harness keys, the model's prompt names that map to none)."""
    from harness.prompts import ROLES
    from harness.spec import CATEGORIES
    from harness.taskspec import task_names

    given = st["prompts"]
    prompts: dict[str, str] = {}
    if "query" in given:
        prompts["query"] = given["query"]
    document = next((given[k] for k in DOCUMENT_PROMPTS if k in given), None)
    if document is not None:
        prompts["document"] = document
    scopes = set(CATEGORIES) | set(task_names())
    unused = []
    for key, value in given.items():
        if key == "query" or key in DOCUMENT_PROMPTS:
            continue
        scope, _, role = key.rpartition("-")
        if key in scopes or (role in ROLES and scope in scopes):
            prompts[key] = value
        else:
            unused.append(key)
    default = given.get(st["default_prompt_name"]) if st["default_prompt_name"] else None
    if default:
        for role in ROLES:
            prompts.setdefault(role, default)
    return prompts, unused


def model_node(name: str, path: str, st: dict, **fields: Any) -> dict[str, Any]:
    """A model config (the fields of conf/model/*.yaml) for a sentence-transformers model described by `st`."""
    from harness.search import MODEL_SIMILARITIES

    prompts, _ = harness_prompts(st)
    similarity = st["similarity_fn_name"] if st["similarity_fn_name"] in MODEL_SIMILARITIES else "cosine"
    return {"name": name, "path": path, "revision": None, "backend": "sentence_transformers", "pooling": None,
            "normalize": False, "max_length": st["max_seq_length"], "dtype": "float32", "similarity": similarity,
            "trust_remote_code": False, "prompts": prompts, "st_config": st, **fields}


def describe(label: str, st: dict) -> str:
    """The line printed at start: what the model's own configuration says."""
    prompts, unused = harness_prompts(st)
    pooling = st["pooling"] or ("mean (added by sentence-transformers)" if not st["modules"] else "none")
    text = (f"model {label}: from its sentence-transformers config: modules {', '.join(st['modules']) or 'none'}; "
            f"pooling {pooling}; normalize {'yes (Normalize module)' if st['normalize'] else 'no'}; "
            f"max_seq_length {st['max_seq_length'] or 'tokenizer default'}; similarity {st['similarity_fn_name']}; "
            f"prompts {json.dumps(prompts, ensure_ascii=False) if prompts else 'none'}")
    return text + (f" (unused prompt names: {', '.join(unused)})" if unused else "")


def register(node: dict[str, Any], group: str = "model") -> str:
    """Make `node` a Hydra option of `group` (ConfigStore, in memory); its name, for `<group>=<name>`."""
    from hydra.core.config_store import ConfigStore

    name = OPTION_PREFIX + hashlib.sha256(json.dumps(node, sort_keys=True, default=str).encode()).hexdigest()[:16]
    ConfigStore.instance().store(group=group, name=name, node=node)
    _registered.add((group, name))
    return name


def is_registered(group: str, option: str) -> bool:
    """Whether `option` of `group` was built here (a model named by hub id or directory, an in-memory model,
    harness.evaluate's task list) rather than read from conf/."""
    return (group, option) in _registered


def looks_like_model(value: str) -> bool:
    """`model=` names a directory or a hub id rather than conf/model/<name>.yaml."""
    return Path(value).expanduser().is_dir() or bool(HUB_ID.match(value))


def model_option(value: str, revision: str | None = None) -> str:
    """The `model=` option for a directory or hub id: a config built from the model's files, printed, and
    registered. A hub id's files are read at the commit `revision` resolves to (harness.hub)."""
    from harness.encoders.base import EncoderConfig
    from harness.encoders.model_files import model_dir

    local = Path(value).expanduser()
    if local.is_dir():
        path, name = str(local.resolve()), local.resolve().name
        directory = local
    else:
        path = name = value
        directory = model_dir(EncoderConfig(name=value, path=value, backend="sentence_transformers",
                                            revision=revision))
    st = read_directory(directory)
    print(describe(path, st), flush=True)
    return register(model_node(name, path, st))
