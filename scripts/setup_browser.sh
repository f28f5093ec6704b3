#!/usr/bin/env bash
# What tests/test_browser.py needs: the Python package playwright in .venv, Debian's chromium
# at /usr/bin/chromium and a CJK font (WenQuanYi Zen Hei). Playwright's own browser download
# is not used. Idempotent and quick when everything is there. Installs system packages only
# as root with apt-get; otherwise it says what is missing and exits 0 (the tests then skip,
# or fail under RAG_REQUIRE_BROWSER=1).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
CHROMIUM=/usr/bin/chromium
DEB_PACKAGES=(chromium fonts-wqy-zenhei)
missing=()

# -- the Python package ----------------------------------------------------------------
if [ ! -x "$PY" ]; then
  echo "setup_browser: no .venv (run scripts/setup.sh first); skipping playwright" >&2
  missing+=("python package playwright (no .venv)")
elif ! "$PY" -c "import playwright.sync_api" 2>/dev/null; then
  echo "setup_browser: installing playwright into .venv"
  if ! "$PY" -m pip install -q playwright; then
    missing+=("python package playwright (pip install failed)")
  fi
fi

# -- the browser and the font ----------------------------------------------------------
have_font() { command -v fc-list >/dev/null 2>&1 && fc-list | grep -qi wqy; }

need_debs() { [ ! -x "$CHROMIUM" ] || ! have_font; }

if need_debs; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # refresh the package lists only when they do not know the packages yet
    if ! apt-cache show "${DEB_PACKAGES[@]}" >/dev/null 2>&1; then
      echo "setup_browser: apt-get update"
      apt-get update -q
    fi
    echo "setup_browser: apt-get install ${DEB_PACKAGES[*]}"
    if ! apt-get install -y -q --no-install-recommends "${DEB_PACKAGES[@]}"; then
      # stale lists (a 404 on a superseded version): refresh once and retry
      apt-get update -q
      apt-get install -y -q --no-install-recommends "${DEB_PACKAGES[@]}" ||
        echo "setup_browser: apt-get install failed" >&2
    fi
  fi
  [ -x "$CHROMIUM" ] || missing+=("$CHROMIUM (Debian package chromium)")
  have_font || missing+=("a CJK font (Debian package fonts-wqy-zenhei)")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup_browser: still missing (browser tests will skip):" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 0
fi
echo "setup_browser: ready: $("$CHROMIUM" --version 2>/dev/null || echo chromium)," \
  "playwright $("$PY" -c 'from importlib.metadata import version; print(version("playwright"))')"
