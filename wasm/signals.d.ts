export interface DeviceSnapshot {
  battery: { level: number; charging: boolean } | null;
  pressure: 'nominal' | 'fair' | 'serious' | 'critical' | null;
  hidden: boolean;
}
/** Watches battery, CPU pressure and visibility on a page's main thread (elsewhere: DyceError DYCE_UNSUPPORTED). */
export declare function watchDevice(onChange?: (snapshot: DeviceSnapshot) => void,
  options?: { use?: ('battery' | 'pressure')[] }): { readonly snapshot: DeviceSnapshot; stop(): void };
