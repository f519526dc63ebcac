#!/bin/sh
# Theorem 5.1 with its damping: unit-wise NGD on MNIST 0 vs 7 (N = 100, L = 3), ρ = M^(−ε) in the
# theorem's normalisation (the unit Gram rescaled by M, δ̄ = √M δ), i.e. --damping M^(−(1+ε)) on
# this code's NTK-parameterised Gram, ε ∈ {1/12, 1/24, 1/48}, and ρ = 0; ReLU and tanh;
# M ∈ {256, 1024, 4096, 8192}; seeds 1–3; 10 steps at the default lr 1/α̂ (α̂ of the damped Θ̄).
# A run that fails (Cholesky on a diverged network) records its steps up to the failure.
cd "$(dirname "$0")/../.."
NGD=${NGD:-target/release/ngd}
OUT=experiments/theorem51-damping
export NGD_DATA_OFFLINE=1
for ACT in relu tanh; do for M in 256 1024 4096 8192; do for E in 0 12 24 48; do for S in 1 2 3; do
  if [ $E = 0 ]; then RHO=0; else RHO=$(python3 -c "print($M**(-(1+1/$E)))"); fi
  NAME=${ACT}_M${M}_eps${E}_s$S
  $NGD train --method unit-wise --activation $ACT --width $M --steps 10 --seed $S --damping $RHO \
      --out $OUT/$NAME.json > $OUT/$NAME.log 2>&1 || true
done; done; done; done
# the chart: four seed-1 runs at M = 4096 with their first-order predictions (--diagnostics)
$NGD figure $OUT/config.json
# table.md from the .json records
NGD_BLESS_TABLES=1 cargo test --release --test experiment_tables
