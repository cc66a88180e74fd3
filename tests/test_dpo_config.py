"""tune.yaml: defaults from the seed recipe, blocks passed into trl.DPOConfig / peft.LoraConfig, unknown keys fail."""
from __future__ import annotations

import pytest
from judgebench_dpo.config import build_dpo_config, build_lora_config, load_config

from judgebench import ConfigError
from judgebench.commands.tune import apply_sets


def test_defaults_are_the_seed_recipe(tmp_path):
    cfg = load_config(None)
    args = build_dpo_config(cfg, tmp_path / "ck")
    assert (args.learning_rate, args.num_train_epochs, args.beta) == (5e-6, 3, 0.1)
    assert args.output_dir == str(tmp_path / "ck") and args.bf16 is False  # no CUDA here: no bf16 autocast
    lora = build_lora_config(cfg)
    assert type(lora).__name__ == "LoraConfig" and lora.r == 16 and cfg.level == "verdict" and cfg.swap


def test_blocks_pass_straight_into_the_libraries(tmp_path):
    f = tmp_path / "tune.yaml"
    f.write_text("level: response\nswap: false\ndpo:\n  learning_rate: 1e-5\n  loss_type: [ipo]\n  max_steps: 7\n"
                 "lora:\n  r: 4\n  lora_alpha: 8\n  target_modules: [q_proj, v_proj]\n")
    cfg = load_config(f)
    args = build_dpo_config(cfg, tmp_path / "ck")
    assert args.learning_rate == 1e-5 and args.loss_type == ["ipo"] and args.max_steps == 7  # "1e-5" is a str in YAML 1.1
    lora = build_lora_config(cfg)
    assert lora.r == 4 and set(lora.target_modules) == {"q_proj", "v_proj"}
    assert cfg.to_dict()["dpo"]["beta"] == 0.1  # defaults kept under the overrides


def test_lora_false_trains_all_weights():
    assert build_lora_config(load_config(None, lora=False)) is None


@pytest.mark.parametrize("data,match", [
    ({"dpo": {"learning_rat": 1e-5}}, r"unknown dpo key\(s\): learning_rat \(did you mean learning_rate\?\)"),
    ({"lora": {"rank": 8}}, r"unknown lora key\(s\): rank"),
    ({"dpo_config": {}}, r"unknown key\(s\) \['dpo_config'\]"),
    ({"dpo": {"output_dir": "x"}}, r"dpo.output_dir is set by judgebench"),
    ({"level": "token"}, "level must be one of"),
    ({"reference_drop": 2}, "reference_drop must be in"),
    ({"dpo": {"beta": "high"}}, "dpo"),
])
def test_bad_config_fails_loudly(tmp_path, data, match):
    with pytest.raises(ConfigError, match=match):
        build_dpo_config(load_config(None, **data), tmp_path)


def test_set_flags_nest_and_read_yaml():
    assert apply_sets(["dpo.max_steps=20", "lora.r=8", "swap=false", "dpo.loss_type=[sigmoid]"]) == {
        "dpo": {"max_steps": 20, "loss_type": ["sigmoid"]}, "lora": {"r": 8}, "swap": False}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_sets(["dpo.max_steps"])
