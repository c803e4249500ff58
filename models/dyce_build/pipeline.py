"""The build, step by step, every step cached in the work directory.

data -> backbone (trace, split at the exit positions, savers and exits
declared, everything converted once with untrained weights so that a
problem shows before any training) -> train backbone -> train savers ->
backbone features -> train exits -> records -> package + engine check ->
search -> report.

A step's result is stored as WORK/<step>.pt (or .npz) next to WORK/<step>.json,
the options it was made from; a rerun with the same options loads it, a
changed option recomputes that step and what depends on it. Interrupted
training resumes from its last epoch. Under torchrun every rank computes
(sharded), rank 0 writes.
"""

import hashlib
import json
import os
import shutil
import time

import torch

from . import backbones, dist, engine, engine_check, exits as bexits, features, int8, nets
from . import package, positions, records as brecords, records_file, report, widths
from .data import Options as DataOptions, load as load_data, test_split
from .errors import BuildError
from .messages import list_exits, no_position, warn_if_chance, warn_if_softmax, written
from .fit import TrainConfig, accuracy, fit, predict, save_whole
from .progress import Progress


class Context:
    def __init__(self, opts):
        self.opts = opts
        self.work = opts.workdir
        self.timings = {}
        self.start = time.time()
        self.cached_seconds = 0.0   # what the steps loaded from earlier runs took then
        os.makedirs(self.work, exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def log(self, msg):
        if not dist.is_main():
            return
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(self.path("build.log"), "a") as f:
            f.write(line + "\n")

    def timed(self, name, fn):
        start = time.time()
        out = fn()
        self.timings[name] = round(time.time() - start, 1)
        self.log(f"{name}: {self.timings[name]:.1f} s")
        return out

    def fresh(self, step, key, *needed):
        """True when WORK/<step>.json holds `key` and every `needed` file
        exists (the step can be loaded). Rank 0 decides and tells the others:
        a rank reading the file while rank 0 rewrote it read half a file
        (JSONDecodeError on rank 1, rank 0 then failed in the next barrier)."""
        ok = False
        if dist.is_main():
            path = self.path(f"{step}.json")
            if not self.opts.force and os.path.exists(path):
                with open(path) as f:
                    ok = json.load(f) == json.loads(json.dumps(key))
            ok = ok and all(os.path.exists(n) for n in needed)
        return dist.broadcast(ok)

    def spent(self, step, seconds=None):
        """Records how long `step` took (`seconds`), or, loading it, counts
        the time it took when it was made (WORK/<step>.seconds)."""
        path = self.path(f"{step}.seconds")
        if seconds is not None:
            if dist.is_main():
                with open(path, "w") as f:
                    f.write(f"{seconds}\n")
        elif os.path.exists(path):
            with open(path) as f:
                self.cached_seconds += float(f.read() or 0)

    def done(self, step, key):
        if dist.is_main():
            path = self.path(f"{step}.json")
            with open(path + ".tmp", "w") as f:
                json.dump(key, f, indent=1)
            os.replace(path + ".tmp", path)
        dist.barrier()


def cached_module(ctx, step, module, key, train):
    """Load WORK/<step>.pt into module when its key matches, else train."""
    path = ctx.path(f"{step}.pt")
    if ctx.fresh(step, key, path):
        module.load_state_dict(torch.load(path))
        ctx.log(f"{step}: loaded {path}")
        ctx.spent(step)
        return module.eval()
    ckpt = ctx.path("ckpt", step)
    if not ctx.fresh(step + ".partial", key) and dist.is_main():
        shutil.rmtree(ckpt, ignore_errors=True)
    ctx.done(step + ".partial", key)
    module = ctx.timed(f"train {step}", lambda: train(module, ckpt))
    if dist.is_main():
        # The old key must not vouch for the new file, nor a half-written one
        # be loaded: the key goes first, the file is replaced whole.
        if os.path.exists(ctx.path(f"{step}.json")):
            os.remove(ctx.path(f"{step}.json"))
        save_whole(module.state_dict(), path)
    ctx.spent(step, ctx.timings[f"train {step}"])
    ctx.done(step, key)
    return module.eval()


def seeded(seed, fn):
    torch.manual_seed(seed)
    return fn()


# ------------------------------------------------------------------ steps

def load_dataset(ctx):
    o = ctx.opts
    dopts = DataOptions(size=o.size, channels=o.channels, val_fraction=o.val_fraction,
                        test_fraction=o.test_fraction, seed=o.seed, limit=o.limit, mean=o.mean, std=o.std,
                        classes=o.labels)
    data = load_data(o.data, dopts, ctx.work)
    ctx.log(f"data: {data.source}, {len(data.classes)} classes, input "
            f"{data.channels}x{data.size[0]}x{data.size[1]}, train "
            f"{len(data.train.labels)} val {len(data.val.labels)} test "
            f"{len(data.test.labels)}; mean {[round(v, 4) for v in data.mean]} "
            f"std {[round(v, 4) for v in data.std]}")
    if data.unread:
        ctx.log(f"data: {data.unread}")
    return data


def make_savers(ctx, data, backbone_macs):
    """{saver<i>: module}, cheapest first: the built-in family or the user's."""
    o, shape, k = ctx.opts, data.input_shape, len(data.classes)
    if o.savers == "auto":
        fam = nets.family(shape, k, backbone_macs, o.saver_fractions)
        mods = [seeded(o.seed + 10 + i, lambda layers=layers: nets.TinySaver(shape[1], k, layers))
                for i, (_, layers, _) in enumerate(fam)]
        over = [(f, m) for f, _, m in fam if m > 2 * f * backbone_macs]
        if over:   # a small backbone: the narrowest savers (4 channels, then +2 each) cost more
            ctx.log("savers: " + ", ".join(f"{100 * m / backbone_macs:.1f} %" for _, m in over)
                    + " of the backbone's MACs where --saver-fractions asks "
                    + ", ".join(f"{100 * f:g} %" for f, _ in over)
                    + ": the backbone is too small for savers that narrow (each is 2 channels "
                    "wider than the one before, from 4)")
    elif o.savers == "none":
        mods = []
    else:
        mods = []
        for i, spec in enumerate(s for s in o.savers.split(",") if s.strip()):
            kind, path, fn = backbones.split_spec(spec.strip(), "--savers")
            if kind == "onnx":   # a trained model (TinySaver's are): kept as it is
                from . import onnx_backbone
                m = onnx_backbone.load(path, shape[1], data.size, option="--savers")
                m.dyce_trained = path
            elif kind == "file":
                m = seeded(o.seed + 10 + i, lambda: backbones.file_backbone(path, fn, k, shape[1]))
            else:
                raise BuildError(f"--savers {spec}: expected FILE.py:FUNCTION or FILE.onnx")
            backbones.check_output(m, k, shape, f"saver {spec}", ctx.log)
            cost = nets.count_macs(m, shape)
            if cost >= backbone_macs:   # the search will not pick it; say why it is there
                ctx.log(f"warning: saver {spec} costs {cost:,} MACs, "
                        f"{100 * cost / max(backbone_macs, 1):.0f} % of the backbone's: "
                        "running it first can only cost more than the backbone alone")
            mods.append(m)
    mods.sort(key=lambda m: nets.count_macs(m, shape))
    return {f"saver{i}": m for i, m in enumerate(mods)}


def make_exits(ctx, data, chosen):
    o, k = ctx.opts, len(data.classes)
    out = {}
    for p, cand in enumerate(chosen, 1):
        for t in o.exit_types:
            out[f"exit{p}_{t}"] = seeded(o.seed + 100 * p + ord(t),
                                         lambda: nets.make_exit(
                                             t, nets.channels_of(cand.shape, cand.last), k,
                                             cand.last))
    return torch.nn.ModuleDict(out)


def graph_specs(data, savers, stages, chosen, exits, head):
    """[(name, module, source, NCHW input shape)] in package order."""
    specs = [(n, m, None, data.input_shape) for n, m in savers.items()]
    prev = data.input_shape
    for p, (stage, cand) in enumerate(zip(stages, chosen), 1):
        specs.append((f"stage{p}", stage, f"stage{p - 1}" if p > 1 else None, prev))
        specs += [(n, m, f"stage{p}", cand.shape) for n, m in exits.items()
                  if bexits.position(n) == p]
        prev = cand.shape
    specs.append(("head", head, f"stage{len(stages)}" if stages else None, prev))
    return specs


def train_config(ctx, epochs, seed):
    o = ctx.opts
    return TrainConfig(epochs=epochs, seed=seed, batch_size=o.batch_size,
                       max_lr=o.lr, weight_decay=o.weight_decay, flip=not o.no_flip)


def _normalised(ctx, data, trained):
    """The log's note on the normalisation weights trained elsewhere meet."""
    o = ctx.opts
    return (f"its inputs normalised with mean {[round(v, 4) for v in data.mean]} std "
            f"{[round(v, 4) for v in data.std]}" + ("" if o.mean and o.std else
                                                   " (measured on train: pass --mean/--std "
                                                   f"if {trained} trained with others)"))


def backbone_step(ctx, data, model, key):
    o = ctx.opts
    if backbones.is_onnx(o.backbone):
        ctx.log(f"backbone: the weights of {o.backbone} (frozen); {_normalised(ctx, data, 'the file was')}")
        return model
    if o.weights:
        backbones.load_weights(model, o.weights)
        ctx.log(f"backbone: weights from {o.weights}; {_normalised(ctx, data, 'the weights were')}")
        return model
    if o.init:
        loaded, adapted, fresh = backbones.init_weights(model, o.init)
        ctx.log(f"backbone: --init {o.init}: {len(loaded)} tensors loaded"
                + (f", {', '.join(adapted)} adapted to {data.channels} input channels" if adapted else "")
                + (f", {len(fresh)} fresh ({', '.join(fresh[:4])}{'…' if len(fresh) > 4 else ''})"
                   if fresh else "") + "; now trained")
    cfg = train_config(ctx, o.epochs, o.seed)
    # arch and code: the module as built and its classes' source, so that
    # an edited backbone file (its forward() too) retrains.
    return cached_module(ctx, "backbone", model, dict(key, epochs=o.epochs, arch=str(model)),
                         lambda m, ckpt: fit(m, data, cfg, ckpt, ctx.log, "backbone"))


def savers_step(ctx, data, savers, key, teacher, teacher_digest):
    o = ctx.opts
    for i, (name, m) in enumerate(savers.items()):
        if getattr(m, "dyce_trained", None):
            ctx.log(f"{name}: the weights of {m.dyce_trained} (frozen)")
            continue
        cfg = train_config(ctx, o.saver_epochs, o.seed + 10 + i)
        cfg.distill = o.distill
        skey = dict(key, saver=name, epochs=o.saver_epochs, distill=o.distill,
                    arch=str(m), code=features.code_digest(m),
                    **({"teacher": teacher_digest} if o.distill > 0 else {}))
        savers[name] = cached_module(
            ctx, name, m, skey,
            lambda mod, ckpt, cfg=cfg, name=name: fit(
                mod, data, cfg, ckpt, ctx.log, name,
                teacher=teacher if o.distill > 0 else None))
    return savers


def features_step(ctx, data, stages, head, digest, chosen, code):
    path = ctx.path("features.npz")
    o = ctx.opts
    last = [c.last for c in chosen]
    # The positions by name: another set of the same size is other features;
    # the backbone's code: the same weights in another forward() too.
    key = {"digest": digest, "code": code, "aug_views": o.aug_views, "positions": [c.node for c in chosen],
           **({"channels_last": list(last)} if any(last) else {}),
           "data": data_key(ctx, data), "test": data.fingerprint(("test",))}
    if ctx.fresh("features", key):
        views = features.load(path, digest, len(stages))
        if views is not None:
            ctx.log(f"features: loaded {path}")
            ctx.spent("features")
            return views
    views = ctx.timed("backbone features", lambda: features.compute(
        stages, head, data, o.aug_views, not o.no_flip, last))
    features.save(path, views, digest)
    ctx.spent("features", ctx.timings["backbone features"])
    ctx.done("features", key)
    return views


def exits_step(ctx, data, exits, views, key):
    o = ctx.opts
    return cached_module(ctx, "exits", exits, dict(key, epochs=o.exit_epochs),
                         lambda m, ckpt: bexits.train_all(m, views, data, o.exit_epochs, ctx.log))


def data_key(ctx, data):
    o = ctx.opts
    return {"data": os.path.realpath(o.data), "size": list(data.size),
            "channels": data.channels, "limit": o.limit, "val_fraction": o.val_fraction,
            "seed": o.seed, "n": [len(s.labels) for s in data.splits()],
            # What training reads (test images are only judged: the
            # features and the records, which are made again for them).
            "fingerprint": data.fingerprint(("train", "val"))}


def engine_evals(ctx, pkg, names, data):
    """The engine's `dyce eval` lines on the test split: one per graph, and
    every configuration's. Cached in WORK/report-evals.json under the
    package's bytes, the data, the options and the engine binary: a rerun
    that changed nothing does not spend a minute measuring it again."""
    o = ctx.opts
    lim = ["--limit", str(o.report_limit)] if o.report_limit else []
    test = test_split(o.data)
    with open(pkg, "rb") as f:
        package_digest = hashlib.sha256(f.read()).hexdigest()
    binary = os.stat(engine.DYCE)
    key = {"package": package_digest, "data": data.fingerprint(), "names": list(names),
           "args": lim + [test, str(o.test_fraction)], "engine": [binary.st_size, binary.st_mtime_ns]}
    # Rank 0 alone runs this (the others have left): no ctx.fresh / done,
    # which wait for every rank.
    path = ctx.path("report-evals.json")
    key = json.loads(json.dumps(key))
    if not o.force and os.path.exists(path):
        with open(path) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            ctx.log("report: the engine's figures of an identical package, data and engine loaded")
            return cached["graphs"], cached["configs"]
    graph_evals = {}
    # One engine run over the test split per graph, then one for every
    # configuration: a minute or more on thousands of images.
    with Progress("report: the engine on test", len(names) + 1) as bar:
        for name in names:
            lines = engine.eval_lines(pkg, o.data, "--split", test, "--graph", name, *lim,
                                      test_fraction=o.test_fraction)
            graph_evals[name] = lines[0]
            bar.update(1, name)
        config_evals = engine.eval_lines(pkg, o.data, "--split", test, "--config", "all", *lim,
                                         test_fraction=o.test_fraction)
        bar.update(1, "configurations")
    with open(path + ".tmp", "w") as f:
        json.dump({"key": key, "graphs": graph_evals, "configs": config_evals}, f)
    os.replace(path + ".tmp", path)
    return graph_evals, config_evals


def report_step(ctx, pkg, specs, macs, data, rec, claims, chosen):
    o = ctx.opts
    graph_evals, config_evals = engine_evals(ctx, pkg, rec["names"], data)
    meta = {"out": os.path.basename(o.out), "data": o.data, "source": data.source,
            "classes": len(data.classes), "input": f"{data.channels}x{data.size[0]}x{data.size[1]}",
            "sizes": "/".join(str(len(s.labels)) for s in data.splits()),
            "backbone": o.backbone, "positions": [c.node for c in chosen],
            "seconds": time.time() - ctx.start, "cached_seconds": round(ctx.cached_seconds, 1),
            "processes": dist.world(), "distill": o.distill,
            "smoke": o.smoke, "timings": ctx.timings,
            "test_samples": len(data.test.labels),
            "engine_test_samples": next(iter(graph_evals.values()), {}).get("n")}
    rep = report.build_report(meta, specs, macs, rec, graph_evals, config_evals, claims)
    report.write(rep, os.path.splitext(o.out)[0])
    return rep


def start(opts):
    """Processes, threads, context, data and the checked backbone."""
    dist.init()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if not opts.list_exits:
        out_dir = os.path.dirname(os.path.abspath(opts.out))
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as err:
            raise BuildError(f"--out: cannot make the folder {out_dir}: {err.strerror}") from None
    ctx = Context(opts)
    data = load_dataset(ctx)
    # Seeded: torch's own generator starts from a random seed in every process.
    model = seeded(opts.seed, lambda: backbones.build(
        opts.backbone, len(data.classes), data.channels, data.size, opts.keep_stem, ctx.log))
    return ctx, data, model


def run(opts):
    """The whole build; returns the report dict (None for --list-exits)."""
    ctx, data, model = start(opts)
    if opts.widths:
        return widths.run(opts, model, data, ctx)
    shape = data.input_shape
    traced = positions.trace(model, shape)
    if opts.list_exits:
        print(list_exits(traced))
        return None
    chosen = positions.choose(traced, opts.exits, opts.max_exits)
    if not chosen:
        raise BuildError(no_position(traced))
    stages, head = positions.split(traced, chosen, shape)
    ctx.log("exits after " + ", ".join(f"{c.node} ({100 * c.macs / traced.total_macs:.0f} %)"
                                       for c in chosen))
    savers = make_savers(ctx, data, traced.total_macs)
    exits = make_exits(ctx, data, chosen)
    specs = graph_specs(data, savers, stages, chosen, exits, head)
    # One rank writes and converts the ONNX files (two writing the same
    # files raced: one read the other's half-written export).
    # Which graphs answer with probabilities (a user's model ending in
    # nn.Softmax): their records take the outputs as the engine does.
    probs_file = ctx.path("probability-graphs.json")
    if dist.is_main():
        raw = ctx.timed("convert check (untrained)", lambda: package.convert_specs(
            specs, ctx.path("onnx-check"), data.classes, data.input_spec()))
        with open(probs_file, "w", encoding="utf-8") as f:
            json.dump(package.probability_graphs(raw), f)
    dist.barrier()
    with open(probs_file, encoding="utf-8") as f:
        probs = set(json.load(f))
    warn_if_softmax(ctx, probs, savers)

    key = {"backbone": opts.backbone, "weights": opts.weights, "seed": opts.seed,
           "init": opts.init and [os.path.realpath(opts.init), os.path.getsize(opts.init),
                                  os.path.getmtime(opts.init)],
           "data": data_key(ctx, data), "keep_stem": opts.keep_stem,
           "lr": opts.lr, "batch": opts.batch_size, "flip": not opts.no_flip,
           "weight_decay": opts.weight_decay, "decay": "weights"}
    code = features.code_digest(model, backbones.spec_files(opts.backbone))
    model = backbone_step(ctx, data, model, dict(key, code=code))
    backbone_val = accuracy(predict(model, data, data.val, what="backbone val"), data.val.labels)
    warn_if_chance(ctx, "backbone", backbone_val, len(data.classes),
                   trained=not (opts.weights or backbones.is_onnx(opts.backbone)))
    ctx.log(f"backbone: val {backbone_val:.4f}")
    digest = features.state_digest(model)
    savers = savers_step(ctx, data, savers, key, teacher=model, teacher_digest=digest)
    views = features_step(ctx, data, stages, head, digest, chosen, code)
    ekey = {"digest": digest, "code": code, "positions": [c.node for c in chosen],
            "types": list(opts.exit_types), "aug_views": opts.aug_views, "data": key["data"]}
    exits = exits_step(ctx, data, exits, views, ekey)
    if features.state_digest(model) != digest:
        raise BuildError("internal: training the exits changed the backbone")
    ctx.log(f"backbone unchanged by exit training (sha256 {digest[:16]}…)")
    specs = graph_specs(data, savers, stages, chosen, exits, head)
    macs = {n: nets.count_macs(m, s) for n, m, _, s in specs}
    rec = ctx.timed("records", lambda: brecords.collect(specs, data, views, savers, exits, macs, probs))
    if not dist.is_main():
        dist.finish()
        return None
    stem = os.path.splitext(opts.out)[0]
    records_file.write(stem + ".records", rec)
    size = ctx.timed("package", lambda: package.build(
        specs, ctx.path("onnx"), opts.out, data.classes, data.input_spec()))
    ctx.log(f"package: wrote {opts.out} ({size:,} bytes, {len(specs)} graphs)")
    ctx.timed("engine check", lambda: engine_check.check(
        ctx, opts.out, specs, data, {f"stage{p}" for p, c in enumerate(chosen, 1) if c.last}))
    claims = ctx.timed("search", lambda: engine.search(
        opts.out, stem + ".records", opts.lambda_step, opts.out, opts.budgets))
    ctx.log(written(claims, opts.out))
    rep = ctx.timed("report", lambda: report_step(ctx, opts.out, specs, macs, data, rec, claims, chosen))
    if opts.int8:
        rep["int8"] = ctx.timed("int8", lambda: int8.build(ctx, opts))
        report.write(rep, stem)
    ctx.log(f"report: {stem}.report.md")
    for line in report.headline(rep):
        ctx.log(line.replace("**", ""))
    dist.finish()
    return rep
