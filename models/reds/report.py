"""WORK/accuracy.md: per-level widths, MACs, accuracy (net and exits)."""

from dyce_build.records_file import accuracies

from . import exits as rexits
from . import nets

# REDS appendix table 7, DS-CNN-S on Fashion-MNIST (test top-1 %).
REDS_PAPER = {"w100": 91.6, "w75": 91.51, "w50": 90.75, "w25": 89.22}
REDS_PRETRAINED = 90.59


def level_table(named_levels, stage_macs, pretrained_acc, rec, paper=True):
    """`paper`: the data is Fashion-MNIST's, the REDS paper's figures beside."""
    acc = accuracies(rec)
    full = stage_macs["w100"]["total"]
    lines = ["| level | widths (stem, pw1..pw4) | MACs | % of full | "
             "params | val % | test % |" + (" REDS paper test % |" if paper else ""),
             "|---|---|---:|---:|---:|---:|---:|" + ("---:|" if paper else "")]
    for lvl, units in named_levels:
        m = stage_macs[lvl]["total"]
        head = rexits.head_name(lvl)
        lines.append(
            f"| {lvl} | {', '.join(map(str, units))} | {m:,} | "
            f"{100 * m / full:.2f} | {nets.param_count(units):,} | "
            f"{100 * acc['val'][head]:.2f} | {100 * acc['test'][head]:.2f} |"
            + (f" {REDS_PAPER.get(lvl, '—')} |" if paper else ""))
    lines.append(f"\nPre-trained full network (before reordering and "
                 f"fine-tuning): val {100 * pretrained_acc['val']:.2f} %, "
                 f"test {100 * pretrained_acc['test']:.2f} %"
                 + (f" (REDS paper: {REDS_PRETRAINED} %).\n" if paper else ".\n"))
    return "\n".join(lines)


def records_table(rec, stage_macs):
    """Every records entry: own MACs, path MACs at its level, top-1."""
    acc = accuracies(rec)
    lines = ["| graph | MACs | path MACs | % of full | train % | val % | "
             "test % |", "|---|---:|---:|---:|---:|---:|---:|"]
    full = stage_macs["w100"]["total"]
    for name, macs in zip(rec["names"], rec["macs"]):
        path = int(macs)
        if name.startswith("exit"):
            p = int(name[4])
            lvl = name.split("_")[2] if name.count("_") == 2 else "w100"
            path += sum(stage_macs[lvl][g] for g in nets.GRAPHS[:p])
        elif name.startswith("head"):
            lvl = name.split("@")[1] if "@" in name else "w100"
            path = stage_macs[lvl]["total"]
        lines.append(f"| {name} | {int(macs):,} | {path:,} | "
                     f"{100 * path / full:.2f} | "
                     + " | ".join(f"{100 * acc[s][name]:.2f}"
                                  for s in ("train", "val", "test")) + " |")
    return "\n".join(lines) + "\n"
