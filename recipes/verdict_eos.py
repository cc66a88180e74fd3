"""How much of a verdict pair's training margin is the end-of-turn token that trl appends after the verdict:
`python recipes/verdict_eos.py TASK [--limit N] [--base MODEL] [--adapter DIR]`.

For each item of TASK's test split, in both candidate orders, it scores the judge prompt exactly as the `hf` backend
renders it (SmolLM2 unless ``--base``, max_length 1024) and splits the A−B margin into the verdict token's part, log π(A) − log π(B)
(what choice mode evaluates), and the end-of-turn part, log π(EOS | A) − log π(EOS | B) (what `verdict_eos: true`
adds to the training margin).  Each is decomposed as in recipes/margins.py: the position part (the mean over the two
orders) and the content part (half their difference).  With ``--adapter`` the same is printed for a LoRA judge on
top of the base.
"""
from __future__ import annotations

import argparse
import statistics as st
from typing import Any


def margins(model: Any, tok: Any, rows: list[tuple[str, str, str]]) -> dict[str, dict[str, tuple[float, float]]]:
    """example id → slot → (verdict-token margin, end-of-turn margin)."""
    import torch

    out: dict[str, dict[str, tuple[float, float]]] = {}
    eos = tok.eos_token_id
    with torch.no_grad():
        for ex_id, slot, prompt in rows:
            pid = tok(prompt)["input_ids"]
            a = tok(prompt + "A" + tok.eos_token)["input_ids"][len(pid):]
            b = tok(prompt + "B" + tok.eos_token)["input_ids"][len(pid):]
            if len(a) != 2 or len(b) != 2 or a[1] != eos or b[1] != eos:
                raise SystemExit(f"{ex_id}: the verdicts do not tokenise as one token + EOS ({a}, {b})")
            logits = model(input_ids=torch.tensor([pid + a[:1], pid + b[:1]])).logits[:, -2:]
            logp = torch.log_softmax(logits.float(), -1)
            out.setdefault(ex_id, {})[slot] = (float(logp[0, 0, a[0]] - logp[1, 0, b[0]]),
                                               float(logp[0, 1, eos] - logp[1, 1, eos]))
    return out


def report(name: str, m: dict[str, dict[str, tuple[float, float]]]) -> None:
    pairs = [(s["0-1"], s["1-0"]) for s in m.values() if "0-1" in s and "1-0" in s]
    for k, part in ((0, "verdict token"), (1, "EOS after it")):
        pos = [(x[k] + y[k]) / 2 for x, y in pairs]
        con = [(x[k] - y[k]) / 2 for x, y in pairs]
        print(f"{name:<8} {part:<14} n {len(pairs)}  position part mean {st.mean(pos):+.3f} sd {st.pstdev(pos):.3f}  "
              f"content part sd {st.pstdev(con):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task")
    ap.add_argument("--limit", type=int, default=60, help="test items (each judged in both orders)")
    ap.add_argument("--base", default="smollm2", help="the hf judge's model (default: the embedded SmolLM2)")
    ap.add_argument("--adapter", help="a LoRA judge's directory (e.g. plugins/judgebench_hf/judges/smollm2-judge)")
    args = ap.parse_args()

    from judgebench_dpo.pairs import swapped
    from judgebench_dpo.rendering import Renderer, load_base

    from judgebench import BackendSpec
    from judgebench.resolve import prepare_tasks

    judge = load_base(BackendSpec("hf", args.base, {"max_length": 1024}))
    try:
        render = Renderer(judge, 1024)
        (task,) = prepare_tasks(args.task, split="test", limit=args.limit)
        proto = swapped(task.protocol, True)
        rows = [(ex.id, str(req.meta.get("slot")), p) for ex in task.examples for req in proto.expand(ex)
                if (p := render(req)) is not None]
        model = judge.model.eval()
        report("base", margins(model, judge.tokenizer, rows))
        if args.adapter:
            from peft import PeftModel

            report("adapter", margins(PeftModel.from_pretrained(model, args.adapter).eval(), judge.tokenizer, rows))
    finally:
        judge.close()


if __name__ == "__main__":
    main()
