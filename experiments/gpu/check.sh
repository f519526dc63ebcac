#!/usr/bin/env bash
# The prepared GPU check (swappable backends): on a machine with an NVIDIA GPU it runs the
# backend parity test (flex, ndarray, tch-cpu and tch-cuda:0 against each other) and the
# training-step benchmark on every backend, and prints a short report: device name, which
# libtorch the binaries could use, step time per method and backend, and the parity test's
# largest differences to tch-cpu.
#
#   bash experiments/gpu/check.sh prepare   # here: build, stage binaries + MNIST in .gpu/
#   bash experiments/gpu/check.sh           # there, from the repository root
#
# `prepare` builds `ngd` and the parity test binary with LibTorch once per PyTorch: the
# PyTorch 2.9.0 of `python3` (the version tch 0.22 expects, as in CI) and, when NGD_GPU_TORCH_VENV
# names a virtualenv with the GPU machine's PyTorch (there: 2.11.0+cu130, which is what
# `pip install torch==2.11.0` gives), that one too, with LIBTORCH_BYPASS_VERSION_CHECK=1 and its
# own target folder. Binaries are stripped and gzipped into .gpu/<torch version>/, beside the
# four MNIST .gz files (MNIST_SRC, default ../shared/datasets/mnist): with the device tool,
# carry ".gpu" (about 35 MB for two versions).
#
# `check` points LD_LIBRARY_PATH at the torch/lib of the machine's python3 (or TORCH_LIB), tries
# each staged build there (ngd refuses a libtorch whose minor version differs from the one it was
# built against; the check also records what happens when that refusal is overridden) and runs
# parity and benchmark with the first build that works. The benchmark JSON goes to $OUT or ".".
set -uo pipefail
cd "$(dirname "$0")/../.."
STAGE=${NGD_GPU_STAGE:-.gpu}

# Builds ngd and the parity test with the PyTorch of the current python; stages them.
build_and_stage() {
  local version parity dest
  version=$(python3 -c 'import torch; print(torch.__version__)') || return 1
  cargo build --release -p ngd-cli --features tch --bin ngd || return 1
  parity=$(cargo test --release -p ngd-cli --features tch --test parity --no-run \
    --message-format=json | grep -o '"executable":"[^"]*parity-[^"]*"' | cut -d'"' -f4 | tail -n 1)
  [ -x "$parity" ] || { echo "prepare: parity test binary not found" >&2; return 1; }
  dest=$STAGE/torch-$version && mkdir -p "$dest"
  cp "${CARGO_TARGET_DIR:-target}/release/ngd" "$dest/ngd" && cp "$parity" "$dest/parity"
  strip "$dest/ngd" "$dest/parity" && gzip -f "$dest/ngd" "$dest/parity"
}

prepare() {
  local mnist=${MNIST_SRC:-../shared/datasets/mnist}
  rm -rf "$STAGE" && mkdir -p "$STAGE/mnist" || exit 1
  cp "$mnist"/*-ubyte.gz "$STAGE/mnist/" || exit 1
  LIBTORCH_USE_PYTORCH=1 build_and_stage || exit 1
  if [ -n "${NGD_GPU_TORCH_VENV:-}" ]; then
    local v=$NGD_GPU_TORCH_VENV
    PATH="$v/bin:$PATH" VIRTUAL_ENV=$v LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1 \
      CARGO_TARGET_DIR=target/gpu-torch build_and_stage || echo "prepare: no build against $v"
  fi
  du -sh "$STAGE"/*
}

# Runs "$@" with a time limit and prints its last lines; returns its status.
tail_of() { local out rc; out=$(timeout 120 "$@" 2>&1); rc=$?; printf '%s\n' "$out" | tail -n 4; return $rc; }

# Does this staged build run on LibTorch here? Prints what happened; status 0 when it does.
try_build() {
  local bin=$1
  echo "-- $bin: $("$bin" --version 2>&1 | head -n 1)"
  if tail_of "$bin" train --backend tch-cpu --n-train 20 --n-test 10 --width 64 --steps 1; then
    return 0
  fi
  echo "   overriding the version check (NGD_ALLOW_LIBTORCH_MISMATCH=1) to see what happens:"
  NGD_ALLOW_LIBTORCH_MISMATCH=1 tail_of "$bin" train --backend tch-cpu --n-train 20 --n-test 10 \
    --width 64 --steps 1 | cut -c1-300
  return 1
}

check() {
  local bin_dir=${TMPDIR:-/tmp}/ngd-gpu-check chosen=
  ls "$STAGE"/torch-*/ngd.gz >/dev/null 2>&1 || { echo "nothing staged in $STAGE: run '$0 prepare' on the build machine" >&2; exit 1; }
  echo "== device"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: no GPU visible"
  python3 -c 'import torch; print("python3 torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())' 2>/dev/null || echo "python3 torch: not importable"
  local lib=${TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)}
  [ -n "$lib" ] && export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

  echo "== data"
  bash datasets/install.sh mnist "$STAGE/mnist" || { echo "MNIST not installable from $STAGE/mnist"; exit 1; }

  echo "== which staged build runs on this machine's libtorch?"
  rm -rf "$bin_dir" && mkdir -p "$bin_dir"
  for staged in "$STAGE"/torch-*; do
    local dest=$bin_dir/$(basename "$staged")
    mkdir -p "$dest" && gunzip -c "$staged/ngd.gz" >"$dest/ngd" && gunzip -c "$staged/parity.gz" >"$dest/parity"
    chmod +x "$dest/ngd" "$dest/parity"
    if try_build "$dest/ngd" && [ -z "$chosen" ]; then chosen=$dest; fi
  done
  [ -n "$chosen" ] || { echo "no staged build runs on this libtorch"; exit 1; }
  echo "using $chosen"
  tail_of "$chosen/ngd" bench --backends tch-cuda --methods exact --repeats 1 --width 256 --seed 1 \
    || echo "tch-cuda is not usable here (see above)"

  echo "== parity (f32 tolerances are stated in crates/ngd-cli/tests/parity.rs)"
  "$chosen/parity" --nocapture --test-threads 1 2>&1 | grep -E "vs|test result|panicked" | head -n 40

  echo "== step benchmark, MNIST 0 vs 7, N = 100, L = 3, M = 4096, every backend built in"
  "$chosen/ngd" bench --backends all --methods exact,block-diagonal,kfac,unit-wise,gd \
    --repeats 5 --seed 1 --out "${OUT:-.}/gpu-bench.json" 2>&1
}

case "${1:-check}" in
  prepare) prepare ;;
  check) check ;;
  *) echo "usage: $0 [prepare|check]" >&2; exit 2 ;;
esac
