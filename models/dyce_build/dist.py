"""torchrun support: the same steps on N processes (gloo on CPU, NCCL on
GPUs), nothing home-made beyond sharding and gathering.

Outside torchrun (no WORLD_SIZE) every function is the one-process
identity, so the pipeline code reads the same either way. Inference over a
split is sharded in contiguous blocks (rank r takes block r) and gathered in
rank order, so the gathered arrays are in sample order; training uses
DistributedDataParallel with each epoch's seeded permutation sharded by
rank (what DistributedSampler does).
"""

import os

import numpy as np
import torch
import torch.distributed as td


def init():
    """Join the process group when started by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not td.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        td.init_process_group(backend)


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


def finish():
    if active():
        td.barrier()
        td.destroy_process_group()
