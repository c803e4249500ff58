"""models/dyce_build/backbones.py and its neighbours without a whole
build: module versions kept when a state dict is rebuilt (torchvision's
MnasNet refuses one without them), the logits found when a network returns
several values in training mode only (`if self.training: return logits,
aux`), the cache key that sees an edited forward(), training batches
never of one sample (BatchNorm1d), BatchNorm re-estimation kept only when
it helps, and a forward() with a flag argument traced."""

import os
import sys
import tempfile

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
from dyce_build import backbones, features, fit, positions  # noqa: E402
from dyce_build.data import Dataset, Split  # noqa: E402
from dyce_build.errors import BuildError  # noqa: E402


def check_mnasnet_state_dicts():
    """A cloned state dict (the --lr auto trials), a 'module.'-prefixed file
    (DataParallel) and --init's fitted tensors all load into MnasNet."""
    model = backbones.build("torchvision:mnasnet0_5", 5, 3, (32, 32))
    cloned = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        model.load_state_dict(cloned)
        raise AssertionError("MnasNet took a state dict without versions: the check below tests nothing")
    except ValueError as err:
        assert "version" in str(err), err
    model.load_state_dict(backbones.with_metadata(cloned, model))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dp.pt")
        torch.save({"module." + k: v for k, v in model.state_dict().items()}, path)
        backbones.load_weights(backbones.build("torchvision:mnasnet0_5", 5, 3, (32, 32)), path)
        loaded, _, fresh = backbones.init_weights(backbones.build("torchvision:mnasnet0_5", 7, 3, (32, 32)), path)
        assert loaded and fresh, (len(loaded), fresh)


class Aux(nn.Module):
    """Logits from `fc`, auxiliary logits from `aux` while training, in
    the order `aux_first` says; `broken`: training returns features only."""

    def __init__(self, classes, aux_first=False, broken=False):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.fc, self.aux = nn.Linear(16, classes), nn.Linear(8, classes)
        self.aux_first, self.broken = aux_first, broken

    def forward(self, x):
        h = self.a(x)
        f = self.b(h).mean((2, 3))
        if not self.training:
            return self.fc(f)
        if self.broken:
            return {"features": f}
        pair = (self.fc(f), self.aux(h.mean((2, 3))))
        return pair[::-1] if self.aux_first else pair


def check_training_outputs():
    for aux_first in (False, True):
        model = Aux(5, aux_first)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        backbones.check_output(model, 5, (1, 1, 16, 16), "aux")
        # the training-mode probe ran on a copy: BatchNorm's statistics are untouched
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
        x = torch.randn(4, 1, 16, 16)
        out = model.train()(x)
        assert isinstance(out, torch.Tensor) and out.shape == (4, 5)
        # the logits trained are fc's, wherever the tuple puts them
        assert torch.equal(out, model.fc(model.b(model.a(x)).mean((2, 3)))), aux_first
    try:
        backbones.check_output(Aux(5, broken=True), 5, (1, 1, 16, 16), "broken")
        raise AssertionError("a network without logits in training mode was taken")
    except BuildError as err:
        assert "in training mode" in str(err) and "\n" not in str(err), err


NET = """
import torch
from torch import nn
class Net(nn.Module):
    def __init__(self, k, c):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(c, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, k)
        self.head_norm = nn.BatchNorm1d(8)
    def forward(self, x, return_features=False):
        f = torch.relu(self.bn(self.conv(x))).mean((2, 3))
        if return_features:
            return f
        return self.fc(self.head_norm(f))
def build(k, c):
    return Net(k, c)
"""


def check_code_digest(tmp):
    """An edited forward() (same __init__, same str(module), same weights)
    is another network to the cache; the same file again is not."""
    digests = []
    for i, text in enumerate([NET, NET, NET.replace("torch.relu(", "torch.tanh(")]):
        os.makedirs(os.path.join(tmp, str(i)))
        path = os.path.join(tmp, str(i), "net.py")   # the same file, edited
        with open(path, "w") as f:
            f.write(text)
        torch.manual_seed(0)
        model = backbones.file_backbone(path, "build", 3, 1)
        digests.append((str(model), features.state_digest(model), features.code_digest(model, [path])))
    assert digests[0] == digests[1]
    assert digests[2][:2] == digests[0][:2] and digests[2][2] != digests[0][2], "forward() edit unseen"


