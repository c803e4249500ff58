// The device signals the governor reads, gathered on a page's main thread:
//  - battery: the Battery Status API ({level, charging}); it exists only in
//    Chromium browsers and not in workers. Elsewhere battery is null,
//    "unknown", which the governor never treats as low.
//  - pressure: the Compute Pressure API's CPU state ("nominal", "fair",
//    "serious", "critical"), or null where PressureObserver is missing or
//    not allowed.
//  - hidden: the page is not visible (the demo pauses).
import { DyceError } from './errors.mjs';

const SIGNALS = ['battery', 'pressure'];

/**
 * Starts watching; `onChange(snapshot)` runs after every change.
 * `use`: which optional sources to read (default both: ['battery', 'pressure']).
 * → { snapshot, stop() }; snapshot = {battery, pressure, hidden}.
 */
export function watchDevice(onChange = () => {}, options = {}) {
  const { use = SIGNALS } = options ?? {};
  // A misspelt signal ('batery') would leave it unknown for good, unsaid.
  if (typeof options !== 'object' || Array.isArray(options) || Object.keys(options ?? {}).some((k) => k !== 'use'))
    throw new DyceError('DYCE_INVALID_ARGUMENT', `watchDevice() takes { use: [${SIGNALS.map((x) => `'${x}'`).join(', ')}] }, not ${Array.isArray(options) ? 'an array' : typeof options === 'object' ? `{ ${Object.keys(options).join(', ')} }` : String(options)}`, { field: 'options' });
  if (!Array.isArray(use) || use.some((x) => !SIGNALS.includes(x)))
    throw new DyceError('DYCE_INVALID_ARGUMENT', `watchDevice()'s use must list signals among ${SIGNALS.join(', ')}, not ${JSON.stringify(use)}`, { field: 'use' });
  if (typeof document === 'undefined')
    throw new DyceError('DYCE_UNSUPPORTED', 'watchDevice() reads the page\'s visibility and battery, which only a page\'s main thread has: call it there (a model in a Worker still takes its signals from the page)');
  const snapshot = { battery: null, pressure: null, hidden: document.visibilityState === 'hidden' };
  const stops = [];
  let stopped = false;
  // The page's callback throwing must not stop the watching (a first call
  // that wrote to an element not there yet left the battery unfollowed):
  // its error is reported as an event listener's would be.
  const emit = () => {
    if (stopped) return;
    try {
      onChange({ ...snapshot });
    } catch (e) {
      if (typeof reportError === 'function') reportError(e);
      else queueMicrotask(() => { throw e; });
    }
  };

  const onVisibility = () => {
    snapshot.hidden = document.visibilityState === 'hidden';
    emit();
  };
  document.addEventListener('visibilitychange', onVisibility);
  stops.push(() => document.removeEventListener('visibilitychange', onVisibility));

  if (use.includes('battery') && typeof navigator.getBattery === 'function') {
    navigator.getBattery().then((battery) => {
      if (stopped) return; // stop() came first (a component unmounted): nothing to undo later
      const read = () => {
        snapshot.battery = { level: battery.level, charging: battery.charging };
        emit();
      };
      for (const type of ['levelchange', 'chargingchange']) {
        battery.addEventListener(type, read);
        stops.push(() => battery.removeEventListener(type, read));
      }
      read();
    }, () => {}); // refused (e.g. by a permissions policy): stays unknown
  }

  if (use.includes('pressure') && typeof globalThis.PressureObserver === 'function') {
    try {
      const observer = new PressureObserver((records) => {
        snapshot.pressure = records.at(-1).state;
        emit();
      });
      observer.observe('cpu', { sampleInterval: 1000 }).catch(() => {});
      stops.push(() => observer.disconnect());
    } catch {
      // not allowed here: stays unknown
    }
  }

  return {
    get snapshot() {
      return { ...snapshot };
    },
    stop() {
      stopped = true;
      for (const stop of stops) stop();
    },
  };
}
