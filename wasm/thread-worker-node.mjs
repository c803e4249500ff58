// A dyce thread under Node (a worker_threads Worker started by
// wasm/threads.mjs through wasm/node-io.mjs); browsers use thread-worker.mjs.
import { parentPort } from 'node:worker_threads';

import { runThread } from './thread-start.mjs';

parentPort.once('message', (data) => runThread(data, (message) => parentPort.postMessage(message)));
