"""encode=fast's numeric kernel, picked per machine from what the processor offers.

`encode.kernel: auto` (or a precision alone: `bf16`, `int8`, `float32`, `float16`) is resolved once, when the
encoder's config is built, into a concrete name `<precision>/<unit>` (e.g. `bf16/amx_bf16`, `int8/avx512_vnni`,
`bf16/cuda`). The unit is the one this machine runs that precision on: torch's kernels (oneDNN, fbgemm) pick the
best unit the processor has whatever a config says, so the name cannot choose it, only record it. A concrete
name the machine would not run as named (`bf16/amx_bf16` on an AMD processor, `bf16/cuda` on the CPU) is refused
rather than recorded. The resolved name is a field of EncoderConfig, so it is in the cache key and in every
score file's provenance: vectors computed by AMX tiles are never served to a run that would compute them with
AVX-512 instructions, and a reader sees which ran.

Why these choices (docs/PERFORMANCE.md, scripts/bench_encode.py):
* bf16 weights, not bf16 autocast over float32 weights: autocast casts every weight at every op; bf16
  weights go straight to oneDNN's bf16 kernels (AMX tiles or AVX-512-BF16 dot products);
* float32 where the processor has no bf16 unit. int8 dynamic quantisation (torch.ao quantize_dynamic:
  weights int8 once, activations quantised per batch) is offered by name (`encode.kernel=int8`)
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

PRECISIONS = ("bf16", "int8", "float32", "float16")
KERNELS = Vocab.of("kernel", ("auto", *PRECISIONS, "bf16/amx_bf16", "bf16/avx512_bf16", "int8/amx_int8",
                               "int8/avx512_vnni", "int8/avx_vnni", "float32/cpu", "float32/mps", "bf16/cuda",
                               "float16/cuda"))
# The unit a CPU runs each precision on: the first flag in /proc/cpuinfo it has, in the order torch's kernels
# prefer them.
_CPU_UNITS = {"bf16": ("amx_bf16", "avx512_bf16"), "int8": ("amx_int8", "avx512_vnni", "avx_vnni")}


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


def machine_kernel(precision: str, device: str, flags: frozenset[str] | None = None) -> str | None:
    """`<precision>/<unit>` for the unit this machine computes `precision` on, on `device` (resolved); None
    where it has no such unit (bf16 on a CPU without AMX or AVX-512-BF16, int8 off the CPU)."""
    if device.startswith("cuda"):
        import torch

        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            return None
        return f"{precision}/cuda" if precision in ("bf16", "float16") else None
    if device != "cpu":
        return f"float32/{device}" if precision == "float32" else None
    if precision == "float32":
        return "float32/cpu"
    flags = cpu_flags() if flags is None else flags
    return next((f"{precision}/{unit}" for unit in _CPU_UNITS.get(precision, ()) if unit in flags), None)


def pick_kernel(device: str, flags: frozenset[str] | None = None) -> str:
    """The fastest kernel close enough to float32 (|dSpearman| <= 1e-3 on JSTS) for `device` (resolved): bf16
    where the machine has a unit for it (on a GPU without bf16, float16), else float32 (mps: no measured gain
    yet). The unit is part of the name because AMX tiles and AVX-512 dot products round differently."""
    fallback = "float16" if device.startswith("cuda") else "float32"
    return machine_kernel("bf16", device, flags) or machine_kernel(fallback, device, flags)


def resolve_kernel(kernel: str, device: str, flags: frozenset[str] | None = None) -> str:
    """`auto`, a precision or a concrete name -> the concrete name this machine runs; a name it would not run
    as named is refused (its label would say a unit that did not compute the vectors)."""
    from harness.errors import HarnessError

    if kernel == "auto":
        return pick_kernel(device, flags)
    precision = kernel.partition("/")[0]
    resolved = machine_kernel(precision, device, flags)
    if resolved is None:
        raise HarnessError(f"field 'encode.kernel': {kernel}: this machine has no unit for {precision} on device "
                           f"{device}; use encode.kernel=auto")
    if kernel not in (precision, resolved):
        raise HarnessError(f"field 'encode.kernel': {kernel} is not what this machine runs ({resolved} on device "
                           f"{device}); use encode.kernel={precision} or auto")
    return resolved


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
