#!/usr/bin/env bash
# CI extras for the example app's browser test (examples/axum-app/tests/browser.rs):
# - headless Chromium + chromedriver, via apt when missing;
# - axe-core (accessibility rules the test runs in every view), via npm into
#   $SESSIONWARD_CI_CACHE (default ~/.cache/sessionward-ci); the test reads
#   $SESSIONWARD_AXE_JS, default <that dir>/node_modules/axe-core/axe.min.js.
set -euo pipefail

AXE_VERSION="4.14.1"
CACHE="${SESSIONWARD_CI_CACHE:-$HOME/.cache/sessionward-ci}"

install_browser() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium and chromedriver present"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "chromium/chromedriver missing and not root without sudo: the browser test will be skipped" >&2
      return 0
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  chromium --version
  chromedriver --version
}

install_axe() {
  local js="$CACHE/node_modules/axe-core/axe.min.js"
  if [ -f "$js" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$CACHE/node_modules/axe-core/package.json"; then
    echo "axe-core $AXE_VERSION present: $js"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm missing: the browser test's accessibility check will be skipped" >&2
    return 0
  fi
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" --no-save --no-audit --no-fund --silent "axe-core@$AXE_VERSION"
  echo "axe-core $AXE_VERSION installed: $js"
}

install_browser
install_axe
