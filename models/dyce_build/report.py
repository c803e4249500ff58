"""OUT.report.md, OUT.report.json and OUT.report.svg: every graph's test
accuracy and MACs and every configuration's test accuracy, mean MACs and
latency, all measured by the engine (`dyce eval`), next to PyTorch's
accuracy from the records."""

import json
import os

from .records_file import accuracies


def path_macs(specs, macs):
    """{graph: MACs of the graph and of every graph on its source path}."""
    source = {name: src for name, _, src, _ in specs}
    total = {}
    for name, _, _, _ in specs:
        total[name] = macs[name] + (total[source[name]] if source[name] else 0)
    return total


def build_report(meta, specs, macs, rec, graph_evals, config_evals, claims):
    """The report as a dict (what report.json holds)."""
    paths = path_macs(specs, macs)
    full = paths["head"]
    acc = accuracies(rec)
    graphs = []
    for name in rec["names"]:
        e = graph_evals.get(name, {})
        graphs.append({"graph": name, "macs": int(macs[name]), "path_macs": int(paths[name]),
                       "percent_of_backbone": 100.0 * paths[name] / full,
                       "pytorch": {s: acc[s][name] for s in acc},
                       "engine_test_accuracy": e.get("accuracy"),
                       "engine_mean_ms": e.get("mean_ms")})
    backbone = graph_evals.get("head", {}).get("accuracy")
    configs = []
    for e in config_evals:
        claim = claims.get(e["config"], {})
        configs.append({"config": e["config"], "test_accuracy": e["accuracy"],
                        "mean_macs": e["mean_macs"],
                        "macs_saved": 1.0 - e["mean_macs"] / full,
                        "loss_pp_vs_backbone": (100.0 * (backbone - e["accuracy"])
                                                if backbone is not None else None),
                        "mean_ms": e["mean_ms"], "p95_ms": e["p95_ms"],
                        "val_accuracy_claimed": claim.get("accuracy"),
                        "val_macs_claimed": claim.get("mean_macs"),
                        "exits": e.get("exits", {})})
    rep = {"meta": meta, "backbone_macs": full, "backbone_test_accuracy": backbone,
           "graphs": graphs, "configs": configs}
    best, pick = best_saving(rep, 0.5), chosen_on_val(rep, 0.5)
    rep["within_half_pp"] = {"chosen_on_test": best and best["config"],
                             "chosen_on_val": pick and pick["config"]}
    return rep


def best_saving(report, max_loss_pp):
    """The configuration saving the most MACs within max_loss_pp of the
    backbone's test accuracy (engine), or None."""
    ok = [c for c in report["configs"] if c["loss_pp_vs_backbone"] is not None
          and c["loss_pp_vs_backbone"] <= max_loss_pp]
    return max(ok, key=lambda c: c["macs_saved"]) if ok else None


def chosen_on_val(report, max_loss_pp):
    """What a user picks without looking at test: the configuration whose
    searched (validation) MACs are lowest among those within max_loss_pp of
    the backbone's validation accuracy, or None. The test-chosen line above
    it is an upper bound; this one is the honest expectation."""
    head = next((g for g in report["graphs"] if g["graph"] == "head"), None)
    head_val = head["pytorch"].get("val") if head else None
    if head_val is None:
        return None
    ok = [c for c in report["configs"] if c["val_accuracy_claimed"] is not None
          and c["val_macs_claimed"] is not None
          and 100.0 * (head_val - c["val_accuracy_claimed"]) <= max_loss_pp]
    return min(ok, key=lambda c: c["val_macs_claimed"]) if ok else None


def headline(report, max_loss_pp=0.5):
    """Two sentences: the best saving within max_loss_pp on test (chosen on
    test) and the configuration chosen on validation, with its test figures."""
    best, pick = best_saving(report, max_loss_pp), chosen_on_val(report, max_loss_pp)

    def said(c):
        loss = c["loss_pp_vs_backbone"]
        return (f"**{c['config']}**, {100 * c['macs_saved']:.1f} % fewer MACs, "
                + ("" if loss is None else f"{0.0 - loss:+.2f} pp"))
    return [f"Most MACs saved within {max_loss_pp} pp of the backbone's test accuracy "
            f"(chosen on test): " + (said(best) if best else "none") + ".",
            f"Chosen on validation alone (most MACs saved within {max_loss_pp} pp of the "
            f"backbone's val accuracy), on test: " + (said(pick) if pick else "none") + "."]


