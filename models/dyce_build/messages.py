"""What the build tells its user beyond progress: --list-exits' table,
why no exit position was found, the search's summary line, and warnings
about a network that will not learn well (at chance, ending in a softmax)."""

from . import backbones, positions


def list_exits(traced):
    lines = [f"{len(traced.candidates)} candidate exit positions "
             f"(backbone {traced.total_macs:,} MACs; --exits takes a node of the first "
             "column, or a name the second gives: 'before NODE', a block's name):"]
    lines += ["  " + c.describe(traced.total_macs) for c in traced.candidates]
    return "\n".join(lines)


def no_position(traced):
    """Why `auto` found no exit position."""
    if not traced.candidates:
        return ("the backbone has no exit position (no traced block ends at a point "
                "where one feature map carries everything forward); see --list-exits")
    first = traced.candidates[0]
    return (f"every exit position of the backbone comes after {100 * positions.LATEST:.0f} % "
            f"of its MACs (the first, {first.node}, at "
            f"{100 * first.macs / max(traced.total_macs, 1):.0f} %), where an exit saves "
            "too little; --exits NODE takes one anyway (see --list-exits)")


def warn_if_chance(ctx, what, val, classes, trained=True):
    """A network no better than guessing is worth saying so before the
    exits, savers and search are built around it."""
    if classes > 1 and val <= 1.5 / classes:
        advice = ("it did not learn; try another --lr, more --epochs, or check the data"
                  if trained else "do its weights fit this data? The class order "
                  "(--labels), the normalisation (--mean/--std) and, for a torchvision "
                  "backbone on small images, the stem (--keep-stem)")
        ctx.log(f"warning: the {what} is at chance on val ({100 * val:.1f} %, "
                f"1/{classes} = {100 / classes:.1f} %): {advice}")


def written(claims, out):
    """The search's log line: the Pareto list, and TinySaver's configuration
    when the search kept one beside it (docs/SEARCH.md)."""
    pareto = sum(1 for c in claims.values() if not c.get("tinysaver"))
    also = " and TinySaver's" if pareto < len(claims) else ""
    return f"search: {pareto} Pareto configurations{also} written into {out}"


def warn_if_softmax(ctx, probs, savers):
    """A network trained here that ends in a softmax (`probs`: the graphs
    that answer with probabilities) learns from cross-entropy on
    probabilities taken as class scores: slowly. Said, not refused (its
    records and package are right)."""
    o = ctx.opts
    trained = [n for n in sorted(probs) if (n != "head" or not (o.weights or backbones.is_onnx(o.backbone)))
               and not getattr(savers.get(n), "dyce_trained", None)]
    if trained:
        ctx.log(f"warning: {', '.join('the backbone' if n == 'head' else n for n in trained)} "
                "ends in a softmax: trained here with cross-entropy on its probabilities as if "
                "they were class scores, which learns slowly; return the scores (logits) from "
                "forward(): the engine applies the softmax itself")
