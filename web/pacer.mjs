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
    this.generation = 0; // callbacks of an older schedule (e.g. a stopped video's) are ignored
    this.inFlight = Promise.resolve(); // the running call of onFrame(), settled when there is none
  }

  /** Resolves once no call of onFrame() is running (after stop(), none starts again). */
  idle() {
    return this.inFlight;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.schedule(++this.generation);
  }

  stop() {
    this.running = false;
    this.generation++;
  }

  /** Paces by this video's frames (requestVideoFrameCallback), or by animation frames (null). */
  follow(video) {
    this.video = video;
    if (this.running) this.schedule(++this.generation);
  }

  schedule(generation) {
    const tick = (now) => this.tick(generation, now);
    if (this.video && 'requestVideoFrameCallback' in this.video) this.video.requestVideoFrameCallback(tick);
    else requestAnimationFrame(tick);
  }

  tick(generation, now) {
    if (generation !== this.generation || !this.running) return;
    this.schedule(generation);
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
    let done;
    this.inFlight = new Promise((resolve) => { done = resolve; });
    Promise.resolve(this.onFrame()).finally(() => {
      this.busy = false;
      done();
    });
  }
}
