// `dyce/wasi` is the CLI under node:wasi (wasm/dyce-wasi.mjs): importing it
// runs `dyce` with process.argv and sets process.exitCode. It exports nothing.
export {};
