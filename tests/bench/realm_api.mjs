// What threads.mjs calls on a realm (realms_node.mjs: a worker thread;
// realms_page.mjs: an iframe), whatever carries the call there:
// `call(command, ...args)` runs realm_runner.mjs's method in the realm.
export const realmApi = (call, runtime, threads) => ({
  runtime, threads,
  loadModel: (name) => call('loadModel', name),
  warm: (runs, ms) => call('warm', runs, ms),
  run: () => call('run'),
  batch: (ms) => call('batch', ms),
  output: () => call('output'),
  free: () => call('free'),
});
