"""Prints the README tables from merged.json: κ = λ_max/λ_min of Θ̄ (mean ± std over seeds) per
method, ρ and width; α̂ (mean eigenvalue) likewise; and the check of the exact method against the
closed form κ = (1 + ρ/λ_min(Θ))/(1 + ρ/λ_max(Θ)) from the NTK eigenvalues of the same seeds."""
import json, os, re
here = os.path.dirname(os.path.abspath(__file__))
d = json.load(open(os.path.join(here, "merged.json")))
res = {(r["method"], r["width"]): r for r in d["results"]}
widths = d["config"]["widths"]


def fmt(x, s):
    if x >= 100:
        return f"{x:.0f} ± {s:.0f}"
    if x >= 10:
        return f"{x:.1f} ± {s:.1f}"
    return f"{x:.4f} ± {s:.4f}" if x < 1.1 else f"{x:.3f} ± {s:.3f}"


for key, title in [("condition_number", "κ"), ("alpha", "α̂")]:
    print(f"\n{title} (mean ± std over 3 seeds)\n")
    print("| method | ρ | " + " | ".join(str(w) for w in widths) + " |")
    print("|---|---|" + "---|" * len(widths))
    for m in d["config"]["methods"]:
        name, _, rho = m.partition(" ρ=")
        cells = []
        for w in widths:
            r = res.get((m, w))
            cells.append("—" if r is None else fmt(r[key + "_mean"], r[key + "_std"]))
        print(f"| {name} | {rho or '—'} | " + " | ".join(cells) + " |")

print("\nexact: measured κ vs (1+ρ/λmin(Θ))/(1+ρ/λmax(Θ)), NTK eigenvalues of the same run and seed")
worst = 0.0
for f in sorted(os.listdir(here)):
    mt = re.match(r"iso_rho(1e-\d+)(_4096)?\.json$", f)
    if not mt:
        continue
    rho = float(mt.group(1))
    rr = {(r["method"], r["width"]): r for r in json.load(open(os.path.join(here, f)))["results"]}
    for (m, w), r in rr.items():
        if m != "exact" or r.get("error"):
            continue
        for s, t in zip(r["per_seed"], rr[("ntk", w)]["per_seed"]):
            pred = (1 + rho / t["eigenvalue_min"]) / (1 + rho / t["eigenvalue_max"])
            worst = max(worst, abs(s["condition_number"] / pred - 1))
print(f"max |κ_measured/κ_predicted − 1| = {worst:.2e}")
