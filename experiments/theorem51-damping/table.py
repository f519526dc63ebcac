"""Table of the Theorem 5.1 damping sweep from the .log/.json files (run.sh)."""
import glob, json, os, re, statistics as st
D = os.path.dirname(os.path.abspath(__file__))
rows = {}
for log in sorted(glob.glob(f"{D}/*.log")):
    name = os.path.basename(log)[:-4]
    act, m, e, s = re.match(r"(\w+)_M(\d+)_eps(\d+)_s(\d)", name).groups()
    losses = [float(l.split()[1]) for l in open(log) if re.match(r"\s+\d+\s+[\d.]+e", l)]
    alpha = None
    if os.path.exists(f"{D}/{name}.json"):
        alpha = json.load(open(f"{D}/{name}.json")).get("alpha")
    rows.setdefault((act, int(m), int(e)), []).append((losses, alpha))
print("| act | M | ε | ρ (code) = M^−(1+ε) | α̂ (damped, mean) | γM(L−1)+1 | loss₁/loss₀ (3 seeds) | loss₁₀/loss₀ or failure |")
print("|---|---|---|---|---|---|---|---|")
for (act, m, e), runs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], -1 if kv[0][2] == 0 else -kv[0][2])):
    rho = 0 if e == 0 else m ** (-(1 + 1 / e))
    g = 0.5 if act == "relu" else 1.0
    al = [a for _, a in runs if a is not None]
    r1 = [l[1] / l[0] for l, _ in runs if len(l) > 1]
    end = []
    for l, _ in runs:
        end.append(f"{l[10] / l[0]:.1e}" if len(l) == 11 else f"failed after step {len(l) - 1} ({l[-1]:.1e})")
    print(f"| {act} | {m} | {'0 (ρ=0)' if e == 0 else '1/' + str(e)} | {rho:.3g} | "
          f"{st.mean(al):.1f} | {g * m * 2 + 1:.0f} | " if al else
          f"| {act} | {m} | {'0 (ρ=0)' if e == 0 else '1/' + str(e)} | {rho:.3g} | n/a | {g * m * 2 + 1:.0f} | ", end="")
    print(", ".join(f"{x:.3g}" for x in r1), "|", "; ".join(end), "|")
