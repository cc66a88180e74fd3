"""`import judgebench` and `judgebench list` must not import any ML stack or any plugin module."""
import subprocess
import sys

HEAVY = ["torch", "transformers", "vllm", "trl", "litellm", "peft", "openai", "datasets", "fastapi"]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_judgebench_is_light():
    mods = _modules_after("import judgebench, judgebench.cli, judgebench.engine, judgebench.runner, judgebench.metrics")
    assert not [m for m in HEAVY if m in mods]


def test_list_imports_no_plugin():
    mods = _modules_after("import contextlib, io\nfrom judgebench.cli import main\n"
                          "with contextlib.redirect_stdout(io.StringIO()): main(['list'])")
    assert not [m for m in HEAVY if m in mods]
    assert not [m for m in mods if m.startswith(("judgebench_hf", "judgebench_api", "judgebench_vllm", "judgebench_dpo",
                                                 "jb_thirdparty"))]
