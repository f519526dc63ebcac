#!/bin/sh
# Why unit-wise NGD with ReLU diverges at ρ = 0 (issue 11 §1): MNIST 0 vs 7, N = 100, L = 3,
# unit-wise at lr 1/α̂, ReLU and tanh, M ∈ {256, 1024, 4096, 8192}, ρ = 0 and the default
# 4e-8/M, seeds 1–3, 3 steps with --diagnostics (per step: the loss of the first-order
# prediction f − ηJΔθ, the loss with the ReLU gates frozen at initialisation, the fraction of
# gates switched on/off per hidden layer, ‖ηΔθ_l‖/‖W_l‖). Then the chart of three seed-1 runs and
# table.md from runs/*.json.
cd "$(dirname "$0")/../.."
NGD=${NGD:-target/release/ngd}
OUT=experiments/theorem51-relu
export NGD_DATA_OFFLINE=1
for ACT in relu tanh; do for M in 256 1024 4096 8192; do for R in 0 default; do for S in 1 2 3; do
  if [ $R = 0 ]; then RHO=0; else RHO=$(python3 -c "print(4e-8/$M)"); fi
  NAME=${ACT}_M${M}_rho${R}_s$S
  $NGD train --method unit-wise --activation $ACT --width $M --steps 3 --seed $S --damping $RHO \
      --diagnostics --out $OUT/runs/$NAME.json > /dev/null 2>&1 || true
done; done; done; done
$NGD figure $OUT/config.json
NGD_BLESS_TABLES=1 cargo test --release --test experiment_tables
