// `npm run bench -- --threads N`: one thread vs N for dyce,
// onnxruntime-web (env.wasm.numThreads) and tfjs-backend-wasm (its
// threaded SIMD build, setThreadsCount), on each host in turn:
//   node      each (runtime, threads) in its own worker thread
//             (realms_node.mjs);
//   chromium  each in its own iframe of one cross-origin-isolated page
//             (realms_page.mjs), Debian's Chromium, headless.
// On a host, the realms' runs are interleaved (the order rotates every
// round) after a warm-up of each, every run timed inside its realm; then
// each runs alone, back to back, for a second while its CPU time is
// measured: CPU / wall near N says N threads really worked, near 1 that
// the runtime ran on one (whatever it reports). The ms per run of that
// second ("alone") is lower than the interleaved median for tiny models:
// there each timed run follows a message that wakes the realm's thread.
// `--settle MS` (default 0) makes the driver wait that long before each
// interleaved run, every realm alike: e.g. 25, the idle gap between
// frames at 30–40 fps, after which a pool's threads have gone to sleep
// (and the other runtimes' spinning pools have stopped).
// `--split-min-macs N` gives dyce that splitMinMacs (0: split the small
// models too, which by default run whole on one thread). A realm that
// cannot start (tfjs-backend-wasm's threads under Node) is reported with
// its error and left out.
import fs from 'node:fs';

import { detectVariant } from '../../wasm/variants.mjs';
import { otherLoad } from './proc_cpu.mjs';
import { openNodeRealms } from './realms_node.mjs';
import { maxRelDiff, summarize } from './stats.mjs';

export const THREAD_MODELS = ['mobilenet_v2', 'resnet18', 'efficientnet_b0', 'fmnist_backbone', 'fmnist_saver0'];
// dyce: the SIMD128 build; dyce-relaxed: the relaxed-SIMD build, which
// Chromium and Firefox pick by feature detection (what a user there
// runs), on the hosts that validate it (Node only with
// --experimental-wasm-relaxed-simd).
const RUNTIMES = ['dyce', 'dyce-relaxed', 'ort-web', 'tfjs-wasm'];
const DYCES = ['dyce', 'dyce-relaxed'];
const PEERS = ['ort-web', 'tfjs-wasm'];
const HOSTS = {
  node: openNodeRealms,
  // Imported when used: playwright-core is only needed for this host.
  chromium: async (...args) => (await import('./realms_page.mjs')).openPageRealms(...args),
};
const ALONE_MS = 1000;

async function benchModel(host, model, o, failed) {
  const others = otherLoad();
  const live = [];
  for (const realm of host.realms) {
    if (failed.has(realm)) continue;
    try {
      realm.info = await realm.loadModel(model);
      live.push(realm);
    } catch (e) {
      failed.set(realm, e.message.split('\n')[0]); // reported in the table, not retried
    }
  }
  for (const realm of live) await realm.warm(o.warmup, 1000);
  const times = new Map(live.map((r) => [r, []]));
  for (let i = 0; i < o.runs; i++)
    for (let j = 0; j < live.length; j++) {
      const realm = live[(i + j) % live.length];
      if (o.settle > 0) await new Promise((resolve) => setTimeout(resolve, o.settle));
      times.get(realm).push(await realm.run());
    }
  const alone = new Map();
  for (const realm of live) alone.set(realm, await host.alone(realm, ALONE_MS));
  const outputs = new Map();
  for (const realm of live) {
    outputs.set(realm, await realm.output());
    await realm.free();
  }
  const ref = live.find((r) => DYCES.includes(r.runtime) && r.threads === 1);
  const otherCores = others();
  return host.realms.map((realm) => ({
    host: host.host, model, runtime: realm.runtime, threads: realm.threads, other_load_cores: otherCores,
    ...(times.has(realm) ? {
      threads_reported: realm.info.threads,
      ...summarize(times.get(realm)),
      cpu_over_wall: alone.get(realm).cpuOverWall,
      alone_ms_per_run: alone.get(realm).msPerRun,
      max_rel_diff_vs_dyce_1: ref ? maxRelDiff(outputs.get(realm), outputs.get(ref)) : null,
      ...(realm.info.note ? { note: realm.info.note } : {}),
    } : { error: failed.get(realm) }),
  }));
}

/** Speedups N vs 1, dyce(N) / best peer(N) and dyce(N) / dyce(1), as time ratios of medians (and of minimums). */
function summary(rows, n) {
  const at = (rt, t) => rows.find((r) => r.runtime === rt && r.threads === t && r.median_ms !== undefined);
  const ratio = (a, b) => (a && b ? { median: a.median_ms / b.median_ms, min: a.min_ms / b.min_ms } : null);
  const speedup = {};
  for (const rt of new Set(rows.map((r) => r.runtime))) speedup[rt] = ratio(at(rt, 1), at(rt, n));
  const peers = PEERS.map((p) => at(p, n)).filter(Boolean).sort((a, b) => a.median_ms - b.median_ms);
  const s = {
    host: rows[0].host, model: rows[0].model, kind: 'threads-summary', threads: n,
    other_load_cores: rows[0].other_load_cores, speedup,
    best_peer: peers[0]?.runtime ?? null,
  };
  // Per dyce build: dyce_over_best_peer, dyce_n_over_dyce_1, dyce_relaxed_….
  for (const rt of DYCES) {
    const key = rt.replace('-', '_');
    s[`${key}_over_best_peer`] = ratio(at(rt, n), peers[0]);
    s[`${key}_n_over_${key}_1`] = ratio(at(rt, n), at(rt, 1));
  }
  return s;
}

