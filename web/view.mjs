// Text parts of the page: one function per panel, fed plain values.

const $ = (id) => document.getElementById(id);
const pct = (x, digits = 1) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(digits)} %`);
const macs = (m) => (m >= 1e6 ? `${(m / 1e6).toFixed(2)} M` : `${(m / 1e3).toFixed(1)} k`);
const ms = (x) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;

export function showStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

export function fillConfigChoices(configs) {
  const select = $('override');
  while (select.options.length > 1) select.lastChild.remove();   // a package opened before
  select.value = 'auto';
  for (const c of configs) {
    const option = document.createElement('option');
    option.value = String(c.index);
    option.textContent = `${c.name} — ${c.accuracy === null ? 'accuracy not measured' : pct(c.accuracy)}, ${macs(c.meanMacs ?? c.maxMacs)} MACs`;
    select.appendChild(option);
  }
}

export function showAnswer(result, truthLabel) {
  $('predicted').textContent = result.label;
  $('score').textContent = pct(result.score, 0);
  $('exit').textContent = result.exit;
  $('truth').textContent = truthLabel ?? 'unknown';
  const verdict = $('verdict');
  verdict.textContent = truthLabel === undefined ? '' : truthLabel === result.label ? '✓' : '✗';
  verdict.className = truthLabel === undefined ? '' : truthLabel === result.label ? 'good' : 'bad';
  $('top').replaceChildren(...result.top.map((t) => {
    const li = document.createElement('li');
    li.innerHTML = `<span>${t.label}<div class="bar" style="width:${(t.score * 100).toFixed(1)}%"></div></span><span>${pct(t.score, 0)}</span>`;
    return li;
  }));
}

export function showState({ config, reason, caps, stats, lastMs, budgetMs, fps, share, within }) {
  $('config').textContent = config.name;
  $('config-info').textContent = `${config.accuracy === null ? 'accuracy not measured' : `${pct(config.accuracy)} on val`}, ${macs(config.meanMacs ?? config.maxMacs)} MACs`;
  $('reason').textContent = reason;
  // The caps hold whatever the last move was (a frame-time move made under a cap names only the frame time).
  $('caps').textContent = caps.length ? caps.map((c) => c.reason).join('; ') : 'none';
  $('accuracy').textContent = pct(stats.accuracy);
  const recent = stats.recentAccuracy(100);
  $('accuracy-recent').textContent = stats.labelled ? `${stats.labelled} images; last 100: ${pct(recent, 0)}` : '';
  $('saved').textContent = pct(stats.saved);
  $('frame-ms').textContent = ms(lastMs);
  $('frame-ms').classList.toggle('over', lastMs > budgetMs);
  $('budget').textContent = `${ms(budgetMs)} (${Math.round(share * 100)} % of a ${fps} fps frame)`;
  $('within').textContent = within.share === null ? '' : `${pct(within.share, 0)} of the last ${within.frames} within`;
}

export function showDevice({ battery, pressure }, saver) {
  $('battery').textContent = battery
    ? `${Math.round(battery.level * 100)} %, ${battery.charging ? 'charging' : 'discharging'}${saver ? ' · saver on' : ''}`
    : `unknown (no Battery Status API)${saver ? ' · saver on' : ''}`;
  $('pressure').textContent = pressure ?? 'unknown';
}

export function showRuntime(text) {
  $('runtime').textContent = text;
}

const threadCount = (n) => `${n} thread${n === 1 ? '' : 's'}`;

/**
 * The threads the model runs on: "2 of 2" and why the governor chose
 * that count (`why`, null before any change); with one only, why the host
 * allows no more (the model's threadsReason, e.g. not cross-origin isolated).
 */
export function showThreads({ threads, maxThreads, threadsReason }, why) {
  $('threads').textContent = maxThreads > 1
    ? `${threads} of ${maxThreads}${why ? ` — ${why}` : ''}${threadsReason ? ` (${threadsReason})` : ''}`
    : `1 thread${threadsReason ? `: ${threadsReason}` : ''}`;
}

/** One governor change in the log; `threadsChanged`: it says the new thread count too. */
export function logEvent({ name, threads, reason }, t, threadsChanged = false) {
  const li = document.createElement('li');
  li.textContent = `${(t / 1000).toFixed(1)} s → ${name}${threadsChanged ? ` on ${threadCount(threads)}` : ''}: ${reason}`;
  const list = $('events');
  list.prepend(li);
  while (list.children.length > 30) list.lastChild.remove();
}

/** The package in use: its number type, download size and the page's time to its first answer. */
export function showPackage(dtype, bytes, firstAnswerMs) {
  const size = bytes ? `${Math.round(bytes / 1024)} KB` : 'size unknown';
  const first = firstAnswerMs === null ? 'first answer pending' : `first answer ${ms(firstAnswerMs)} after the page started`;
  $('package-info').textContent = `${dtype}, ${size}; ${first}`;
}
