#!/usr/bin/env bash
# The GPU path in one go (under 8 minutes on a GPU machine): the tests marked `cuda`
# (training on CUDA uni-/bidirectional, packed and unpacked; attributions on CUDA with cuDNN
# off only inside them; a CUDA-trained checkpoint loading on the CPU), then CUDA vs CPU
# training throughput at the shipped BiLSTM's size. Without a GPU it says so, the tests skip
# and only the CPU is timed.
#
#   bash benchmarks/gpu_check.sh            (from the repository root; PYTHON=... to pick the interpreter)
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    "$PYTHON" -c 'import torch; print("CUDA:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda, "| cuDNN", torch.backends.cudnn.version())'
    examples=8000
else
    echo "No CUDA GPU on this machine (torch.cuda.is_available() is False): the cuda tests will be skipped and only the CPU is timed."
    examples=1000
fi
echo "== tests marked cuda =="
timeout 300 "$PYTHON" -m pytest -m cuda -q -rs tests/test_gpu_path.py
tests=$?
echo "== training throughput, shipped BiLSTM size =="
timeout 180 "$PYTHON" benchmarks/gpu_throughput.py --examples "$examples"
bench=$?
echo "== summary: tests exit $tests (0 passed or all skipped), throughput exit $bench =="
[ "$tests" -eq 0 ] || [ "$tests" -eq 5 ] && [ "$bench" -eq 0 ]
