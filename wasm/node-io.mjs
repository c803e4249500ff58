// Under Node, dyce reads local packages and its own .wasm files with
// node:fs. Imported only by the package's `node` entries (wasm/node.mjs,
// wasm/engine-node.mjs), so no browser bundle ever sees node:fs.
import { readFile } from 'node:fs/promises';

import { host } from './io.mjs';

host.readFile = readFile;
