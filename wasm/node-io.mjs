// Under Node, dyce reads local packages and its own .wasm files with
// node:fs, and runs its threads in worker_threads. Imported only by the
// package's `node` entries (wasm/node.mjs, wasm/engine-node.mjs), so no
// browser bundle ever sees node:fs.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { host } from './io.mjs';
import { nodeThread } from './threads.mjs';

host.readFile = readFile;
host.cores = availableParallelism;
host.startThread = () => nodeThread(Worker, new URL('./thread-worker-node.mjs', import.meta.url));
