// The demo: streams Fashion-MNIST test images (or the camera, or the
// visitor's own pictures) through the model — the shipped package, or one
// the visitor opens — at a target frame rate, lets the governor pick the configuration
// and the thread count from frame times, battery, CPU pressure and the
// user's switches, and shows what happened. URL options (mostly for tests):
//   ?runner=worker|main   where inference runs (default: a Worker)
//   ?fps=N                initial target frame rate (default 15)
//   ?model=URL            the package (default: the shipped one, else the smoke one;
//                         the page's package menu sets it: float32 or int8)
//   ?signals=battery,pressure   which device APIs to read (default both)
//   ?start=N              first test image (default 0)
//   ?variant=relaxed|simd|nosimd   the wasm build (default: the best this browser runs)
//   ?test                 the test hook: window.dyceTest (below) and window.pageErrors (errors.js)
import { Governor } from '../wasm/governor.mjs';
import { load } from '../wasm/index.mjs';
import { watchDevice } from '../wasm/signals.mjs';
import { loadInWorker } from '../wasm/worker-client.mjs';
import { startCamera } from './camera.mjs';
import { drawExits, FrameChart, ParetoChart } from './charts.mjs';
import { LABELS, loadTestSet, sampleImage } from './dataset.mjs';
import { Pacer } from './pacer.mjs';
import { decodePicture, drawPicture, listPictures } from './pictures.mjs';
import { LiveStats } from './stats.mjs';
import * as view from './view.mjs';

// Inference gets this share of each frame; the rest is the page's (drawing,
// input, the browser's own work).
const BUDGET_SHARE = 0.5;
const CHART_MS = 200;
const MODELS = ['../models/fashion-mnist.dyce', '../build/fmnist-smoke/fashion-mnist-configs.dyce'];
// The packages the menu offers (those the server has): the same cascade in
// float32 and quantized to int8 (docs/INT8.md).
const PACKAGES = [['float32', '../models/fashion-mnist.dyce'], ['int8', '../models/fashion-mnist-int8.dyce']];
// From here to the first answer: what a visitor waits for.
const pageStart = performance.now();

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

/**
 * Loads the first package that exists and ships configurations: ?model=,
 * else the shipped one, else the smoke-trained one (the shipped package
 * has no configurations until `dyce search` has written them); or the
 * package file the visitor opened.
 */
async function loadModel(runner, options, file = null) {
  if (file) {
    const model = await runner(file, options);
    if (model.configs.length) return { model, url: new URL(`file:${file.name}`), bytes: file.size };
    await model.dispose();
    throw new Error(`${file.name} has no configurations (models/build.py writes them; dyce search adds them)`);
  }
  const candidates = params.get('model') ? [params.get('model')] : MODELS;
  for (const candidate of candidates) {
    const url = new URL(candidate, location.href);
    const head = await fetch(url, { method: 'HEAD' });
    if (!head.ok) continue;
    const model = await runner(url, options);
    if (model.configs.length) return { model, url, bytes: Number(head.headers.get('content-length')) || null };
    await model.dispose();
  }
  throw new Error(`no model package with configurations: looked for ${candidates.join(', ')}`);
}

/**
 * The package menu: each offered package the server has (asked while the
 * model loads, not before); choosing one reloads with ?model=.
 */
async function fillPackageChoices() {
  const select = $('package');
  const heads = await Promise.all(PACKAGES.map(([, path]) =>
    fetch(new URL(path, location.href), { method: 'HEAD' }).catch(() => null)));
  PACKAGES.forEach(([label, path], i) => {
    if (!heads[i]?.ok) return;
    const kb = Math.round(Number(heads[i].headers.get('content-length')) / 1024);
    select.appendChild(new Option(`${label} — ${kb} KB`, path));
  });
  select.addEventListener('change', () => {
    const query = new URLSearchParams(location.search);
    query.set('model', select.value);
    location.search = query.toString();
  });
}

/** Selects the loaded package in the menu (or names it, when it is not one the menu offers). */
function showCurrentPackage(current) {
  const select = $('package');
  const i = [...select.options].findIndex((o) => new URL(o.value, location.href).pathname === current.pathname);
  if (i >= 0) select.selectedIndex = i;
  else select.appendChild(new Option(current.pathname.split('/').pop(), '', true, true));
}

