"""The steps of models/train_fmnist.py, each cached in the work directory.

backbone -> savers -> exits -> records -> package -> search (up to --until).
The search step runs the engine's own `dyce search` (build/native/dyce:
build it first) and writes the Pareto list into the package's CONF. A step
whose result file exists is loaded instead of rerun (unless --force), so
later steps can be
iterated without retraining; an interrupted training resumes from its last
epoch checkpoint. Every step logs to WORK/pipeline.log and records its
duration in WORK/timings.json.
"""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

import torch

from . import data as fdata
from . import exits as fexits
from . import nets
from . import package as fpackage
from . import records as frecords
from . import report as freport
from .fit import TrainConfig, fit

STEPS = ("backbone", "savers", "exits", "records", "package", "search")
DYCE_CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "native", "dyce")
BACKBONE_SEED, SAVER_SEED, EXIT_SEED = 1, 10, 100
PACKAGE_NAME = "fashion-mnist.dyce"
RECORDS_NAME = "fashion-mnist.records"


@dataclass
class Profile:
    """How much data and how many epochs: the full run or the smoke test."""
    limit: int = None
    backbone_epochs: int = 22
    saver_epochs: int = 24
    exit_epochs: int = 10
    exit_aug_views: int = 2
    search_lambda_step: float = 0.002


FULL = Profile()
SMOKE = Profile(limit=300, backbone_epochs=1, saver_epochs=1, exit_epochs=1,
                exit_aug_views=1, search_lambda_step=0.01)


