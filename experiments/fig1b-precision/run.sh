#!/bin/sh
# Fig. 1b in both dual-solve precisions and both damping conventions (issue 11 §2).
set -e
cd "$(dirname "$0")/../.."
for L in 4 5 5-below; do
    NGD_DATA_OFFLINE=1 nice -n 19 ngd figure experiments/fig1b-precision/L$L/config.json
done
# table.md (and the README tables) from the results
NGD_BLESS_TABLES=1 cargo test --release --test experiment_tables
