#!/usr/bin/env bash
# One prepared GPU check (issue: swappable backends). On a machine with an NVIDIA GPU it runs
# the backend parity test (flex, ndarray, tch-cpu and tch-cuda:0 against each other) and the
# training-step benchmark on tch-cpu and tch-cuda, then prints a short report.
#
# Build here first (the GPU machine has no internet):
#   LIBTORCH_USE_PYTORCH=1 CARGO_TARGET_DIR=target-tch cargo test --release -p ngd-cli --features tch --no-run
#   LIBTORCH_USE_PYTORCH=1 CARGO_TARGET_DIR=target-tch cargo build --release -p ngd-cli --features tch
# then carry target-tch/release/ngd, the parity test binary and the MNIST .gz files
# (MNIST_SRC, default ../shared/datasets/mnist) to the GPU machine and run this script there.
#
# The binary links libtorch 2.9.0 (rpath to the build machine's torch/lib). On a machine whose
# Python has another PyTorch, set TORCH_LIB to that torch/lib to try it (LibTorch's C++ ABI is
# not stable across minor versions: expect an undefined-symbol error at start-up if it differs).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${NGD_BIN:-target-tch/release/ngd}
PARITY=${NGD_PARITY:-$(ls target-tch/release/deps/parity-* 2>/dev/null | grep -v '\.d$' | head -n 1)}
MNIST_SRC=${MNIST_SRC:-../shared/datasets/mnist}
if [ -n "${TORCH_LIB:-}" ]; then export LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"; fi

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: no GPU visible"
python3 -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())' 2>/dev/null || echo "python torch: not importable"
echo "ngd binary: $BIN; parity test: ${PARITY:-missing}; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

echo "== data"
bash datasets/install.sh mnist "$MNIST_SRC" || { echo "MNIST not installable from $MNIST_SRC"; exit 1; }

echo "== start-up (does the binary load this libtorch?)"
"$BIN" bench --backends tch-cuda --methods exact --repeats 1 --width 256 --seed 1 2>&1 | tail -n 3

echo "== parity (f32 tolerances are stated in crates/ngd-cli/tests/parity.rs)"
"$PARITY" --nocapture --test-threads 1 2>&1 | grep -E "vs|test result|panicked" | head -n 40

echo "== step benchmark, MNIST 0 vs 7, N = 100, L = 3, M = 4096"
"$BIN" bench --backends tch-cpu,tch-cuda --methods exact,block-diagonal,gd --repeats 5 --seed 1 2>&1
