#!/usr/bin/env bash
# Sets up paperfeed on a fresh machine (needs only Python 3.11 and pip): a virtual environment in
# .venv with every dependency at the version in constraints.txt, and paperfeed installed in it.
#   --with-browser   also install Chromium where it is missing (Debian's package, needs root):
#                    the tests look at the release page and run report in a headless browser.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'

if [ "${1:-}" = "--with-browser" ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Chromium (Debian package) for the browser tests"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "Chromium is missing and cannot be installed here (needs root and apt-get); browser tests will be skipped" >&2
    fi
fi
echo "paperfeed is installed in .venv ($(.venv/bin/paperfeed --help >/dev/null && echo ok))"
