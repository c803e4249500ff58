"""The engine check of a build: every graph of the package, run by the
engine on sample test images, against PyTorch."""

import numpy as np
import torch

from . import engine, package
from .errors import BuildError
from .progress import Progress


def _check_image(pkg, specs, k, x, last, bar):
    """Image `k` of the engine check: every graph (k = 0) or the head alone;
    the worst relative error, or a BuildError past 1e-3."""
    outputs, worst = {}, 0.0  # specs list sources first: each graph reads its source's output
    with torch.no_grad():
        for name, module, source, _ in specs:
            src = outputs[source] if source else torch.as_tensor(x[None])
            outputs[name] = module.eval()(src)
    for name, _, _, _ in specs:
        if k > 0 and name != "head":
            continue
        want = outputs[name].numpy()
        got = engine.run_graph(pkg, name, x[None])
        if want.ndim == 3:    # tokens (1, L, D): the engine's NCHW is (1, D, 1, L)
            got = got.reshape(want.shape[2], -1).T
        elif name in last:    # (1, H, W, C): the engine's NCHW is (1, C, H, W)
            got = got.reshape(want.shape[3], -1).T
        want, got = want.reshape(-1), got.reshape(-1)
        if got.shape != want.shape:
            raise BuildError(f"engine check: {name} gives {got.shape} values, "
                             f"PyTorch {want.shape}")
        err = float(np.abs(got - want).max() / max(1e-6, np.abs(want).max()))
        worst = max(worst, err)
        if err > 1e-3:
            raise BuildError(f"engine check: graph {name} differs from PyTorch "
                             f"(max relative error {err:.2e})")
        bar.update(1, name)
    return worst


def check(ctx, pkg, specs, data, last=()):
    """Every graph of the package, run by the engine on sample test images,
    matches PyTorch (relative max error): every graph on the first image,
    the head (the whole backbone) on all of them. `last`: the graphs whose
    output is a channels-last (1, H, W, C) map."""
    xs = package.sample_inputs(data, ctx.opts.check_samples)
    worst = 0.0
    with Progress("engine check", len(specs) + len(xs) - 1) as bar:
        for k, x in enumerate(xs):
            worst = max(worst, _check_image(pkg, specs, k, x, last, bar))
    if not len(xs):
        ctx.log("engine check: skipped (--check-samples 0): the engine's graphs were "
                "not compared with PyTorch")
        return None
    ctx.log(f"engine check: {len(specs)} graphs match PyTorch "
            f"(max relative error {worst:.2e}, {len(xs)} test image{'s' * (len(xs) != 1)})")
    return worst
