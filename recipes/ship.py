"""Ship a tuned judge inside the hf plugin: `python recipes/ship.py WORK/judges/<id> [--name smollm2-judge]`.

Copies the LoRA adapter of a finished `judgebench tune` run into ``plugins/judgebench_hf/judges/<name>/`` (weights
stored as float16 when float32 would exceed ``--max-mb``), with its provenance (the tuner's provenance.json —
trained ids, data digests, config, library versions, training curve — plus the recipe, the held-out evaluation
summary, the shipped file's sha256 and the judge's fingerprint as loaded from the shipped copy).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = "adapter_model.safetensors"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("judge", type=Path, help="directory written by `judgebench tune` (adapter, provenance, eval.json)")
    ap.add_argument("--name", default="smollm2-judge")
    ap.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "smollm2-judge.yaml")
    ap.add_argument("--max-mb", type=float, default=10.0)
    args = ap.parse_args(argv)
    import torch
    from safetensors.torch import load_file, save_file

    src = args.judge.resolve()
    prov = json.loads((src / "provenance.json").read_text())
    if prov.get("status") != "complete":
        raise SystemExit(f"{src}: tuning did not finish (status {prov.get('status')!r})")
    dst = ROOT / "plugins" / "judgebench_hf" / "judges" / args.name
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    weights = load_file(str(src / WEIGHTS))
    stored = "float32"
    if (src / WEIGHTS).stat().st_size > args.max_mb * 1e6:
        weights = {k: v.to(torch.float16) if v.dtype == torch.float32 else v for k, v in weights.items()}
        stored = "float16"
    save_file(weights, str(dst / WEIGHTS), metadata={"format": "pt"})
    cfg = json.loads((src / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "smollm2"  # the embedded model, wherever it is converted
    (dst / "adapter_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
    size = (dst / WEIGHTS).stat().st_size
    if size > args.max_mb * 1e6:
        raise SystemExit(f"{dst / WEIGHTS} is {size / 1e6:.1f} MB > {args.max_mb} MB")

    from judgebench.plugin import BackendSpec, build_backend

    backend = build_backend(BackendSpec("hf", args.name, {}))
    try:
        fingerprint = backend.fingerprint()
        info = backend.info()
    finally:
        backend.close()
    ev = json.loads((src / "eval.json").read_text()) if (src / "eval.json").exists() else {}
    prov["shipped"] = {
        "name": args.name, "backend": f"hf:{args.name}", "from": str(src), "weights_sha256": sha256(dst / WEIGHTS),
        "weights_dtype": stored, "weights_bytes": size, "trained_weights_sha256": sha256(src / WEIGHTS),
        "fingerprint": fingerprint, "max_length": info.get("max_length"),
        "recipe": args.recipe.read_text() if args.recipe.exists() else None,
        "eval_summary": ev.get("summary"),
    }
    (dst / "provenance.json").write_text(json.dumps(prov, indent=1, default=str))
    print(f"shipped {args.name}: {dst} ({size / 1e6:.2f} MB, {stored}); fingerprint {fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
