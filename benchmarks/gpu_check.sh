#!/usr/bin/env bash
# The course's GPU check (issue 26): on one NVIDIA GPU (H100 or H200, 16 CPU cores, offline),
# in under 8 minutes, from the repository root:
#
#   bash benchmarks/gpu_check.sh                   # writes benchmarks/results/gpu_<gpu>.json
#   bash benchmarks/gpu_check.sh --dry-run         # the same steps on a CPU, tiny budgets, 1-2 min
#   bash benchmarks/gpu_check.sh --dry-run --out DIR
#
# It runs `python -m gannotes bench` for every GAN (fp32, bf16, fp16; NCHW and channels-last;
# eager and compiled), times every notebook's default run (benchmarks/notebook_budget.py),
# trains the 3-minute bf16 DCGAN and judges it by the course's quality gate, and trains with
# torchrun on 2 processes; each step's status, error line and numbers go to one JSON, its
# output to a log beside it. Without --dry-run it refuses to start where CUDA is missing.
# The steps are in benchmarks/gpu_check.py; PYTHON picks the interpreter (default: .venv's).
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ " $* " == *" -h "* || " $* " == *" --help "* ]]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    echo
fi
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" benchmarks/gpu_check.py "$@"
