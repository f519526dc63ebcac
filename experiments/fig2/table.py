#!/usr/bin/env python3
"""Prints the markdown table of experiments/fig2/README.md from the committed panel JSONs."""
import json, os, re
ORDER = ["exact", "block-diagonal", "block-tri-diagonal", "kfac", "kfac-printed"]
here = os.path.dirname(os.path.abspath(__file__))
panels = [("cifar10_airplane_horse", "CIFAR-10 airplane vs horse, N = 10000, N' = 2000"),
          ("mnist_10class", "MNIST 10 classes, N = 10000, N' = 10000"),
          ("cifar10_10class", "CIFAR-10 10 classes, N = 10000, N' = 10000")]
print("| panel | method | f_∞ test acc. (mean ± std, 10 seeds) | f_∞ test loss (mean ± std) | kernel regression acc. | kernel regression loss |")
print("|---|---|---|---|---|---|")
for name, title in panels:
    p = os.path.join(here, name + ".json")
    if not os.path.exists(p):
        print(f"| {title} | *not run* | | | | |")
        continue
    d = json.load(open(p))
    for m in [m for m in ORDER if m in d["methods"]]:
        v = d["methods"][m]
        c, k = v["converged"], v["kernel_regression"]
        print(f"| {title} | {m} | {c['test_accuracy_mean']:.4f} ± {c['test_accuracy_std']:.4f} "
              f"| {c['test_loss_mean']:.5f} ± {c['test_loss_std']:.5f} | {k['test_accuracy']:.4f} | {k['test_loss']:.5f} |")
print()
print("| panel | wall time | CPU time (user+sys) | CPU share | peak RSS | forward (10 seeds) | kernels | predictors |")
print("|---|---|---|---|---|---|---|---|")
for name, title in panels:
    p, t = os.path.join(here, name + ".json"), os.path.join(here, name + ".time")
    if not (os.path.exists(p) and os.path.exists(t)):
        continue
    d = json.load(open(p)); tt = open(t).read()
    g = lambda key: re.search(re.escape(key) + r".*?: (.*)", tt).group(1).strip()
    cpu = float(g("User time (seconds)")) + float(g("System time (seconds)"))
    rss = int(g("Maximum resident set size (kbytes)")) / 1024**2
    tm = d["timing"]; pred = sum(v["seconds"] for v in d["methods"].values())
    print(f"| {title} | {g('Elapsed (wall clock) time (h:mm:ss or m:ss)')} | {cpu:.0f} s | {g('Percent of CPU this job got')} "
          f"| {rss:.1f} GiB | {tm['forward_seconds']:.0f} s | {tm['kernel_seconds']:.0f} s | {pred:.0f} s |")