def tiny_data(n_train, n_val=40, k=3):
    rng = np.random.default_rng(0)
    split = lambda name, n: Split(name, rng.integers(0, 255, (n, 1, 8, 8), dtype=np.uint8),  # noqa: E731
                                  rng.integers(0, k, n), np.arange(n))
    return Dataset(split("train", n_train), split("val", n_val), split("test", 8),
                   classes=[str(i) for i in range(k)], mean=[0.5], std=[0.25], source="test")


def check_batches_of_one(tmp):
    """A train split of 2 * 16 + 1 samples: no step of one sample (BatchNorm1d
    in a head crashed on it), and every sample seen; a whole fit runs."""
    data = tiny_data(33)
    blocks = [idx for idx, _ in fit.shuffled_batches(data, data.train, 16, seed=1)]
    assert min(len(b) for b in blocks) >= 2 and len(blocks) == 3, [len(b) for b in blocks]
    assert set(np.concatenate(blocks)) == set(range(33))
    path = os.path.join(tmp, "net.py")
    with open(path, "w") as f:
        f.write(NET)
    model = backbones.file_backbone(path, "build", 3, 1)
    cfg = fit.TrainConfig(epochs=1, seed=1, batch_size=16, max_lr=0.05, weight_decay=0.0, flip=True)
    fit.fit(model, data, cfg, os.path.join(tmp, "ckpt"), lambda *_: None, "net")


def check_bn_reestimation_kept_only_when_better():
    """Statistics that make validation worse are not kept.
    The network: a BatchNorm on the input, then the sign of the mean; val's
    labels are that sign under the default statistics (all right), train's
    images all white (re-estimated, every val image looks dark)."""
    data = tiny_data(64, k=2)
    model = nn.Sequential(nn.BatchNorm2d(1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2))
    with torch.no_grad():
        model[3].weight[:] = torch.tensor([[1.0], [-1.0]])
        model[3].bias.zero_()
    data.val.labels[:] = (data.normalise(data.val.images).mean((1, 2, 3)) <= 0).long().numpy()
    acc = lambda: fit.accuracy(fit.predict(model, data, data.val), data.val.labels)  # noqa: E731
    assert acc() == 1.0
    before = {k: v.clone() for k, v in model[0].state_dict().items()}
    data.train.images[:] = 255
    logs = []
    fit.recalibrate_bn(model, data, 1, logs.append, "net")
    assert "the trained ones kept" in logs[-1], logs
    assert acc() == 1.0 and all(torch.equal(v, before[k]) for k, v in model[0].state_dict().items())


def check_flag_argument_traced():
    """forward(self, x, return_features=False): traced with the flag's
    default (it was refused as data-dependent control flow)."""
    ns = {}
    exec(NET, ns)   # noqa: S102
    traced = positions.trace(ns["build"](3, 1).eval(), (1, 1, 8, 8))
    assert traced.cuts, "no image-shaped cut"
    placeholders = [n.name for n in traced.module.graph.nodes if n.op == "placeholder"]
    assert placeholders == ["x"], placeholders   # the flag and its check dropped (ONNX export refused them)


def main():
    check_mnasnet_state_dicts()
    check_training_outputs()
    with tempfile.TemporaryDirectory() as tmp:
        check_code_digest(tmp)
        check_batches_of_one(tmp)
    check_bn_reestimation_kept_only_when_better()
    check_flag_argument_traced()
    print("backbones: MnasNet state dicts rebuilt with versions; logits found in training-mode tuples "
          "(aux first or last), a training mode without them refused; an edited forward() changes the "
          "cache key; no training step of one sample; BatchNorm re-estimation kept only when val holds; "
          "a forward() flag argument traced")


if __name__ == "__main__":
    main()
