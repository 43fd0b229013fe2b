#!/usr/bin/env bash
# Browser for tests/test_browser.py: Debian's Chromium (driven by the playwright
# Python package through executable_path=/usr/bin/chromium; never
# `playwright install`, which downloads a browser build) and a CJK font so the
# Chinese pages render in screenshots. Called by .ci/run before the tests.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}"
fi
chromium --version || true

# The playwright package is in the [test] extra; install it here too when the
# virtualenv already exists (a re-run), so the browser test never skips in CI.
if [ -x .venv/bin/pip ]; then
  .venv/bin/pip install -q "playwright>=1.40"
fi
