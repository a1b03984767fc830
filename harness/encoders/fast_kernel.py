"""encode=fast's numeric kernel, picked per machine from what the processor offers.

`encode.kernel: auto` is resolved once, when the encoder's config is built, into a concrete name
`<precision>/<unit>` (e.g. `bf16/amx_bf16`, `int8/avx512_vnni`, `bf16/cuda`). The resolved name is a field of
EncoderConfig, so it is in the cache key and in every score file's provenance: vectors computed by AMX tiles
are never served to a run that would compute them with AVX-512 instructions, and a reader sees which ran.

Why these choices (docs/PERFORMANCE.md, scripts/bench_encode.py):
* bf16 weights, not bf16 autocast over float32 weights: autocast casts every weight at every op; bf16
  weights go straight to oneDNN's bf16 kernels (AMX tiles or AVX-512-BF16 dot products);
* float32 where the processor has no bf16 unit. int8 dynamic quantisation (torch.ao quantize_dynamic:
  weights int8 once, activations quantised per batch) is offered by name (`encode.kernel=int8/avx512_vnni`)
  but never picked by `auto`: on all-MiniLM-L6-v2 some JSTS sentences came out at cosine 0.73 to their
  float32 vectors and JSTS Spearman moved by -2.1e-2 (the bound is 1e-3); on AMX it was also slower than bf16.
* no ONNX Runtime or OpenVINO kernel: through sentence-transformers' `backend=` option (measured in a venv with
  its extras, docs/PERFORMANCE.md) ONNX Runtime runs float32 and is slower than torch's float32, and OpenVINO,
  bf16 by default on AMX, took 1.10-1.28x as long as these bf16 weights with token-budget batches (JSTS,
  SciFact); neither is in the locked stack.
"""

from __future__ import annotations

import functools
from pathlib import Path

from harness.vocab import Vocab

KERNELS = Vocab.of("kernel", ("auto", "bf16/amx_bf16", "bf16/avx512_bf16", "int8/amx_int8", "int8/avx512_vnni",
                               "int8/avx_vnni", "float32/cpu", "float32/mps", "bf16/cuda", "float16/cuda"))
# Preference order on a CPU: the first unit the processor has decides (flag name in /proc/cpuinfo -> kernel).
_CPU_PREFERENCE = (("amx_bf16", "bf16/amx_bf16"), ("avx512_bf16", "bf16/avx512_bf16"))


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The flags of the first processor in /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return frozenset()
    for line in info.read_text(errors="replace").splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def pick_kernel(device: str, flags: frozenset[str] | None = None) -> str:
    """The fastest kernel close enough to float32 (|dSpearman| <= 1e-3 on JSTS) for `device` (resolved); the
    unit is part of the name because AMX tiles and AVX-512 dot products round differently."""
    if device.startswith("cuda"):
        import torch

        return "bf16/cuda" if torch.cuda.is_bf16_supported() else "float16/cuda"
    if device != "cpu":  # mps: no measured gain yet
        return f"float32/{device}"
    flags = cpu_flags() if flags is None else flags
    return next((kernel for flag, kernel in _CPU_PREFERENCE if flag in flags), "float32/cpu")


def weight_dtype(kernel: str | None):
    """The torch dtype the model's weights are loaded in under `kernel` (None: the config's own dtype)."""
    import torch

    precision = (kernel or "").partition("/")[0]
    return {"bf16": torch.bfloat16, "float16": torch.float16, "int8": torch.float32,
            "float32": torch.float32}.get(precision)


def apply(model, kernel: str | None):
    """The loaded (float32) torch module prepared for `kernel`: int8 kernels quantise its Linear layers'
    weights once (activations are quantised per batch, from their own range); other kernels need nothing
    more than the dtype they were loaded in."""
    if not (kernel or "").startswith("int8/"):
        return model
    import torch

    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
