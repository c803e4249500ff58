"""Markdown accuracy/MACs table (WORK/accuracy.md) for docs/MODELS.md."""

from . import nets
from .records import accuracies


def path_macs(specs):
    """{graph: MACs of the graph plus every graph on its source path}."""
    own = {name: nets.count_macs(m, shape) for name, m, _, shape in specs}
    source = {name: src for name, _, src, _ in specs}
    total = {}
    for name in own:
        total[name] = own[name] + (total[source[name]] if source[name] else 0)
    return total


def accuracy_table(rec, specs):
    """A row per logit graph: MACs alone, on its path, top-1 per split."""
    acc = accuracies(rec)
    paths = path_macs(specs)
    full = paths["head"]
    splits = list(acc)
    lines = ["| graph | MACs | path MACs | % of backbone | "
             + " | ".join(f"{s} top-1 %" for s in splits) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(splits)]
    for name, macs in zip(rec["names"], rec["macs"]):
        cells = [name, f"{int(macs):,}", f"{paths[name]:,}",
                 f"{100 * paths[name] / full:.1f}"]
        cells += [f"{100 * acc[s][name]:.2f}" for s in splits]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