class Demo {
  constructor(model, set, modelUrl, packageBytes) {
    this.model = model;
    this.set = set;
    this.modelUrl = modelUrl;
    this.packageBytes = packageBytes;
    this.firstAnswerMs = null; // page start to the first answer
    this.runner = params.get('runner') === 'main' ? 'main' : 'worker';
    this.t0 = performance.now();
    this.next = Number(params.get('start') ?? 0);
    this.source = 'dataset';
    this.stopCamera = null;
    this.userPaused = false;
    this.events = [];
    this.lastMs = 0;
    this.governor = new Governor(model.configs);
    this.governor.addEventListener('change', (e) => this.onChange(e.detail));
    this.decision = { configIndex: this.governor.configIndex, threads: model.threads, reason: this.governor.state.reason, capMacs: null, caps: [], rung: null };
    this.threadsWhy = null; // the reason of the governor's last thread change
    this.stats = new LiveStats({ stageCount: model.configs[0].exits.length, backboneMacs: model.backboneMacs });
    this.pareto = new ParetoChart($('pareto'), model.configs);
    this.frameChart = new FrameChart($('frames'));
    this.drawnAt = -Infinity;
    this.pacer = new Pacer(() => this.frame());
    this.pacer.fps = Number(params.get('fps') ?? $('fps').value);
    const use = (params.get('signals') ?? 'battery,pressure').split(',');
    this.device = watchDevice((snapshot) => this.onDevice(snapshot), { use });
    this.picture = $('picture').getContext('2d');
    this.pictures = []; // the visitor's (pictures.mjs)
    // The test images' true labels hold for a package of Fashion-MNIST's labels only.
    this.setLabels = model.labels.length === LABELS.length && LABELS.every((l, i) =>
      model.labels[i].replaceAll('/', '_') === l.replaceAll('/', '_'));
    Object.assign($('picture'), { width: model.input.width, height: model.input.height });
    $('events').replaceChildren();
    $('fps').value = String(this.pacer.fps);
    $('fps-value').textContent = String(this.pacer.fps);
    view.fillConfigChoices(model.configs);
    view.showDevice(this.device.snapshot, false);
    view.showRuntime(`${this.runner === 'worker' ? 'in a Worker' : 'on the main thread'}, wasm ${model.variant}; ${modelUrl.pathname.split('/').pop()}, ${model.configs.length} configurations`);
  }

  get budgetMs() {
    return (1000 / this.pacer.fps) * BUDGET_SHARE;
  }

  togglePause() {
    this.userPaused = !this.userPaused;
    if (this.userPaused) this.pacer.stop();
    else this.pacer.start();
    $('pause').textContent = this.userPaused ? 'resume' : 'pause';
  }

  /** Ends this run (another package is being opened): no frame after it resolves. */
  async stop() {
    this.userPaused = true;
    this.pacer.stop();
    await this.pacer.idle();
    this.device.stop();
    this.stopCamera?.();
    await this.model.dispose();
  }

  /** Streams the visitor's pictures (a FileList) from now on. */
  usePictures(files) {
    const pictures = listPictures(files, this.model.labels);
    if (!pictures.length) {
      view.showStatus(`none of the ${files.length} files chosen is a picture`, true);
      return;
    }
    this.pictures = pictures;
    this.next = 0;
    const labelled = pictures.filter((p) => p.truth !== undefined).length;
    const option = $('source').querySelector('option[value="pictures"]');
    option.disabled = false;
    option.textContent = `your pictures (${pictures.length})`;
    $('source').value = 'pictures';
    this.switchSource('pictures');
    view.showStatus(`running: ${pictures.length} of your pictures, ${labelled} with a true label (their folder's name)`);
  }

  /** The signals of the governor's next step (plus the frame just measured). */
  signals(sample = null) {
    const override = $('override').value;
    return {
      ...this.device.snapshot, budgetMs: this.budgetMs, sample, maxThreads: this.model.maxThreads,
      saver: $('saver').checked, override: override === 'auto' ? null : Number(override),
    };
  }

  /** A change of switch or device: the governor decides without a new frame. */
  steer() {
    view.showDevice(this.device.snapshot, $('saver').checked);
    this.decision = this.governor.update(this.signals());
    this.drawnAt = -Infinity;
    this.render();
  }

  onDevice(snapshot) {
    this.steer();
    if (!snapshot.hidden && !this.userPaused) this.pacer.start();
  }

  onChange(detail) {
    const event = { t: performance.now() - this.t0, ...detail };
    const threadsChanged = detail.threads !== (this.events.at(-1)?.threads ?? this.model.maxThreads);
    if (threadsChanged) this.threadsWhy = detail.reason;
    this.events.push(event);
    view.logEvent(event, event.t, threadsChanged);
  }