@dataclass
class Context:
    """Where things go and what to redo."""
    work: str
    out: str
    profile: Profile
    force: bool = False
    data: fdata.Data = None
    timings: dict = field(default_factory=dict)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def log(self, msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(self.path("pipeline.log"), "a") as f:
            f.write(line + "\n")

    def timed(self, name, fn):
        """Run fn(), log and store its wall time under `name`."""
        start = time.time()
        result = fn()
        seconds = time.time() - start
        self.timings[name] = round(seconds, 1)
        timings_path = self.path("timings.json")
        saved = {}
        if os.path.exists(timings_path):
            with open(timings_path) as f:
                saved = json.load(f)
        saved.update(self.timings)
        with open(timings_path, "w") as f:
            json.dump(saved, f, indent=1)
        self.log(f"{name}: {seconds:.1f} s")
        return result


def cached_module(ctx, name, build, train):
    """Load WORK/<name>.pt into build() if present, else train it and save."""
    path = ctx.path(f"{name}.pt")
    module = build()
    if os.path.exists(path) and not ctx.force:
        module.load_state_dict(torch.load(path))
        ctx.log(f"{name}: loaded {path}")
        return module.eval()
    module = ctx.timed(f"train {name}", lambda: train(module))
    torch.save(module.state_dict(), path)
    return module.eval()


def trainer(ctx, name, epochs, seed):
    """train(module) for cached_module: the shared SGD loop, logs prefixed.

    It resumes from the last epoch checkpoint, except under --force.
    """
    cfg = TrainConfig(epochs=epochs, seed=seed)
    ckpt = ctx.path("ckpt", name)

    def train(module):
        if ctx.force:
            shutil.rmtree(ckpt, ignore_errors=True)
        return fit(module, ctx.data, cfg, ckpt,
                   lambda msg: ctx.log(f"{name}: {msg}"))
    return train


def seeded(seed, build):
    """build() after seeding torch (weight initialisation)."""
    torch.manual_seed(seed)
    return build()


def backbone_step(ctx):
    """Train (or load) the ResNet-20 backbone."""
    return cached_module(
        ctx, "backbone", lambda: seeded(BACKBONE_SEED, nets.Backbone),
        trainer(ctx, "backbone", ctx.profile.backbone_epochs, BACKBONE_SEED))


def savers_step(ctx):
    """Train (or load) every tiny saver."""
    savers = {}
    for i, name in enumerate(nets.make_savers()):
        seed = SAVER_SEED + i
        def build(name=name, seed=seed):
            return seeded(seed, nets.make_savers)[name]
        savers[name] = cached_module(
            ctx, name, build,
            trainer(ctx, name, ctx.profile.saver_epochs, seed))
    return savers


def exits_step(ctx, backbone):
    """Train (or load) the DyCE exits on the frozen backbone."""
    def build():
        exits = seeded(EXIT_SEED, lambda: nets.make_exits(backbone))
        return torch.nn.ModuleDict(exits)

    def train(exits):
        return fexits.train_exits(backbone, exits, ctx.data, ctx.profile,
                                  ctx.path("features.npz"), ctx.log)
    return cached_module(ctx, "exits", build, train)


def records_step(ctx, specs, backbone):
    """Compute the records; write .records, an .npz copy and accuracy.md."""
    views = fexits.cached_features(backbone, ctx.data,
                                   ctx.profile.exit_aug_views,
                                   ctx.path("features.npz"), ctx.log)
    rec = frecords.collect(specs, ctx.data, views)
    path = os.path.join(ctx.out, RECORDS_NAME)
    frecords.write(path, rec)
    frecords.save_npz(ctx.path("records.npz"), rec)
    table = freport.accuracy_table(rec, specs)
    with open(ctx.path("accuracy.md"), "w") as f:
        f.write(table)
    size = os.path.getsize(path)
    ctx.log(f"records: wrote {path} ({size} bytes, read back OK)\n{table}")


def package_step(ctx, specs):
    """Export to ONNX and write the .dyce package."""
    path = os.path.join(ctx.out, PACKAGE_NAME)
    size = fpackage.build(specs, ctx.data, ctx.path("onnx"), path)
    ctx.log(f"package: wrote {path} ({size} bytes, {len(specs)} graphs)")


def search_step(ctx, package=PACKAGE_NAME, records=RECORDS_NAME):
    """DyCE + TinySaver search on the train records, measured on val
    (every width level of the package, if it has any), written into the
    package's CONF by the engine's CLI."""
    pkg, rec = os.path.join(ctx.out, package), os.path.join(ctx.out, records)
    if not os.path.exists(DYCE_CLI):
        raise RuntimeError(f"the search step needs {DYCE_CLI}: run "
                           "`bash scripts/build.sh native` first")
    r = subprocess.run([DYCE_CLI, "search", pkg, "--records", rec, "--method",
                        "both", "--lambda-step", str(ctx.profile.search_lambda_step),
                        "-o", pkg], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"dyce search failed:\n{r.stderr}")
    listed = [line for line in r.stdout.splitlines() if line.startswith("pareto-")]
    ctx.log(f"search: {len(listed)} configurations (+ each level's backbone) written "
            f"into {pkg}\n" + "\n".join(listed))


def run(ctx, until=STEPS[-1]):
    """Run the steps up to `until`; earlier results load from cache."""
    os.makedirs(ctx.work, exist_ok=True)
    os.makedirs(ctx.out, exist_ok=True)
    torch.set_num_threads(1)
    ctx.data = fdata.load(limit=ctx.profile.limit)
    ctx.log(f"data: train {len(ctx.data.train.labels)} val "
            f"{len(ctx.data.val.labels)} test {len(ctx.data.test.labels)}; "
            f"mean {ctx.data.mean:.6f} std {ctx.data.std:.6f}")
    last = STEPS.index(until)
    backbone = backbone_step(ctx)
    savers = savers_step(ctx) if last >= STEPS.index("savers") else None
    if last < STEPS.index("exits"):
        return
    exits = exits_step(ctx, backbone)
    specs = nets.graph_specs(backbone, savers, exits)
    if last >= STEPS.index("records"):
        ctx.timed("records", lambda: records_step(ctx, specs, backbone))
    if last >= STEPS.index("package"):
        ctx.timed("package", lambda: package_step(ctx, specs))
    if last >= STEPS.index("search"):
        ctx.timed("search", lambda: search_step(ctx))
