#!/usr/bin/env bash
# Sets up paperfeed on a fresh machine (needs only Python 3.11 and pip): a virtual environment in
# .venv with every dependency at the version in constraints.txt, and paperfeed installed in it.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
echo "paperfeed is installed in .venv ($(.venv/bin/paperfeed --help >/dev/null && echo ok))"