  /**
   * Runs the model on the governor's thread count. Called before a
   * classify, never during one: setThreads replans the model's memory.
   */
  async syncThreads() {
    const wanted = this.decision.threads;
    if (!Number.isInteger(wanted) || wanted === this.model.threads) return;
    await this.model.setThreads(wanted);
    this.drawnAt = -Infinity;
  }

  async switchSource(source) {
    this.stopCamera?.();
    this.stopCamera = null;
    this.source = 'dataset';
    $('camera').hidden = true;
    $('picture').hidden = false;
    this.pacer.follow(null);
    if (source === 'pictures' && this.pictures.length) this.source = 'pictures';
    if (source !== 'camera') return;
    try {
      this.stopCamera = await startCamera($('camera'));
      this.source = 'camera';
      $('camera').hidden = false;
      $('picture').hidden = true;
      this.pacer.follow($('camera'));
    } catch (e) {
      $('source').value = 'dataset';
      view.showStatus(`camera unavailable: ${e.message}; streaming test images`, true);
    }
  }

  /** One frame: pick the input, classify it with the governor's choice, measure, decide. */
  async frame() {
    if (this.device.snapshot.hidden) return;
    let input, truth;
    if (this.source === 'camera') {
      input = $('camera');
    } else if (this.source === 'pictures') {
      const picture = this.pictures[this.next++ % this.pictures.length];
      try {
        input = await decodePicture(picture);
      } catch {
        view.showStatus(`cannot decode ${picture.path}: skipped`, true);
        return;
      }
      truth = picture.truth;
      drawPicture(this.picture, input);
    } else {
      const i = this.next++ % this.set.count;
      input = sampleImage(this.set, i);
      truth = this.setLabels ? this.model.labels[this.set.labels[i]] : undefined;
      if (input.width === this.picture.canvas.width && input.height === this.picture.canvas.height)
        this.picture.putImageData(input, 0, 0);
      else drawPicture(this.picture, await createImageBitmap(input));
    }
    let result, config, threads, start;
    try {
      await this.syncThreads();
      config = this.decision.configIndex;
      threads = this.model.threads;
      start = performance.now();
      result = await this.model.classify(input, { // (a bitmap is the model's from here)
        config, invert: this.source === 'camera' && $('invert').checked,
        deadlineMs: $('anytime').checked ? this.budgetMs : 0,
      });
    } catch (e) {
      view.showStatus(`${start === undefined ? 'setting threads' : 'classify'} failed: ${e.code ?? ''} ${e.message}`, true);
      this.pacer.stop();
      return;
    }
    const ms = performance.now() - start;
    this.lastMs = ms;
    if (this.firstAnswerMs === null) {
      this.firstAnswerMs = performance.now() - pageStart;
      view.showPackage(this.model.dtype, this.packageBytes, this.firstAnswerMs);
    }
    this.stats.add({
      t: start - this.t0, config, threads, ms, budgetMs: this.budgetMs, position: result.position, macs: result.macs,
      exhausted: result.budgetExhausted, correct: truth === undefined ? null : result.label === truth,
    });
    this.decision = this.governor.update(this.signals({ config, threads, ms, macs: result.macs, exhausted: result.budgetExhausted }));
    view.showAnswer(result, truth);
    this.render();
  }

  /** Updates the panels; the charts at most every CHART_MS (drawing competes with inference). */
  render() {
    const now = performance.now();
    if (now - this.drawnAt < CHART_MS) return;
    this.drawnAt = now;
    const config = this.model.configs[this.decision.configIndex];
    view.showState({
      config, reason: this.decision.reason, caps: this.decision.caps, stats: this.stats, lastMs: this.lastMs, budgetMs: this.budgetMs,
      fps: this.pacer.fps, share: BUDGET_SHARE, within: this.stats.withinBudget(performance.now() - this.t0 - 10_000),
    });
    view.showThreads(this.model, this.threadsWhy);
    this.pareto.update(this.decision.configIndex, this.stats.perConfig, this.decision.capMacs);
    this.frameChart.draw(this.stats.frames, this.budgetMs);
    drawExits($('exits'), this.stats.exits);
  }

