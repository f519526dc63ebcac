#!/usr/bin/env python3
"""Tables of experiments/fig1b-precision/L{4,5}/results.json: train loss at steps 0, 1, 2, 4, 8,
the largest ‖ηΔθ_l‖/‖W_l‖ over layers and steps, and the largest null component over steps."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def fmt(x):
    return "—" if x is None else f"{x:.3g}"


for depth in (4, 5, "5-below"):
    path = os.path.join(HERE, f"L{depth}", "results.json")
    if not os.path.exists(path):
        continue
    runs = json.load(open(path))["runs"]
    print(f"### L{depth}\n")
    print("| run | loss₀ | loss₁ | loss₂ | loss₄ | loss₈ | max ‖ηΔθ_l‖/‖W_l‖ (layer) | max null component |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        steps = r["record"]["steps"]
        loss = {s["step"]: s["train_loss"] for s in steps}
        rel = [(v, l + 1) for s in steps for l, v in enumerate(s.get("relative_step") or [])]
        nulls = [s["null_component"] for s in steps if s.get("null_component") is not None]
        top = max(rel) if rel else None
        cells = [fmt(loss.get(t)) for t in (0, 1, 2, 4, 8)]
        div = r.get("diverged")
        if div and div.get("error"):
            cells[-1] = f"dual solve singular at step {div['step']}"
        elif div:
            cells[-1] = f"diverged at step {div['step']}"
        print(
            f"| {r['label']} | " + " | ".join(cells)
            + f" | {fmt(top[0]) + f' ({top[1]})' if top else '—'} | {fmt(max(nulls)) if nulls else '—'} |"
        )
    print()
