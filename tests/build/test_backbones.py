"""models/dyce_build/backbones.py without training: module versions kept
when a state dict is rebuilt (torchvision's MnasNet refuses one without
them), and the logits found when a network returns several values in
training mode only (`if self.training: return logits, aux`)."""

import os
import sys
import tempfile

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
from dyce_build import backbones  # noqa: E402
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


def main():
    check_mnasnet_state_dicts()
    check_training_outputs()
    print("backbones: MnasNet state dicts rebuilt with versions; logits found in training-mode tuples (aux first or last), a training mode without them refused")


if __name__ == "__main__":
    main()
