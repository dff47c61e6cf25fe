#!/bin/sh
# Rebuilds the default bundle from scratch (resumable: finished stages in training/work are skipped).
# Run from anywhere; extra arguments go to `python -m migm_train build`.
set -e
cd "$(dirname "$0")"
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=34359738368 ORT_DISABLE_TELEMETRY=1
# One thread per process: two OpenBLAS threads gained ~3% in base training; the build instead runs the
# regime check in a second process beside the shortcut stages.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
PY=.venv/bin/python
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "error: training/.venv/bin/python cannot import torch. Make the environment: bash scripts/setup.sh" >&2
  exit 2
fi
exec "$PY" -m migm_train build --out ../packages/bundle-fashion-mnist/bundle --work work \
  --fixtures test/fixtures/parity --docs ../docs "$@"
