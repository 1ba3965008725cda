// Client-side scrubbing: traversal strips fetched once, decoded to bitmaps and sliced onto canvases; plus a
// latest-wins loader for single images and a synchronised animator for playing a direction on several seeds.

import { fetchTraversal } from "./api.js";
import { emitFrame } from "./ui.js";

/** A decoded strip: bitmap (frames left to right), frame values (shift of each frame), frame size in px. */
export class Strip {
  constructor(bitmap, values) {
    this.bitmap = bitmap;
    this.frameSize = bitmap.height;
    this.count = Math.max(1, Math.round(bitmap.width / bitmap.height));
    this.values = values.length === this.count ? values : null;
  }

  /** The frame showing exactly `value` (within rounding), or -1 when no frame does. */
  frameFor(value, extent) {
    const values = this.values || Array.from({ length: this.count }, (_, i) => -extent + (2 * extent * i) / (this.count - 1));
    const tolerance = 1e-3 + (values.length > 1 ? Math.abs(values[1] - values[0]) * 1e-3 : 0);
    let best = -1;
    let bestDistance = Infinity;
    values.forEach((v, i) => {
      const distance = Math.abs(v - value);
      if (distance < bestDistance) {
        best = i;
        bestDistance = distance;
      }
    });
    return bestDistance <= tolerance ? best : -1;
  }
}

/** Strips by key, decoded once, the least recently used dropped beyond `limit`; concurrent loads share one fetch. */
export class StripCache {
  constructor(limit = 64) {
    this.limit = limit;
    this.strips = new Map();
    this.loading = new Map();
  }

  peek(key) {
    const strip = this.strips.get(key);
    if (strip) {
      this.strips.delete(key); // refresh recency
      this.strips.set(key, strip);
    }
    return strip || null;
  }

  /**
   * Resolve to the Strip of `key`, fetching traversal.png with `params` when it is not cached. `fetchOptions`
   * ({signal, priority}) apply to a fetch this call starts (a prefetch can be cancelled and ranked low).
   */
  load(key, model, params, fetchOptions = {}) {
    const cached = this.peek(key);
    if (cached) return Promise.resolve(cached);
    if (!this.loading.has(key)) {
      const promise = fetchTraversal(model, params, fetchOptions.signal, fetchOptions.priority)
        .then(async ({ blob, values }) => new Strip(await createImageBitmap(blob), values))
        .then((strip) => {
          this.strips.set(key, strip);
          while (this.strips.size > this.limit) {
            const oldest = this.strips.keys().next().value;
            this.strips.get(oldest).bitmap.close?.();
            this.strips.delete(oldest);
          }
          return strip;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, promise);
    }
    return this.loading.get(key);
  }
}

/** Size a canvas to a frame and draw frame `index` of `strip` (frames left to right). */
export function drawStripFrame(canvas, strip, index, source = "strip") {
  const size = strip.frameSize;
  if (canvas.width !== size || canvas.height !== size) {
    canvas.width = size;
    canvas.height = size;
  }
  const ctx = canvas.getContext("2d");
  ctx.drawImage(strip.bitmap, index * size, 0, size, size, 0, 0, size, size);
  emitFrame(canvas, source);
}

export function drawBitmap(canvas, bitmap, source) {
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  emitFrame(canvas, source);
}

/**
 * Latest wins: at most one request in flight and one waiting; a new request replaces the waiting one, so a fast
 * drag never builds a queue of stale frames. Results older than the last shown one are dropped.
 */
export class LatestLoader {
  constructor(onResult, onError) {
    this.onResult = onResult;
    this.onError = onError;
    this.inFlight = null; // {key, seq}
    this.waiting = null; // {key, run, seq}
    this.seq = 0;
    this.shownSeq = 0;
    this.wantedKey = null;
  }

  /** Ask for `key`; `run()` returns a Promise of the result. Asking for the in-flight key again is free. */
  request(key, run) {
    this.wantedKey = key;
    if (this.inFlight && this.inFlight.key === key) {
      this.waiting = null;
      return;
    }
    const job = { key, run, seq: ++this.seq };
    if (this.inFlight) this.waiting = job;
    else this.start(job);
  }

  /** Forget what was asked (another source, e.g. a strip, now draws): late answers are dropped. */
  cancel() {
    this.wantedKey = null;
    this.waiting = null;
    this.shownSeq = this.seq;
  }

  start(job) {
    this.inFlight = job;
    job
      .run()
      .then(
        (result) => {
          if (this.wantedKey !== null && job.seq > this.shownSeq) {
            this.shownSeq = job.seq;
            this.onResult(result, job.key);
          }
        },
        (error) => {
          if (this.wantedKey === job.key) this.onError(error, job.key);
        },
      )
      .finally(() => {
        this.inFlight = null;
        const next = this.waiting;
        this.waiting = null;
        if (next) this.start(next);
      });
  }
}

/** Plays strips forth and back on several canvases in step (one shared clock), at `fps` frames per second. */
export class Animator {
  constructor(fps = 10) {
    this.fps = fps;
    this.items = []; // {canvas, strip}
    this.handle = null;
    this.startTime = 0;
  }

  get running() {
    return this.handle !== null;
  }

  setItems(items) {
    this.items = items.filter((item) => item.strip);
  }

  start() {
    if (this.handle !== null) return;
    this.startTime = performance.now();
    const tick = (now) => {
      this.handle = window.requestAnimationFrame(tick);
      if (!this.items.length) return;
      const count = this.items[0].strip.count;
      const period = Math.max(1, 2 * (count - 1));
      const step = Math.floor(((now - this.startTime) / 1000) * this.fps) % period;
      const index = step < count ? step : period - step; // forth and back
      for (const { canvas, strip, reversed } of this.items) {
        if (canvas.dataset.playFrame === String(index)) continue;
        canvas.dataset.playFrame = String(index);
        drawStripFrame(canvas, strip, reversed ? strip.count - 1 - index : Math.min(index, strip.count - 1), "play");
      }
    };
    this.handle = window.requestAnimationFrame(tick);
  }

  stop() {
    if (this.handle !== null) window.cancelAnimationFrame(this.handle);
    this.handle = null;
    for (const { canvas } of this.items) delete canvas.dataset.playFrame;
  }
}
