#!/usr/bin/env bash
# Fig. 2 of Karakida & Osawa (NeurIPS 2020): test accuracy of the converged NGD predictors f_∞
# (analytic infinite-width ReLU kernels, f_0 from 10 finite-width networks) and of the
# kernel-regression mean, L = 3, M = 4096, σ_w² = 2, σ_b² = 0.
# Usage: experiments/fig2/run.sh [panel ...]   (panels: airplane_horse mnist10 cifar10; default all)
# Each panel writes <name>.json and <name>.time (GNU time -v: wall time, peak RSS).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -z ${NGD:-} ]]; then
  cargo build --release --bin ngd
  NGD=target/release/ngd
fi
DIR=experiments/fig2
COMMON=(--depth 3 --width 4096 --sigma-w2 2 --sigma-b2 0 --activation relu --kernel analytic --seeds 10 --seed 0)
run() {
  local name=$1; shift
  /usr/bin/time -v -o "$DIR/$name.time" "$NGD" predict "$@" "${COMMON[@]}" --out "$DIR/$name.json" 2>&1 | tee "$DIR/$name.log"
}
panels=("${@:-airplane_horse mnist10 cifar10}")
for p in ${panels[@]}; do
  case $p in
    airplane_horse) run cifar10_airplane_horse --dataset cifar10 --classes airplane,horse --n-train 10000 --n-test 2000 \
                      --methods exact,block-diagonal,block-tri-diagonal,kfac,kfac-printed ;;
    mnist10) run mnist_10class --dataset mnist --classes 0,1,2,3,4,5,6,7,8,9 --n-train 10000 --n-test 10000 \
               --methods exact,block-diagonal,block-tri-diagonal ;;
    cifar10) run cifar10_10class --dataset cifar10 --classes 0,1,2,3,4,5,6,7,8,9 --n-train 10000 --n-test 10000 \
               --methods exact,block-diagonal,block-tri-diagonal ;;
    *) echo "unknown panel $p" >&2; exit 1 ;;
  esac
done
# One figure from whichever panels exist, in the paper's order.
files=()
for f in cifar10_airplane_horse mnist_10class cifar10_10class; do
  [[ -f $DIR/$f.json ]] && files+=("$DIR/$f.json")
done
"$NGD" predict --plot-from "$(IFS=,; echo "${files[*]}")" --plot "$DIR/fig2.svg"
