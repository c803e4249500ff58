"""models/reds_traced without training: the unit groups torchvision's
networks have, the knapsack's nesting and budgets, reordering leaving the
function alone, and the refusals (each naming its node). The build test
(build.test.mjs, --widths on any network) runs the whole pipeline and the
engine at every level."""

import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
from dyce_build import backbones, positions  # noqa: E402
from dyce_build.errors import BuildError  # noqa: E402
from reds_traced import groups, knapsack, net as tnet  # noqa: E402
from reds_traced.pipeline import FULL, full_width_drift  # noqa: E402
from reds import knapsack as rknapsack  # noqa: E402

SHAPE = (1, 3, 32, 32)


def traced(spec, classes=6):
    torch.manual_seed(0)
    model = backbones.build(spec, classes, SHAPE[1], SHAPE[2:])
    return positions.trace(model, SHAPE, open_ops=True)


def check_resnet18():
    g = groups.analyse(traced("torchvision:resnet18"))
    names = {g.spaces[s].name: s for s in g.narrow}
    # four residual streams (stem + each stage's shortcut and conv2s) and
    # eight inner widths (each block's conv1)
    assert len(g.narrow) == 12, [g.spaces[s].name for s in g.narrow]
    stream0 = g.spaces[names["conv1"]]
    assert {p for p, _ in stream0.producers} == {"conv1", "layer1.0.conv2", "layer1.1.conv2"}
    stream1 = g.spaces[names["layer2.0.conv2"]]
    assert "layer2.0.downsample.0" in {p for p, _ in stream1.producers}
    assert {p for p, _ in g.spaces[names["layer1.0.conv1"]].producers} == {"layer1.0.conv1"}
    out = [s for s in g.spaces if s.fixed == "the class scores"]
    assert len(out) == 1 and out[0].producers == [("fc", "dense")]
    return g


def check_depthwise_and_se():
    g = groups.analyse(traced("torchvision:mobilenet_v3_small"))
    dw = [(s, t) for s in g.narrow for t, kind in g.spaces[s].channelwise if kind == "depthwise"]
    assert len(dw) == 11, dw   # every inverted residual's depthwise conv joins its expansion
    # the first block's SE excitation conv writes the space it scales: the
    # stem's, which the block's depthwise conv filters
    se = g.spaces[next(s for s in g.narrow if ("features.1.block.1.fc2", "dense")
                       in g.spaces[s].producers)]
    assert se.producers[0] == ("features.0.0", "dense"), se
    assert ("features.1.block.0.0", "depthwise") in se.channelwise, se
    return g


def check_knapsack(g):
    imps = [np.sort(np.random.default_rng(s).random(g.spaces[s].channels))[::-1] for s in g.narrow]
    _, info = knapsack.solve(g, imps, [0.25, 0.5, 0.75], lambda *_: None)
    full = g.macs()
    assert [e["fraction"] for e in info] == [1.0, 0.75, 0.5, 0.25]
    for wide, narrow in zip(info, info[1:]):
        assert all(a >= b >= groups.MIN_UNITS for a, b in zip(wide["widths"], narrow["widths"]))
        assert narrow["macs"] == g.macs(tuple(narrow["widths"])) <= narrow["fraction"] * full
        assert narrow["macs"] > (narrow["fraction"] - 0.03) * full, narrow


