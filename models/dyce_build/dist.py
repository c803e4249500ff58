"""torchrun support: the same steps on N processes (gloo on CPU, NCCL on
GPUs), nothing home-made beyond sharding and gathering.

Outside torchrun (no WORLD_SIZE) every function is the one-process
identity, so the pipeline code reads the same either way. Inference over a
split is sharded in contiguous blocks (rank r takes block r) and gathered in
rank order, so the gathered arrays are in sample order; training uses
DistributedDataParallel with each epoch's seeded permutation sharded by
rank (what DistributedSampler does).
"""

import contextlib
import datetime
import os

import numpy as np
import torch
import torch.distributed as td


def init():
    """Join the process group when started by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not td.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        # The other ranks wait in a barrier while rank 0 alone packages,
        # checks in the engine and searches (tens of minutes on a large
        # test split); the default 30 minutes would end a healthy run.
        td.init_process_group(backend, timeout=datetime.timedelta(hours=12))


def active():
    return td.is_available() and td.is_initialized()


def rank():
    return td.get_rank() if active() else 0


def world():
    return td.get_world_size() if active() else 1


def is_main():
    return rank() == 0


def barrier():
    if active():
        td.barrier()


def shard(n):
    """The [start, stop) block of n samples this rank computes."""
    per = -(-n // world())
    return min(n, rank() * per), min(n, (rank() + 1) * per)


def gather_rows(array):
    """Concatenate every rank's numpy block along axis 0, in rank order."""
    if not active():
        return array
    parts = [None] * world()
    td.all_gather_object(parts, array)
    return np.concatenate(parts, axis=0)


def broadcast(obj):
    """Rank 0's object on every rank."""
    if not active():
        return obj
    box = [obj]
    td.broadcast_object_list(box, src=0)
    return box[0]


def wrap(model):
    """The model under DistributedDataParallel when distributed."""
    if not active():
        return model
    return torch.nn.parallel.DistributedDataParallel(model)


def no_sync(model):
    """DistributedDataParallel's no_sync() for a wrapped model (gradients
    accumulate locally until a backward outside it), else nothing."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()


def sum_gradients(module):
    """Every rank's .grad summed into every rank's: after a backward over
    this rank's share of the samples, the gradients one process gets over
    all of them (for gradients that are sums over samples)."""
    if not active():
        return
    for p in module.parameters():
        if p.grad is not None:
            td.all_reduce(p.grad)


def on_main(write):
    """Rank 0 runs `write` (the work folder is written once), and every
    rank waits until it has: the next to read the file finds it whole."""
    if is_main():
        write()
    barrier()


def check_same(value, what):
    """Raises when the ranks do not all hold `value` (e.g. a digest of the
    weights each trained): a loop that forgot to synchronise them."""
    if not active():
        return
    values = [None] * world()
    td.all_gather_object(values, value)
    if any(v != values[0] for v in values):
        raise RuntimeError(f"internal: the ranks' {what} differ after training")


def exists(path):
    """Rank 0's answer, on every rank: whether `path` exists (a rank that
    looked itself while rank 0 wrote the file could see it half-written)."""
    return broadcast(os.path.exists(path) if is_main() else None)


def finish():
    if active():
        td.barrier()
        td.destroy_process_group()
