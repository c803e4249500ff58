// `dyce` under Node (package.json `exports` condition "node"): the API of
// wasm/index.mjs, with paths and file: URLs read from the file system.
import './node-io.mjs';

export * from './index.mjs';