const fmt = (x, d, w) => (x === undefined || x === null ? '-' : x.toFixed(d)).padStart(w);
const pair = (r) => (r ? `${r.median.toFixed(2)} (${r.min.toFixed(2)})` : '-');

function report(rows, s, n) {
  // Other processes' load: N threads on a machine of N cores compete with it.
  const other = rows[0].other_load_cores;
  console.log(`\n${rows[0].model}, ${rows[0].host}${other === null ? '' : `; other processes took ${other.toFixed(2)} cores meanwhile`}`);
  console.log(`  ${'runtime'.padEnd(11)}${'threads'.padStart(7)}${'ran'.padStart(5)}${'median ms'.padStart(11)}` +
    `${'p90 ms'.padStart(9)}${'min ms'.padStart(9)}${'alone ms'.padStart(10)}${'cpu/wall'.padStart(10)}  max rel diff vs dyce x1`);
  for (const r of rows) {
    if (r.error) {
      // (tfjs's blob: URL, different every run, is left to the JSON)
      console.log(`  ${r.runtime.padEnd(11)}${String(r.threads).padStart(7)}    -  not run: ${r.error.replace(/ Received "blob:.*/, '')}`);
      continue;
    }
    console.log(`  ${r.runtime.padEnd(11)}${String(r.threads).padStart(7)}${String(r.threads_reported).padStart(5)}` +
      `${fmt(r.median_ms, 3, 11)}${fmt(r.p90_ms, 3, 9)}${fmt(r.min_ms, 3, 9)}${fmt(r.alone_ms_per_run, 3, 10)}${fmt(r.cpu_over_wall, 2, 10)}` +
      `  ${r.max_rel_diff_vs_dyce_1?.toExponential(1) ?? ''}${r.note ? `  (${r.note})` : ''}`);
  }
  const speedups = Object.entries(s.speedup).map(([rt, v]) => `${rt} ${pair(v)}`).join(', ');
  console.log(`  speedup ${n} vs 1 threads, median (min): ${speedups}`);
  for (const rt of DYCES) {
    const key = rt.replace('-', '_'), [toPeer, toOne] = [s[`${key}_over_best_peer`], s[`${key}_n_over_${key}_1`]];
    if (rt === 'dyce' || toPeer || toOne) // the SIMD128 line always, as before
      console.log(`  time ratio ${rt} x${n} / best peer x${n} (${s.best_peer ?? 'none'}): ${pair(toPeer)}; ` +
        `${rt} x${n} / ${rt} x1: ${pair(toOne)}`);
  }
}

/** o: bench.mjs's options (runs, warmup, models, runtimes, dir, json, threads, hosts, settle, splitMinMacs). */
export async function benchThreads(o) {
  const n = o.threads;
  if (!Number.isInteger(n) || n < 2) throw new Error(`--threads takes a whole number ≥ 2, not ${n}`);
  const models = o.modelsGiven ? o.models : THREAD_MODELS;
  const runtimes = o.runtimesGiven ? o.runtimes : RUNTIMES;
  const configsOf = (host) => runtimes
    .filter((runtime) => runtime !== 'dyce-relaxed' || host === 'chromium' || detectVariant() === 'relaxed')
    .flatMap((runtime) => [1, n].map((threads) => ({ runtime, threads, splitMinMacs: o.splitMinMacs })));
  console.log(`# ${new Date().toISOString()} one thread vs ${n}; ${o.runs} runs after ${o.warmup} warm-up (and 1 s) ` +
    `per realm, interleaved, ${o.settle} ms apart; then ${ALONE_MS / 1000} s of each realm's runs back to back, alone: ms per run, CPU / wall time`);
  const rows = [];
  for (const name of o.hosts ?? Object.keys(HOSTS)) {
    if (!HOSTS[name]) throw new Error(`unknown host ${name}; the hosts are ${Object.keys(HOSTS).join(', ')}`);
    const host = await HOSTS[name](configsOf(name), { dir: o.dir });
    console.log(`\n# ${name}: ${host.about}`);
    const failed = new Map();
    try {
      for (const model of models) {
        const r = await benchModel(host, model, o, failed);
        const s = summary(r, n);
        report(r, s, n);
        rows.push(...r, s);
      }
    } finally {
      await host.close();
    }
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(rows, null, 2) + '\n');
  return rows;
}
