// `dyce/engine` under Node (package.json `exports` condition "node"): the
// low-level binding of wasm/engine.mjs, its .wasm read from the file system.
import './node-io.mjs';

export * from './engine.mjs';
