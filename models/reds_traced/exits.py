"""Exits and savers at every width level of a traced network: DyCE and
TinySaver on top of REDS, as models/reds has them for the DS-CNN.

The fine-tuned network is traced again and split at up to MAX_POSITIONS
exit positions (dyce_build.positions: block ends spread over its cost);
its stages share the fine-tuned modules, so the masks of a level
(net.Narrowed.set_level) act in them too. At each level the stages run
once over the data (dyce_build.features: clean splits and augmented train
views), the pooled features of each position keep the level's width of
the space the position's tensor is in (the dropped channels are zeroed:
in the engine they do not exist), and two exits per position (GAP +
linear, GAP + MLP: dyce_build.nets) train on them (dyce_build.exits),
named as the DS-CNN's (`exit2_b` at w100, `exit2_b_w50` at w50). The
savers are the builder's family (dyce_build.nets.family: about 0.5, 2 and
8 % of the backbone's MACs), trained with the builder's recipe.
"""

from dataclasses import dataclass

import torch
from torch import fx, nn

from dyce_build import exits as bexits, features, nets, positions
from dyce_build.errors import BuildError
from reds import context
from reds.exits import exit_name

from .groups import analyse

MAX_POSITIONS = 3
EXIT_TYPES = ("a", "b")
SAVER_FRACTIONS = (0.005, 0.02, 0.08)
SEED = 21


@dataclass
class Split:
    groups: object        # groups.Groups of the traced stages (the same unit groups)
    chosen: list          # [positions.Candidate]
    stages: list          # [fx.GraphModule]
    head: fx.GraphModule
    nodes: dict           # graph name -> names of its traced nodes
    cut_spaces: list      # space id of each position's tensor

    @property
    def graphs(self):
        return [f"stage{p}" for p in range(1, len(self.stages) + 1)] + ["head"]

    def cut_widths(self, level):
        w = self.groups.widths_of(level)
        return [w[s] for s in self.cut_spaces]


def split(tuned, input_shape):
    """The fine-tuned network split at its exit positions, or None when it
    has none (a network without blocks: the package is its head alone).
    The positions are those of the fine-tuned graph's own trace, whose
    block ends are not all the user module's (MobileNetV3-Small's last
    position: add_5 here, features.12.2 there); packages keep them."""
    tuned.set_level(None)
    traced = positions.trace(tuned.net, input_shape, open_ops=True)
    g = analyse(traced)
    names = [[gr.spaces[s].name for s in gr.narrow] for gr in (g, tuned.groups)]
    if names[0] != names[1]:
        raise BuildError(f"internal: the retraced network's unit groups differ: {names}")
    chosen = positions.choose(traced, "auto", MAX_POSITIONS)
    if not chosen:
        return None
    stages, head = positions.split(traced, chosen, input_shape)
    bounds = [0] + [c.index + 1 for c in chosen] + [len(traced.order)]
    out = Split(g, chosen, stages, head, {}, [g.node_space[traced.order[c.index].name]
                                              for c in chosen])
    for name, a, b in zip(out.graphs, bounds, bounds[1:]):
        out.nodes[name] = {n.name for n in traced.order[a:b]}
    return out


def level_views(tuned, sp, data, level, aug_views):
    """dyce_build.features views of the stages at `level`, each position's
    features cut to its width there (the rest zero)."""
    tuned.set_level(level)
    try:
        views = features.compute(sp.stages, sp.head, data, aug_views, True)
    finally:
        tuned.set_level(None)
    for feats, _ in views.values():
        for f, w in zip(feats, sp.cut_widths(level)):
            f[:, w:] = 0.0
    return views


def exit_macs(ex, width):
    """An exit's MACs when its input keeps `width` channels."""
    first = ex.mlp[0]
    return (sum(m.in_features * m.out_features for m in ex.mlp if isinstance(m, nn.Linear))
            - (first.in_features - width) * first.out_features)


def train_level_exits(sp, views, data, level_name, level, epochs, log):
    """{exit name: Exit} of one level, trained on its views."""
    mods = nn.ModuleDict()
    for p, c in enumerate(sp.chosen, 1):
        for t in EXIT_TYPES:
            torch.manual_seed(SEED + 100 * p + ord(t))
            mods[exit_name(p, t, level_name)] = nets.make_exit(t, c.shape[1], len(data.classes))
    if epochs:   # 0: states loaded by the caller
        bexits.train_all(mods, views, data, epochs, log)
    with torch.no_grad():   # the inputs a level drops: zero weights, as in the engine
        for name, ex in mods.items():
            ex.mlp[0].weight[:, sp.cut_widths(level)[bexits.position(name) - 1]:] = 0.0
    return dict(mods.items())


def savers(ctx, data, backbone_macs, epochs):
    """{saver<i>: TinySaver} of the builder's family, trained (cached)."""
    shape, k = data.input_shape, len(data.classes)
    out = {}
    for i, (_, layers, _) in enumerate(nets.family(shape, k, backbone_macs, SAVER_FRACTIONS)):
        def build(layers=layers, i=i):
            torch.manual_seed(SEED + 10 + i)
            return nets.TinySaver(shape[1], k, layers)
        out[f"saver{i}"] = context.trained(ctx, f"saver{i}", build, epochs, SEED + 10 + i)
    return out