  /**
   * The test hook (window.dyceTest.classify with ?test): classifies test
   * images `indices` with configuration `config` (name or index) where the
   * page runs inference (the Worker by default), on `threads` threads if
   * given (the next frame goes back to the governor's count), the stream
   * paused meanwhile.
   * → {variant, runner, threads, results: [{index, label, exit, position, macs, config}]}
   */
  async classifyForTest({ indices, config, threads }) {
    const wasRunning = this.pacer.running;
    this.pacer.stop();
    await this.pacer.idle();
    try {
      if (threads !== undefined) await this.model.setThreads(threads);
      const ran = this.model.threads;
      const results = [];
      for (const index of indices) {
        const r = await this.model.classify(sampleImage(this.set, index), { config });
        results.push({ index, label: r.label, exit: r.exit, position: r.position, macs: r.macs, config: r.config });
      }
      return { variant: this.model.variant, runner: this.runner, threads: ran, results };
    } finally {
      if (wasRunning) this.pacer.start();
    }
  }

  /** A plain-data view of the run, for tests and the console. */
  snapshot() {
    return {
      runner: this.runner, model: this.modelUrl.pathname, variant: this.model.variant, source: this.source,
      pictures: this.pictures.length, labels: this.model.labels.length,
      dtype: this.model.dtype, packageBytes: this.packageBytes, firstAnswerMs: this.firstAnswerMs,
      threads: this.model.threads, maxThreads: this.model.maxThreads, threadsReason: this.model.threadsReason, threadsWanted: this.decision.threads,
      fps: this.pacer.fps, budgetMs: this.budgetMs, config: this.decision.configIndex,
      configName: this.model.configs[this.decision.configIndex].name, rung: this.decision.rung,
      reason: this.decision.reason, capMacs: this.decision.capMacs, caps: this.decision.caps, table: this.governor.table,
      device: this.device.snapshot, saver: $('saver').checked, total: this.stats.total,
      frames: this.stats.frames.map(({ t, config, threads, ms, budgetMs, over, position, macs, correct }) => ({ t, config, threads, ms, budgetMs, over, position, macs, correct })),
      events: this.events, accuracy: this.stats.accuracy, saved: this.stats.saved, skipped: this.pacer.skipped,
      now: performance.now() - this.t0,
    };
  }
}

let demo = null; // the running Demo
let testSet = null;

/** Starts the demo on the shipped package (or ?model=), or on the package file `file`. */
async function main(file = null) {
  const runner = params.get('runner') === 'main' ? load : loadInWorker;
  view.showStatus(`loading ${file ? file.name : 'the model'} and the test images…`);
  const options = params.get('variant') ? { variant: params.get('variant') } : {};
  // ?splitMinMacs=0: threads split this small model too (load's option).
  if (params.has('splitMinMacs')) options.splitMinMacs = Number(params.get('splitMinMacs'));
  testSet ??= loadTestSet();
  const [{ model, url, bytes }, set] = await Promise.all([loadModel(runner, options, file), testSet,
    file ? null : fillPackageChoices()]);
  showCurrentPackage(url);
  demo = new Demo(model, set, url, bytes);
  view.showPackage(model.dtype, bytes, null);
  window.demo = demo;
  if (params.has('test')) window.dyceTest = { classify: (request) => demo.classifyForTest(request), snapshot: () => demo.snapshot() };
  demo.pacer.start();
  view.showStatus(`running: ${set.count} Fashion-MNIST test images with their true labels`);
  return demo;
}

/** The controls, bound once: each acts on the running demo. */
function bindControls() {
  $('fps').addEventListener('input', () => {
    if (demo) demo.pacer.fps = Number($('fps').value);
    $('fps-value').textContent = $('fps').value;
  });
  $('saver').addEventListener('change', () => demo?.steer());
  $('override').addEventListener('change', () => demo?.steer());
  $('source').addEventListener('change', () => demo?.switchSource($('source').value));
  $('pause').addEventListener('click', () => demo?.togglePause());
  for (const id of ['picture-files', 'picture-folder'])
    $(id).addEventListener('change', (e) => e.target.files.length && demo?.usePictures(e.target.files));
  $('package-file').addEventListener('change', async (e) => {
    const [file] = e.target.files;
    if (!file) return;
    const previous = demo;
    demo = null;
    await previous?.stop();
    $('source').value = 'dataset';
    window.demoReady = main(file).catch((err) => view.showStatus(`cannot open ${file.name}: ${err.code ?? ''} ${err.message}`, true));
  });
}

bindControls();
window.demoReady = main().catch((e) => {
  view.showStatus(`failed: ${e.message}`, true);
  throw e;
});
