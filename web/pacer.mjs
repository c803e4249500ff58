// Calls `onFrame()` at most `fps` times a second, on animation frames (or
// on a video's frames when given one), never while the previous call is
// still running: a frame that comes due during a slow one is skipped.

export class Pacer {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.fps = 15;
    this.video = null;
    this.running = false;
    this.busy = false;
    this.due = 0;
    this.skipped = 0;
    this.tick = this.tick.bind(this);
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop() {
    this.running = false;
  }

  /** Paces by this video's frames (requestVideoFrameCallback), or by animation frames (null). */
  follow(video) {
    this.video = video;
  }

  schedule() {
    if (!this.running) return;
    if (this.video && 'requestVideoFrameCallback' in this.video) this.video.requestVideoFrameCallback(this.tick);
    else requestAnimationFrame(this.tick);
  }

  tick(now) {
    this.schedule();
    // Animation frames arrive every ~16.7 ms: accept one a few ms early
    // rather than wait a whole extra frame.
    if (now < this.due - 4) return;
    if (this.busy) {
      this.skipped++;
      return;
    }
    const period = 1000 / this.fps;
    // Keep the cadence; after falling behind, restart it from now (no burst).
    this.due = this.due + period > now ? this.due + period : now + period;
    this.busy = true;
    Promise.resolve(this.onFrame()).finally(() => {
      this.busy = false;
    });
  }
}
