"""lora backend: a real PEFT adapter on the tiny Llama changes the judge, its fingerprint, and loads from backend.yaml."""
from __future__ import annotations

import json
import shutil

import peft
import pytest
import torch
import yaml

from judgebench import ConfigError  # noqa: E402
from judgebench_hf.backend import HFBackend  # noqa: E402
from judgebench_hf.lora import LoraBackend  # noqa: E402

from .conftest import cli  # noqa: E402
from .test_hf_support import llmbar_examples, pairwise_requests, tiny_dir  # noqa: E402,F401


def make_adapter(base_dir, out, seed: int = 1, scale: float = 0.5):
    """A LoRA adapter made by peft on the base, with its (zero-initialised) B matrices perturbed, saved."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj"]))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    lora.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def adapter(tiny_dir, tmp_path_factory):  # noqa: F811
    return make_adapter(tiny_dir, tmp_path_factory.mktemp("lora") / "adapter")


@pytest.fixture(scope="module")
def requests_():
    return pairwise_requests(llmbar_examples(3, "Adversarial/Manual"))[1]


def test_adapter_changes_outputs_and_fingerprint(tiny_dir, adapter, requests_):  # noqa: F811
    base = HFBackend(str(tiny_dir))
    tuned = LoraBackend(str(adapter))
    assert tuned.base == str(tiny_dir)  # read from adapter_config.json's base_model_name_or_path
    b_scores = [c.choice_logprobs for c in base.choice_logprobs(requests_)]
    t_scores = [c.choice_logprobs for c in tuned.choice_logprobs(requests_)]
    assert all(abs(x["A"] - y["A"]) > 1e-3 for x, y in zip(b_scores, t_scores))
    assert tuned.fingerprint() != base.fingerprint()
    # the scores are those of the peft model itself
    ref = peft.PeftModel.from_pretrained(base.lm, str(adapter)).eval()
    a_id = base.tokenizer.convert_tokens_to_ids("A")
    ids = base.prompts.build(requests_[0], 10**6).ids
    with torch.no_grad():
        lp = torch.log_softmax(ref(torch.tensor([ids])).logits[0, -1].float(), -1)[a_id].item()
    assert t_scores[0]["A"] == pytest.approx(lp, abs=2e-4)
    info = tuned.info()
    assert info["adapter"] == str(adapter.resolve()) and info["base"] == str(tiny_dir)


def test_merge_gives_the_same_judge(adapter, requests_):
    plain, merged = LoraBackend(str(adapter)), LoraBackend(str(adapter), merge=True)
    assert merged.fingerprint() == plain.fingerprint()
    assert not isinstance(merged.lm, peft.PeftModel)
    for x, y in zip(plain.choice_logprobs(requests_), merged.choice_logprobs(requests_)):
        assert x.choice_logprobs["B"] == pytest.approx(y.choice_logprobs["B"], abs=1e-3)


def test_different_adapter_weights_differ(tiny_dir, adapter, tmp_path):  # noqa: F811
    other = make_adapter(tiny_dir, tmp_path / "other", seed=2)
    assert LoraBackend(str(other)).fingerprint() != LoraBackend(str(adapter)).fingerprint()


def test_tuner_output_dir_with_backend_yaml(tiny_dir, adapter, tmp_path):  # noqa: F811
    """The dpo tuner's layout: adapter + tokenizer + backend.yaml naming the base; the adapter_config's own base
    path does not exist on this machine."""
    out = shutil.copytree(adapter, tmp_path / "tuned")
    cfg = json.loads((out / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "/nonexistent/training/machine/base"
    (out / "adapter_config.json").write_text(json.dumps(cfg))
    (out / "backend.yaml").write_text(yaml.safe_dump({"name": "lora", "model": str(out),
                                                      "options": {"base": str(tiny_dir)}}))
    b = LoraBackend(str(out))
    assert b.base == str(tiny_dir)
    assert b.fingerprint() == LoraBackend(str(adapter)).fingerprint()  # same weights and config → same judge
    run = cli("run", "--backend", str(out), "--task", "llmbar/adversarial/manual", "--limit", "2", "--mode", "choice",
              "--json", "--runs-root", str(tmp_path / "runs"), check=True)
    usage = json.loads(run.stdout)["usage"]
    assert usage["sent"] + usage["cached"] == 4 and usage["errors"] == 0
    (out / "backend.yaml").unlink()
    with pytest.raises(ConfigError, match="does not exist here"):
        LoraBackend(str(out))


def test_bad_adapter_dir_and_options_are_config_errors(tiny_dir, adapter):  # noqa: F811
    with pytest.raises(ConfigError, match="no PEFT adapter"):
        LoraBackend(str(tiny_dir))
    with pytest.raises(ConfigError, match=r"backend 'lora': unknown option 'rank'; allowed: .*base.*merge"):
        LoraBackend(str(adapter), rank=8)
    with pytest.raises(ConfigError, match="unknown option 'merge'"):
        HFBackend(str(tiny_dir), merge=True)
