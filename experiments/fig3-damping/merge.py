"""Merges the isotropy runs of run.sh (and fig3's ρ = 0 run): merged.json (every series, read by
table.py), merged_bd.json and merged_unit.json (NTK + one method at every ρ, one chart each).

Series are named "<method> ρ=<rho>"; the NTK (which does not depend on ρ) is kept once, from
the ρ = 0 runs. Widths 16–64 at ρ = 0 come from iso_rho0_small.json, 128–4096 from
../fig3/iso_layerwise.json (at ρ = 0 BD and unit-wise refuse widths below N = 100: singular Grams).
"""
import json, os
here = os.path.dirname(os.path.abspath(__file__))
parts = [("iso_rho0_small.json", "0"), ("../fig3/iso_layerwise.json", "0")]
for rho in ["1e-10", "1e-8", "1e-6", "1e-4"]:
    parts += [(f"iso_rho{rho}.json", rho), (f"iso_rho{rho}_4096.json", rho)]
keep = ["exact", "block-diagonal", "unit-wise"]
docs, results, methods = [], [], []
for path, rho in parts:
    p = os.path.join(here, path)
    if not os.path.exists(p):
        print("missing", path)
        continue
    d = json.load(open(p))
    docs.append({"file": path, "config": d["config"]})
    for r in d["results"]:
        m = r["method"]
        if m == "ntk":
            if rho != "0":
                continue
            name = "ntk"
        elif m in keep:
            name = f"{m} ρ={rho}"
        else:
            continue
        if r.get("error"):
            continue
        r = dict(r, method=name, damping=float(rho))
        results.append(r)
        if name not in methods:
            methods.append(name)
order = ["ntk"] + [f"{m} ρ={rho}" for m in keep for rho in ["0", "1e-10", "1e-8", "1e-6", "1e-4"]]
methods = [m for m in order if m in methods]


def write(name, series):
    rs = [r for r in results if r["method"] in series]
    config = dict(docs[0]["config"])
    config["methods"] = [s for s in series if any(r["method"] == s for r in rs)]
    config["damping"] = 0.0
    config["damping_note"] = "per series: ρ is in the series name and in each result's damping field (this field is a placeholder)"
    c = config
    config["title"] = f"κ(Θ̄) at init: {c['inputs']} inputs, N = {c['n']}, L = {c['depth']}, {c['activation']}, ρ per series"
    config["widths"] = sorted({r["width"] for r in rs})
    config["merged_from"] = docs
    rank = {s: i for i, s in enumerate(config["methods"])}
    rs.sort(key=lambda r: (rank[r["method"]], r["width"]))
    json.dump({"config": config, "results": rs}, open(os.path.join(here, name), "w"),
              indent=2, ensure_ascii=False)
    print("wrote", name, len(rs), "entries")


write("merged.json", methods)  # every series (tables: table.py)
write("merged_bd.json", ["ntk"] + [m for m in methods if m.startswith("block-diagonal")])  # chart
write("merged_unit.json", ["ntk"] + [m for m in methods if m.startswith("unit-wise")])  # chart
