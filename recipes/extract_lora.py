"""Turn a full-parameter tuned judge into a small LoRA adapter: `python recipes/extract_lora.py TUNED_DIR OUT_DIR`.

A full-parameter `judgebench tune` run (`lora: false`) writes a whole model (≈ 540 MB for SmolLM2-135M in float32),
too large to ship.  Most of what training changed can be carried by a low-rank adapter: for every linear layer the
weight change ΔW = W_tuned − W_base is factored by truncated SVD, ΔW ≈ U_r S_r V_rᵀ, and stored as a PEFT LoRA pair
(lora_B = U_r S_r^½, lora_A = S_r^½ V_rᵀ, lora_alpha = r, so the adapter adds exactly that rank-r product).  Norm
weights (a few KB) are stored whole (`modules_to_save`); the embedding matrix (tied to the output layer in SmolLM2)
keeps the changed rows of the `--token-rows` most-changed tokens (`trainable_token_indices`) — the verdict tokens'
output rows among them — and drops the rest.  The adapter is written by PEFT itself (`save_pretrained`), so any
`lora:` judge loads it; the script prints, per part, how much of the weight change the adapter keeps (relative
Frobenius norm of what is dropped).

    python recipes/extract_lora.py work/sweep/F1/judges/<id> work/sweep/F1/x8 --rank 8 --token-rows 256
    judgebench run --backend lora:work/sweep/F1/x8 -o max_length=1024 --task judge-mix --ids-file <validation test.json>
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
NORMS = ("input_layernorm", "post_attention_layernorm", "norm")


def base_model(prov: dict, base: str | None) -> tuple[str, str]:
    """(directory to load the base weights from, the base as the adapter names it): --base, else the base recorded in
    the tuned judge's provenance (its converted directory; named by its alias, e.g. `smollm2`), else the embedded
    SmolLM2."""
    if base:
        return base, base
    info = prov.get("base") or {}
    source, name = info.get("source"), (info.get("spec") or {}).get("model")
    if source and Path(source).is_dir():
        return source, name or source
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    from judgebench_hf.embedded import ensure_smollm2

    return str(ensure_smollm2()), "smollm2"


def sha256(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def lowrank(delta, rank: int):
    """(A, B, dropped share) with B @ A the best rank-`rank` approximation of `delta` (Eckart–Young)."""
    import torch

    u, s, vh = torch.linalg.svd(delta.double(), full_matrices=False)
    r = min(rank, s.numel())
    root = s[:r].sqrt()
    b = (u[:, :r] * root).float()
    a = (root[:, None] * vh[:r]).float()
    total = float(s.pow(2).sum())
    kept = float(s[:r].pow(2).sum())
    return a, b, max(0.0, (total - kept) / total) ** 0.5 if total > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tuned", type=Path, help="directory of a full-parameter tuned judge (config.json, safetensors)")
    ap.add_argument("out", type=Path, help="where the adapter goes")
    ap.add_argument("--base", help="base model directory (default: the tuned judge's recorded base, else smollm2)")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--token-rows", type=int, default=256, help="changed embedding rows kept (0: none)")
    ap.add_argument("--no-norms", action="store_true", help="drop the norm weights' change")
    args = ap.parse_args(argv)

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    if (args.tuned / "adapter_config.json").is_file():
        raise SystemExit(f"{args.tuned} is a LoRA judge already (adapter_config.json); nothing to extract")
    if not (args.tuned / "config.json").is_file() or not list(args.tuned.glob("*.safetensors")):
        raise SystemExit(f"{args.tuned}: not a full-parameter tuned judge (no config.json and *.safetensors weights)")
    if args.rank < 1 or args.token_rows < 0:
        raise SystemExit(f"--rank must be >= 1 and --token-rows >= 0 (got {args.rank}, {args.token_rows})")
    prov_path = args.tuned / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    base_path, base_ref = base_model(prov, args.base)
    tuned = AutoModelForCausalLM.from_pretrained(str(args.tuned), dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    tuned_sd = tuned.state_dict()
    emb_key = "model.embed_tokens.weight"
    emb_delta = tuned_sd[emb_key] - base.state_dict()[emb_key]
    row_norms = emb_delta.norm(dim=1)
    rows = []
    if args.token_rows > 0:
        rows = sorted(int(i) for i in torch.topk(row_norms, args.token_rows).indices)
    cfg = LoraConfig(r=args.rank, lora_alpha=args.rank, lora_dropout=0.0, target_modules=list(TARGETS),
                     modules_to_save=None if args.no_norms else list(NORMS),
                     trainable_token_indices={"embed_tokens": rows} if rows else None,
                     task_type="CAUSAL_LM")
    try:
        model = get_peft_model(base, cfg)
    except ValueError as e:  # e.g. a model whose linear layers are not named q_proj … down_proj
        raise SystemExit(f"{args.tuned}: cannot place the adapter on this model ({e}); "
                         f"extract_lora.py handles Llama-style layers {', '.join(TARGETS)}") from None
    untied = "lm_head.weight" in tuned_sd and not getattr(tuned.config, "tie_word_embeddings", True)
    dropped: dict[str, list[float]] = {}
    changed: dict[str, float] = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in TARGETS and hasattr(module, "lora_A"):
                key = name.split("base_model.model.", 1)[1] + ".weight"
                delta = tuned_sd[key] - module.base_layer.weight
                a, b, lost = lowrank(delta, args.rank)
                module.lora_A["default"].weight.copy_(a)
                module.lora_B["default"].weight.copy_(b)
                dropped.setdefault(leaf, []).append(lost)
                changed[leaf] = changed.get(leaf, 0.0) + float(delta.pow(2).sum())
            elif leaf in NORMS and hasattr(module, "modules_to_save"):
                key = name.split("base_model.model.", 1)[1] + ".weight"
                module.modules_to_save["default"].weight.copy_(tuned_sd[key])
                changed["norms"] = changed.get("norms", 0.0) + float(
                    (tuned_sd[key] - module.original_module.weight).pow(2).sum())
            elif name.endswith("embed_tokens.token_adapter"):  # holds the rows' new values (the output layer's too)
                module.trainable_tokens_delta["default"].copy_(tuned_sd[emb_key][rows])
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out))
    cfg_path = args.out / "adapter_config.json"
    saved = json.loads(cfg_path.read_text())
    saved["base_model_name_or_path"] = base_ref
    cfg_path.write_text(json.dumps(saved, indent=2, sort_keys=True))
    lost = {leaf: round(sum(v) / len(v), 4) for leaf, v in dropped.items()}  # relative Frobenius norm dropped
    if prov:  # the tuned judge's provenance (trained ids, data digests, config, curves) plus how it was extracted
        prov["extracted"] = {"from": str(args.tuned.resolve()), "rank": args.rank, "token_rows": len(rows),
                             "norms": not args.no_norms, "base": base_ref,
                             "dropped_relative_norm_by_module": lost,
                             "source_weights_sha256": sha256(args.tuned / "model.safetensors")}
        (args.out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str))
    emb_total = float(emb_delta.pow(2).sum())
    emb_kept = float(row_norms[rows].pow(2).sum()) if rows else 0.0
    print(f"adapter: {args.out} ({sum(p.stat().st_size for p in args.out.iterdir()) / 1e6:.2f} MB), rank {args.rank}")
    print(f"{'part':<12} {'|ΔW|_F':>9} {'dropped (relative, mean over layers)':>38}")
    for leaf in TARGETS:
        vals = dropped.get(leaf, [])
        print(f"{leaf:<12} {changed.get(leaf, 0.0) ** 0.5:9.4f} {sum(vals) / max(len(vals), 1):38.3f}")
    print(f"{'norms':<12} {changed.get('norms', 0.0) ** 0.5:9.4f} {(1.0 if args.no_norms else 0.0):38.3f}")
    print(f"{'embeddings':<12} {emb_total ** 0.5:9.4f} "
          f"{(max(0.0, (emb_total - emb_kept) / emb_total) ** 0.5 if emb_total else 0.0):38.3f}"
          f"   ({len(rows)} of {emb_delta.shape[0]} rows kept)")
    if untied:  # a separate output layer: its change is not carried (say so; never drop it silently)
        head = float((tuned_sd["lm_head.weight"] - base.get_output_embeddings().weight).pow(2).sum()) ** 0.5
        print(f"{'lm_head':<12} {head:9.4f} {1.0:38.3f}   (an untied output layer: not carried by the adapter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
