#!/bin/sh
# K-FAC on MNIST 0 vs 7 (N = 100, L = 3, ρ = 0, seed 1), 4 steps, at the authors' η = 1/(NL)
# and at η = 1/α = 1/(N(L−1)+1) (the default), widths 1024–8192. See experiments/README.md.
set -e
cd "$(dirname "$0")/../.."
NGD=target/release/ngd
for W in 1024 2048 4096 8192; do
  $NGD train --method kfac --width $W --steps 4 --lr 0.0033333333333333335 --seed 1 \
      --out experiments/kfac/kfac_eta_1_over_NL_M$W.json
  $NGD train --method kfac --width $W --steps 4 --seed 1 \
      --out experiments/kfac/kfac_eta_1_over_alpha_M$W.json
done
