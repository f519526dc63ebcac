#!/bin/sh
# Theorem 5.1: unit-wise NGD on MNIST 0 vs 7 (N = 100, L = 3, ρ = 0): measured α (and every
# other method's α and relative step size), and steps at η = 1/α̂ (the default learning rate).
set -e
cd "$(dirname "$0")/../.."
NGD=target/release/ngd
$NGD isotropy --methods ntk,exact,block-diagonal,block-tri-diagonal,kfac,unit-wise,diagonal,quasi-diagonal \
    --inputs mnist --widths 256,1024 --depth 3 --seeds 2 --activation relu \
    --out experiments/theorem51/iso_mnist_relu.json
$NGD isotropy --methods unit-wise,kfac --inputs mnist --widths 4096 --depth 3 --seeds 1 \
    --activation relu --out experiments/theorem51/iso_mnist_relu_4096.json
$NGD isotropy --methods unit-wise --inputs mnist --widths 256,1024,4096 --depth 3 --seeds 2 \
    --activation tanh --out experiments/theorem51/iso_mnist_unitwise_tanh.json
for ACT in relu tanh; do for W in 256 1024 4096; do
  $NGD train --method unit-wise --activation $ACT --width $W --steps 2 --seed 1 \
      --out experiments/theorem51/train_unitwise_${ACT}_M$W.json
done; done
# ReLU with a small damping (Theorem 5.1 assumes ρ = 1/M^ε, not 0)
for R in 1e-4 1e-6 1e-8; do
  $NGD train --method unit-wise --activation relu --width 1024 --steps 2 --seed 1 --damping $R \
      --out experiments/theorem51/train_unitwise_relu_M1024_rho$R.json
done
