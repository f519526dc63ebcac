#!/bin/sh
# Fig. 3: condition number of Θ̄(x,x) at initialisation vs width, ReLU, L = 3, Gaussian inputs
# (N = 100, M_0 = 784), ρ = 0, seeds 0,1,2 (weights and inputs both drawn with the seed).
# Three runs (the diagonal FIMs cost N²·P per Θ̄ and were run to smaller widths), merged into
# iso.json by merge.py, then plotted with --replot.
set -e
cd "$(dirname "$0")/../.."
NGD=target/release/ngd
cargo build --release --bin ngd
$NGD isotropy --methods ntk,exact,block-diagonal,block-tri-diagonal,kfac,unit-wise \
    --widths 128,256,512,1024,2048,4096 --depth 3 --inputs gaussian --n 100 --seeds 3 \
    --out experiments/fig3/iso_layerwise.json
$NGD isotropy --methods diagonal,quasi-diagonal --widths 128,256,512,1024 --depth 3 \
    --inputs gaussian --n 100 --seeds 3 --out experiments/fig3/iso_diagonal.json
$NGD isotropy --methods diagonal,quasi-diagonal --widths 2048 --depth 3 \
    --inputs gaussian --n 100 --seeds 1 --out experiments/fig3/iso_diagonal_2048.json
python3 experiments/fig3/merge.py
$NGD isotropy --replot --out experiments/fig3/iso.json
# α vs depth (the README's α table), M = 512, one seed
for L in 4 5 6 7; do
  $NGD isotropy --methods block-diagonal,block-tri-diagonal,kfac --widths 512 --depth $L --seeds 1 \
      --out experiments/fig3/alpha_depth_L$L.json
done
$NGD isotropy --methods block-tri-diagonal --widths 512 --depth 5 --seeds 1 --damping 1e-12 \
    --out experiments/fig3/alpha_depth_L5_rho1e-12.json
rm -f experiments/fig3/alpha_depth_L*.svg
