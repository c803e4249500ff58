// Under Node, dyce reads local packages and its own .wasm files with
// node:fs, and runs its threads in worker_threads. Imported only by the
// package's `node` entries (wasm/node.mjs, wasm/engine-node.mjs), so no
// browser bundle ever sees node:fs.
import { createRequire } from 'node:module';
import { open, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

import { host } from './io.mjs';
import { ownFileUnderNode } from './own-files.mjs';
import { nodeThread } from './threads.mjs';

host.readFile = readFile;
host.open = open;
host.cores = availableParallelism;

// worker_threads is required when the first thread starts, not imported:
// importing it costs 3-5 ms of every cold start, and most models never
// start a thread (wasm/threads.mjs, lazyWorkers).
const require = createRequire(import.meta.url);
host.startThread = () => nodeThread(require('node:worker_threads').Worker,
  ownFileUnderNode(new URL('./thread-worker-node.mjs', import.meta.url), 'wasm/thread-worker-node.mjs'));
