#!/bin/sh
# Fig. 3 with damping (issue 11 §4): condition number of Θ̄(x,x) at initialisation vs width
# for exact, block-diagonal (BD) and unit-wise NGD at ρ ∈ {1e-10, 1e-8, 1e-6, 1e-4}, with the NTK as
# reference. Same setting as fig3/run.sh: ReLU, L = 3, N = 100 Gaussian inputs (M_0 = 784),
# σ_w² = 2, σ_b² = 0, seeds 0–2 (weights and inputs both drawn with the seed).
# ρ = 0 at widths 128–4096 is fig3/iso_layerwise.json; ρ = 0 at 16–64 is run here.
# Binary: target/release/ngd built from commit 7422921 (`cargo build --release --bin ngd`);
# the runs used a copy of it (NGD=/tmp/ngd-iso), at nice 19.
set -e
cd "$(dirname "$0")/../.."
NGD=${NGD:-target/release/ngd}
OUT=experiments/fig3-damping
export NGD_DATA_OFFLINE=1
COMMON="--depth 3 --inputs gaussian --n 100 --seeds 3"
# ρ = 0 below width N = 100 (BD and unit-wise refuse there: singular Grams; exact works)
nice -n 19 $NGD isotropy --methods ntk,exact,block-diagonal,unit-wise --widths 16,32,64 $COMMON \
    --out $OUT/iso_rho0_small.json
for RHO in 1e-8 1e-6 1e-4; do
  nice -n 19 $NGD isotropy --methods ntk,exact,block-diagonal,unit-wise \
      --widths 16,32,64,128,256,512,1024,2048 $COMMON --damping $RHO --out $OUT/iso_rho$RHO.json
done
for RHO in 1e-8 1e-6 1e-4; do
  nice -n 19 $NGD isotropy --methods ntk,exact,block-diagonal,unit-wise \
      --widths 4096 $COMMON --damping $RHO --out $OUT/iso_rho${RHO}_4096.json
done
# a fourth, smaller damping (added after the first three: the limit ρ → 0⁺), all widths in one run
nice -n 19 $NGD isotropy --methods ntk,exact,block-diagonal,unit-wise \
    --widths 16,32,64,128,256,512,1024,2048,4096 $COMMON --damping 1e-10 --out $OUT/iso_rho1e-10.json
python3 $OUT/merge.py
nice -n 19 $NGD isotropy --replot --out $OUT/merged_bd.json
nice -n 19 $NGD isotropy --replot --out $OUT/merged_unit.json
# tables.md (and the README tables) from merged.json
NGD_BLESS_TABLES=1 cargo test --release --test experiment_tables
