import type { ConfigInfo } from './index.js';

export interface GovernorParams {
  quantile: number; window: number; minSamples: number; speedWindow: number; slowWindow: number;
  tightWindow: number; fasterBy: number; overheadWindow: number; macsWindow: number; trustSamples: number;
  tailQuantile: number; minGap: number; overheadShare: number; fit: number; upFit: number;
  downAfter: number; upAfter: number;
  lowBattery: number; criticalBattery: number; saverCap: number;
  /** Discharging above lowBattery: accuracy (a fraction) given up for energy, `full` at 100 % charge to `low` at lowBattery; null: none. */
  energy: { full: number; low: number } | null;
  pressureCaps: Partial<Record<'nominal' | 'fair' | 'serious' | 'critical', number>>;
  probeFrames: number; backoff: [number, number];
  /** Speed-up per extra thread assumed until measured. */
  threadGain: number;
}
export declare const DEFAULTS: Readonly<GovernorParams>;

export interface Rung {
  config: number; name: string; accuracy: number | null; macs: number; maxMacs: number;
  /** The rung's saver and the mean MACs of the cheapest configuration using it (its cheapest exit). */
  saver: string | null; saverMacs: number | null;
}

export interface Signals {
  /** Per-frame inference budget, ms (from the target frame rate). */
  budgetMs: number;
  /** The frame just measured, if any. */
  /** The frame just measured, if any; `threads`: the count it ran on (a frame run on another count is not counted). */
  sample?: { config: number; ms: number; macs?: number; exhausted?: boolean; threads?: number } | null;
  /** null: the browser has no Battery Status API (never treated as low). */
  battery?: { level: number; charging: boolean } | null;
  saver?: boolean;
  pressure?: 'nominal' | 'fair' | 'serious' | 'critical' | null;
  hidden?: boolean;
  /** A configuration index chosen by the user, or null for automatic. */
  override?: number | null;
  /** Threads the model may use (model.maxThreads; default 1): the governor chooses how many run. */
  maxThreads?: number;
}

export type GovernorState = object;

/*
 * Every function here refuses what it cannot use — signals of the wrong
 * type or range, unknown keys, an override that is not a configuration
 * index, unknown or non-finite parameters, an empty configuration list —
 * with a DyceError (code DYCE_INVALID_ARGUMENT, `field` naming it).
 */

export interface Decision {
  configIndex: number;
  /** The thread count chosen. */
  threads: number;
  /** Index into the table, or null under a manual override. */
  rung: number | null;
  reason: string;
  changed: boolean;
  paused: boolean;
  /** The strictest cap's MACs, or null. */
  capMacs: number | null;
  /** Every cap in force (battery, saver, pressure, energy). */
  caps: { kind: string; macs: number; reason: string }[];
  state: GovernorState;
}

export declare function governorTable(configs: readonly ConfigInfo[], params?: Partial<GovernorParams>): Rung[];
export declare function initialState(table: Rung[], start?: number): GovernorState;
export declare function govern(signals: Signals, state: GovernorState, table: Rung[], params?: Partial<GovernorParams>): Decision;
export declare function predictedCosts(state: GovernorState, table: Rung[], params?: Partial<GovernorParams>): (number | null)[];
/** The accuracy given up for energy at charge `level` (0..1) while discharging. */
export declare function energyTolerance(level: number, params?: Partial<GovernorParams>): number;

export interface ChangeDetail { from: number; to: number; name: string; threads: number; reason: string }

// The listener options as the DOM library declares them, so that a Node
// project without it compiles (with it, they merge unchanged).
declare global {
  interface EventListenerOptions { capture?: boolean }
  interface AddEventListenerOptions extends EventListenerOptions { once?: boolean; passive?: boolean; signal?: AbortSignal }
}
/** A listener as EventTarget takes one (the DOM's EventListenerOrEventListenerObject). */
type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

export declare class Governor extends EventTarget {
  constructor(configs: readonly ConfigInfo[], params?: Partial<GovernorParams>);
  readonly table: Rung[];
  readonly configIndex: number;
  state: GovernorState;
  update(signals: Signals): Decision;
  predictedCosts(): (number | null)[];
  /** 'change': the configuration moved; `event.detail` says from where to where and why. */
  addEventListener(type: 'change', listener: (event: CustomEvent<ChangeDetail>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener(type: 'change', listener: (event: CustomEvent<ChangeDetail>) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: Listener | null, options?: boolean | EventListenerOptions): void;
}
