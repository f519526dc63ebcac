"""Merges the isotropy runs of run.sh into iso.json (results concatenated, method order kept)."""
import json, os
here = os.path.dirname(os.path.abspath(__file__))
parts = ["iso_layerwise.json", "iso_diagonal.json", "iso_diagonal_2048.json"]
docs = [json.load(open(os.path.join(here, p))) for p in parts if os.path.exists(os.path.join(here, p))]
config = dict(docs[0]["config"])
config["methods"] = [m for d in docs for m in d["config"]["methods"] if m] 
config["methods"] = list(dict.fromkeys(config["methods"]))
config["merged_from"] = [{"file": p, "config": d["config"]} for p, d in zip(parts, docs)]
results = [r for d in docs for r in d["results"]]
order = {m: i for i, m in enumerate(config["methods"])}
results.sort(key=lambda r: (order[r["method"]], r["width"]))
json.dump({"config": config, "results": results}, open(os.path.join(here, "iso.json"), "w"), indent=2, ensure_ascii=False)
print("wrote", os.path.join(here, "iso.json"), len(results), "entries")
