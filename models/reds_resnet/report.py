"""WORK/accuracy.md: per-level widths, MACs, parameters, accuracy."""

from dyce_build.records_file import accuracies
from reds.exits import head_name

from . import nets


def level_table(named_levels, pretrained_acc, rec, engine=None):
    """Markdown table of every level (PyTorch records, engine if given)."""
    acc = accuracies(rec)
    full = nets.total_macs(nets.FULL)
    eng = engine or {}
    lines = ["| level | streams S0, S1, S2 | inner I1..I9 | MACs | % of full "
             "| params | val % | test % | engine test % (n) | agreement |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lvl, w in named_levels:
        m = nets.total_macs(w)
        head = head_name(lvl)
        e = eng.get(lvl)
        etxt = (f"{100 * e['accuracy']:.2f} ({e['n']}) | "
                f"{e.get('agreement', '—')}" if e else "— | —")
        lines.append(
            f"| {lvl} | {', '.join(map(str, w.stream))} | "
            f"{', '.join(map(str, w.inner))} | {m:,} | {100 * m / full:.2f} | "
            f"{nets.param_count(w):,} | {100 * acc['val'][head]:.2f} | "
            f"{100 * acc['test'][head]:.2f} | {etxt} |")
    lines.append(f"\nPre-trained full network (before reordering and "
                 f"fine-tuning): val {100 * pretrained_acc['val']:.2f} %, "
                 f"test {100 * pretrained_acc['test']:.2f} %.\n")
    return "\n".join(lines)


def graph_macs_table(named_levels):
    """MACs of every graph alone at every level."""
    lines = ["| level | " + " | ".join(nets.GRAPHS) + " |",
             "|---|" + "---:|" * len(nets.GRAPHS)]
    for lvl, w in named_levels:
        m = nets.graph_macs(w)
        lines.append(f"| {lvl} | " + " | ".join(f"{m[g]:,}"
                                                for g in nets.GRAPHS) + " |")
    return "\n".join(lines) + "\n"
