#!/usr/bin/env bash
# Fig. 2's K-FAC panel with and without the Forster transform (issue 11 §3): MNIST '0' vs '7',
# N = 1000 > M_0 = 784, N' = 1000, L = 3, M = 4096, σ_w² = 2, σ_b² = 0, analytic kernels,
# f_0 from 3 seeds; plus one K-FAC training step (ρ = 0, η = 1/α) each way.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NGD_DATA_OFFLINE=1
NGD="nice -n 19 ${CARGO_TARGET_DIR:-target}/release/ngd"
D=experiments/fig2-forster
COMMON=(--dataset mnist --classes 0,7 --n-train 1000 --n-test 1000 --depth 3 --width 4096)
$NGD predict "${COMMON[@]}" --methods exact,kfac --seeds 3 --out $D/predict_raw.json
$NGD predict "${COMMON[@]}" --methods exact,kfac --seeds 3 --forster --out $D/predict_forster.json
$NGD predict --plot-from $D/predict_raw.json,$D/predict_forster.json --plot $D/fig2_kfac_forster.svg
$NGD train "${COMMON[@]}" --method kfac --steps 3 --out $D/train_raw.json
$NGD train "${COMMON[@]}" --method kfac --steps 3 --forster --out $D/train_forster.json
