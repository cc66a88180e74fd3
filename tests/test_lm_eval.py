"""lm-evaluation-harness integration: judgebench tasks exported as lm-eval tasks, judgebench backends as an lm-eval
model — run by lm-eval's own evaluator on real LLMBar rows."""
from __future__ import annotations

import json

import pytest

from judgebench.engine import prepare_tasks

from .conftest import DATA, cli
from .test_hf_support import tiny_dir  # noqa: F401, F811  (fixture)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("lmeval")
    p = cli("export-lm-eval", "--task", "llmbar/natural", "--out", str(out), "--limit", "12",
            env={"JUDGEBENCH_DATA_DIR": str(DATA)})
    assert p.returncode == 0, p.stderr
    return out


def test_export_writes_one_doc_per_judge_request_with_the_right_gold(exported):
    (task,) = prepare_tasks("llmbar/natural", limit=12)
    docs = [json.loads(line) for line in (exported / "judgebench_llmbar_natural.jsonl").read_text().splitlines()]
    reqs = [r for ex in task.examples for r in task.protocol.expand(ex)]
    assert len(docs) == len(reqs) == 24  # both orders of each pair
    by_id = {ex.id: ex for ex in task.examples}
    for d, r in zip(docs, reqs):
        assert r.messages[-1].content in d["text"]
        order = r.meta["order"]
        assert order[d["gold"]] in by_id[d["example_id"]].labels
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["tasks"]["judgebench_llmbar_natural"] == {
        "judgebench_task": "llmbar/natural", "docs": 24, "examples": 12, "left_out": {}}


def test_lm_eval_scores_a_judgebench_task_alike_through_its_hf_model_and_the_judgebench_backend(tmp_path, tiny_dir):  # noqa: F811
    """The exported sample task, evaluated by lm-eval's evaluator twice on the same tiny model: once with lm-eval's
    own `hf` model (chat template applied by lm-eval), once with model="judgebench" over judgebench's `hf` backend.
    Per-doc choice margins and the accuracy agree."""
    import judgebench_lmeval.model  # noqa: F401  registers model "judgebench"
    import lm_eval
    from lm_eval.tasks import TaskManager

    out = tmp_path / "lmeval"
    p = cli("export-lm-eval", "--task", "sample", "--split", "test", "--out", str(out), "--limit", "10")
    assert p.returncode == 0, p.stderr
    tm = TaskManager(include_path=str(out))
    common = dict(tasks=["judgebench_sample"], task_manager=tm, apply_chat_template=True, log_samples=True)
    ours = lm_eval.simple_evaluate(model="judgebench", model_args=f"backend=hf:{tiny_dir}", **common)
    theirs = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_dir},dtype=float32", batch_size=4, device="cpu",
                                     **common)
    lls = [[[float(r[0]) for r in s["filtered_resps"]] for s in run["samples"]["judgebench_sample"]]
           for run in (ours, theirs)]
    assert len(lls[0]) == len(lls[1]) == 20  # 10 pairs, both orders
    # lm-eval moves the context's trailing newline into the continuation ("\nA"), adding the same log-prob of "\n" to
    # both choices of a doc; judgebench scores "A" right after the assistant header.  The margins must agree.
    margins = [[a - b for a, b in run] for run in lls]
    assert margins[0] == pytest.approx(margins[1], abs=1e-3)
    assert ours["results"]["judgebench_sample"]["acc,none"] == theirs["results"]["judgebench_sample"]["acc,none"]


def test_generate_until_goes_through_the_backend_with_stop_strings():
    from judgebench_lmeval.model import JudgebenchLM
    from lm_eval.api.instance import Instance

    lm = JudgebenchLM(backend="scripted", opt_reply="B because it is longer. END trailing")
    reqs = [Instance("generate_until", {}, ("Which is better? A or B", {"until": ["END"], "max_gen_toks": 32}), i)
            for i in range(3)]
    assert lm.generate_until(reqs) == ["B because it is longer. "] * 3


def test_unknown_model_args_and_backends_without_choice_scoring_are_named():
    from judgebench_lmeval.model import JudgebenchLM
    from lm_eval.api.instance import Instance

    from judgebench import ConfigError

    with pytest.raises(ConfigError, match="unknown model_args"):
        JudgebenchLM(backend="baseline:longer", temperature=0.5)
    lm = JudgebenchLM(backend="scripted", opt_reply="A")
    with pytest.raises(NotImplementedError, match="no choice scoring"):
        lm.loglikelihood([Instance("loglikelihood", {}, ("ctx", "A"), 0)])