def check_reorder_keeps_function():
    t = traced("torchvision:mobilenet_v3_small")
    net = tnet.Narrowed(t.module, groups.analyse(t))
    rng = np.random.default_rng(1)
    perms = [rng.permutation(net.groups.spaces[s].channels) for s in net.groups.narrow]
    moved = tnet.permute(tnet.copy_net(net), perms)
    x = torch.randn(4, *SHAPE[1:])

    def rel(a, b):   # an untrained torchvision net's logits are tiny (1e-10)
        return float((a - b).abs().max() / b.abs().max())
    with torch.no_grad():
        full = net.eval()(x)
        assert rel(moved.eval()(x), full) < 1e-4
        # a level drops channels: the logits change; full width again restores them
        level = tuple(max(groups.MIN_UNITS, c // 2) for c in net.groups.full())
        assert rel(tnet.forward(moved, x, level), full) > 1e-2
        assert rel(tnet.forward(moved, x, None), full) < 1e-4


class LayerScale(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.gamma = nn.Parameter(torch.ones(1, 16, 1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc((self.conv(x) * self.gamma).mean((2, 3)))


class GatedSE(nn.Module):
    """Squeeze-and-excitation gates made maps by unsqueeze and by indexing
    with None, as people write them (not only .view(n, c, 1, 1))."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(16, 4), nn.Linear(4, 16)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.conv(x)
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        x = x * w.unsqueeze(-1).unsqueeze(-1)
        x = x * w[:, :, None, None]
        return self.fc(x.mean((2, 3)))


def check_gates():
    t = positions.trace(GatedSE(6, 3), SHAPE, open_ops=True)
    g = groups.analyse(t)
    # one space: the conv's channels, which both gates scale
    names = [g.spaces[s].name for s in g.narrow]
    assert "conv" in names, names


def refused(model_or_spec, pattern):
    if isinstance(model_or_spec, str):
        t = traced(model_or_spec)
    else:
        t = positions.trace(model_or_spec, SHAPE, open_ops=True)
    try:
        groups.analyse(t)
    except BuildError as err:
        assert pattern in str(err), str(err)
        return
    raise AssertionError(f"{model_or_spec} was not refused")


def check_full_width_drift():
    """The report says when the joint fine-tuning cost the full width more
    than a point on val, and stays silent within it."""
    class Ctx:
        profile = FULL
    pre = {"val": 0.726, "test": 0.721}
    said = full_width_drift(Ctx, pre, {"val": {"head": 0.640}, "test": {"head": 0.638}})
    assert said and "72.60 to 64.00 % on val" in said and "72.10 -> 63.80" in said and "0.05" in said, said
    assert full_width_drift(Ctx, pre, {"val": {"head": 0.720}, "test": {"head": 0.70}}) is None


def check_milp_cross_check():
    """The exact knapsacks' cross-check with milp: milp beating an exact
    optimum, or landing under it by more than its gap when it proved its
    own, is an error; a milp stopped at its time limit (a busy machine)
    is only a lower bound (a build failed on it under load)."""
    check = rknapsack.check_exact
    check(100.0, 100.0, "DP", "optimal: ok")
    check(100.0, 80.0, "B&B", "not proven: Time limit reached.")
    for m_value, status in [(101.0, "optimal: ok"), (80.0, "optimal: ok"),
                            (101.0, "not proven: Time limit reached.")]:
        try:
            check(100.0, m_value, "DP", status)
        except RuntimeError as e:
            assert "DP 100.0 != milp" in str(e), e
        else:
            raise AssertionError(f"milp {m_value} ({status}) against 100 passed")


def main():
    check_milp_cross_check()
    g = check_resnet18()
    check_knapsack(g)
    check_knapsack(check_depthwise_and_se())
    check_reorder_keeps_function()
    check_gates()
    check_full_width_drift()
    refused("torchvision:densenet121", "node features.denseblock1.denselayer1.cat (cat) is not a per-channel op")
    refused("torchvision:regnet_x_400mf", "is a grouped convolution (2 groups)")
    refused("torchvision:convnext_tiny", "(permute) is not a per-channel op")
    refused("torchvision:vgg11", "reshapes (1, 512, 7, 7) -> (1, 25088): channels no longer a dim of their own")
    refused(LayerScale(6, 3), "uses the parameter gamma directly in forward")
    print("widths groups: milp cross-check, resnet18, mobilenet_v3_small, knapsack, reorder, SE gates by unsqueeze and [:, :, None, None], the full width's drift said, 5 refusals OK")


if __name__ == "__main__":
    main()