def markdown(report):
    m = report["meta"]
    lines = [f"# {m['out']}", "",
             f"- data: `{m['data']}` ({m['source']}), {m['classes']} classes, "
             f"input {m['input']}, train/val/test {m['sizes']}",
             f"- backbone: `{m['backbone']}`, {report['backbone_macs']:,} MACs, "
             f"exits after {', '.join(m['positions'])}",
             f"- built in {m['seconds']:.0f} s on {m['processes']} process(es)"
             + (f", plus {m['cached_seconds']:.0f} s in earlier runs for the steps this one "
                "loaded from the work folder" if m.get("cached_seconds") else "")
             + (" — smoke run: tiny data, one epoch, the figures mean nothing"
                if m.get("smoke") else "")]
    if m.get("distill"):
        lines.append(f"- savers distilled from the backbone's logits (--distill {m['distill']:g}: "
                     "that weight of a KL term beside the labels' cross-entropy); whether it "
                     "helps shows only beside a build without it (docs/MODELS.md, \"Does "
                     "--distill help?\": on Fashion-MNIST it did not)")
    shown, total = m.get("engine_test_samples"), m.get("test_samples")
    if shown is not None and total is not None and shown < total:
        lines.append(f"- the engine's figures are on the first {shown} of the {total} test "
                     f"images in the split's order (--report-limit {shown}), PyTorch's on all "
                     f"{total}: compare engine with engine")
    lines += ["",
             "## Graphs (test accuracy: PyTorch from the records, engine by `dyce eval`)", "",
             "| graph | MACs | path MACs | % of backbone | PyTorch val % | PyTorch test % | engine test % | engine ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in report["graphs"]:
        eng, ms = g["engine_test_accuracy"], g["engine_mean_ms"]
        eng = "" if eng is None else f"{100 * eng:.2f}"
        ms = "" if ms is None else f"{ms:.3f}"
        lines.append(f"| {g['graph']} | {g['macs']:,} | {g['path_macs']:,} | "
                     f"{g['percent_of_backbone']:.1f} | {100 * g['pytorch'].get('val', 0):.2f} | "
                     f"{100 * g['pytorch'].get('test', 0):.2f} | {eng} | {ms} |")
    lines += ["", "## Configurations (engine, test split)", "",
              "| config | test % | Δ vs backbone (pp) | mean MACs | MACs saved | mean ms | p95 ms | val % (search) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in report["configs"]:
        claim = c["val_accuracy_claimed"]
        loss = c["loss_pp_vs_backbone"]
        lines.append(f"| {c['config']} | {100 * c['test_accuracy']:.2f} | "
                     f"{'' if loss is None else f'{0.0 - loss:+.2f}'} | {c['mean_macs']:,.0f} | "
                     f"{100 * c['macs_saved']:.1f} % | {c['mean_ms']:.3f} | {c['p95_ms']:.3f} | "
                     f"{'' if claim is None else f'{100 * claim:.2f}'} |")
    lines += [""] + headline(report)
    q = report.get("int8")
    if q:
        lines += ["", "## Int8 (`--int8`, docs/INT8.md)", "",
                  f"`{os.path.basename(q['package'])}`: {q['bytes']:,} bytes "
                  f"({q['bytes'] / q['float_bytes']:.3f}x of the float package); head on "
                  f"test {100 * q['head_test_accuracy']:.2f} % (float "
                  f"{100 * q['float_head_test_accuracy']:.2f} %), engine; its "
                  "configurations were searched on the int8 graphs' records."]
    return "\n".join(lines) + "\n"


def svg(report, width=640, height=400, pad=56):
    """Pareto plot: test accuracy against mean MACs (% of the backbone)."""
    full = report["backbone_macs"]
    pts = [(100 * c["mean_macs"] / full, 100 * c["test_accuracy"], c["config"])
           for c in report["configs"]]
    graphs = [(g["percent_of_backbone"], 100 * (g["engine_test_accuracy"] or 0), g["graph"])
              for g in report["graphs"] if g["engine_test_accuracy"] is not None
              and (g["graph"].startswith("saver") or g["graph"] == "head")]
    ys = [p[1] for p in pts + graphs] or [0, 100]
    lo, hi = min(ys), max(ys)
    lo, hi = (lo - 1, hi + 1) if hi - lo < 2 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    xmax = max([p[0] for p in pts + graphs] + [100]) * 1.05

    def x(v):
        return pad + (width - 2 * pad) * v / xmax

    def y(v):
        return height - pad - (height - 2 * pad) * (v - lo) / (hi - lo)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
           f'<text x="{width / 2}" y="{height - 16}" text-anchor="middle">mean MACs, % of the backbone</text>',
           f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" text-anchor="middle">test accuracy %</text>']
    for k in range(6):
        xv, yv = xmax * k / 5, lo + (hi - lo) * k / 5
        out.append(f'<text x="{x(xv):.1f}" y="{height - pad + 14}" text-anchor="middle">{xv:.0f}</text>')
        out.append(f'<text x="{pad - 6}" y="{y(yv) + 4:.1f}" text-anchor="end">{yv:.1f}</text>')
    line = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b, _ in sorted(pts))
    if line:
        out.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4"/>')
    for a, b, name in pts:
        out.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3" fill="#1f77b4"><title>{name}</title></circle>')
    for a, b, name in graphs:
        out.append(f'<rect x="{x(a) - 3:.1f}" y="{y(b) - 3:.1f}" width="6" height="6" fill="#d62728"/>'
                   f'<text x="{x(a) + 5:.1f}" y="{y(b) - 5:.1f}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(report, stem):
    with open(stem + ".report.json", "w") as f:
        json.dump(report, f, indent=1)
    with open(stem + ".report.md", "w") as f:
        f.write(markdown(report))
    with open(stem + ".report.svg", "w") as f:
        f.write(svg(report))
