// The view's whole state (view, model, set, seed, shifts, window, ...) kept in the address so that a link reproduces
// the view; everything else reads and changes it here. Which keys a view keeps comes from the registry (views.js).
// The annotator token is deliberately NOT state: see session.

export const WINDOW_PRESETS = ["lung", "mediastinum", "bone", "full"]; // keys 1..4, as radiology viewers do
export const SAMPLE_COUNTS = [1, 4, 6, 9];
export const FRAME_SIZES = [128, 192, 256]; // CSS px of one frame in Review and Compare
export const MAX_SEED = 2 ** 31 - 1;
export const MAX_SHIFT = 30;
export const VOLUME_SLICES = Object.freeze({ min: 16, max: 128, default: 64 }); // slices of a Volume view stack
export const VOLUME_PATHS = ["straight", "locked"];

const DEFAULTS = Object.freeze({
  model: "",
  set: "",
  seed: 0,
  samples: 6,
  extent: 6,
  window: "mediastinum", // soft tissue at readable contrast; the full range is one key (4) away
  focus: null, // the direction whose strip is loaded for scrubbing
  shifts: Object.freeze({}), // {directionIndex: shift}
  dir: 0, // the direction shown in label mode
  set2: "", // the second set of the compare view
  frame: 128, // the frame size of Review and Compare strips (one of FRAME_SIZES)
  latent: null, // Float32Array of an encoded slice (kept in the hash), or null
  nearest: false, // Explore: the nearest training slice beside each sample
  vdir: null, // the Volume view's direction; null: the server's choice (consensus, else scorecard)
  slices: VOLUME_SLICES.default,
  vpath: "straight", // the Volume view's path: straight | locked
  at: null, // the Volume view's crosshair "slice,row,column", or null (the middle)
  patient: null, // the real phantom patient beside the volume; null: the server's default
});

/** "lung" | "mediastinum" | "bone" | "full" | "W,L" with W > 0; anything else is null. */
export function parseWindow(text) {
  if (!text) return null;
  const value = String(text).trim().toLowerCase();
  if (WINDOW_PRESETS.includes(value)) return value;
  const match = /^(\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(value);
  if (match && Number(match[1]) > 0) return `${Number(match[1])},${Number(match[2])}`;
  return null;
}

function parseIntInRange(text, lo, hi) {
  if (text === null || text === undefined || !/^-?\d+$/.test(String(text).trim())) return null;
  const value = Number(text);
  return value >= lo && value <= hi ? value : null;
}

/** Shifts from repeated `k:v` strings; invalid parts are dropped (a hand-edited link must not break the page). */
export function parseShifts(items) {
  const shifts = {};
  for (const item of items) {
    const match = /^(\d{1,4}):(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/i.exec(item.trim());
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value) && value !== 0 && Math.abs(value) <= MAX_SHIFT) shifts[Number(match[1])] = value;
  }
  return shifts;
}

export function encodeLatent(latent) {
  const bytes = new Uint8Array(Float32Array.from(latent).buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeLatent(text) {
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    if (binary.length === 0 || binary.length % 4 !== 0) return null;
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const latent = new Float32Array(bytes.buffer);
    return latent.every(Number.isFinite) ? latent : null;
  } catch {
    return null;
  }
}

// ---- the views: their ids and address keys come from the registry (views.js) through main.js --------------------

// Keys every view keeps in the address (all of them draw slices or strips from these), then the view's own urlKeys.
const COMMON_URL_KEYS = ["model", "set", "seed", "window"];

/** How each state key is written to the query; `latent` goes to the hash (too long for a query, never logged). */
const URL_WRITERS = {
  model: (query, state) => state.model && query.set("model", state.model),
  set: (query, state) => state.set && query.set("set", state.set),
  seed: (query, state) => query.set("seed", String(state.seed)),
  window: (query, state) => query.set("window", state.window),
  samples: (query, state) => query.set("n", String(state.samples)),
  extent: (query, state) => query.set("extent", String(state.extent)),
  focus: (query, state) => state.focus !== null && query.set("focus", String(state.focus)),
  shifts: (query, state) => {
    for (const [k, v] of Object.entries(state.shifts).sort(([a], [b]) => Number(a) - Number(b))) {
      query.append("shift", `${k}:${v}`);
    }
  },
  dir: (query, state) => query.set("dir", String(state.dir)),
  set2: (query, state) => state.set2 && query.set("set2", state.set2),
  frame: (query, state) => query.set("frame", String(state.frame)),
  latent: () => {}, // written to the hash by stateToUrl
  nearest: (query, state) => state.nearest && query.set("nearest", "1"),
  vdir: (query, state) => state.vdir !== null && query.set("vdir", String(state.vdir)),
  slices: (query, state) => query.set("slices", String(state.slices)),
  vpath: (query, state) => query.set("path", state.vpath),
  at: (query, state) => state.at && query.set("at", state.at),
  patient: (query, state) => state.patient !== null && query.set("patient", String(state.patient)),
};

let viewKeys = null; // Map view id -> the state keys its address holds, in order

/** Take the views from the registry ([{id, urlKeys}], the first is the default); call before reading the state. */
export function defineViews(views) {
  for (const view of views) {
    const unknown = view.urlKeys.filter((key) => !(key in URL_WRITERS) || COMMON_URL_KEYS.includes(key));
    if (unknown.length) throw new Error(`view ${view.id}: urlKeys ${unknown.join(", ")} are unknown or always kept`);
  }
  // `ownKeysOnly`: a view whose address must not carry the common keys (the blinded study names no set)
  viewKeys = new Map(views.map((view) => [view.id, view.ownKeysOnly ? [...view.urlKeys] : [...COMMON_URL_KEYS, ...view.urlKeys]]));
  current = null; // parse the address again with the views known
}

/** The ids of the views, in the registry's order. */
export function viewIds() {
  if (viewKeys === null) throw new Error("defineViews() must run before the state is read");
  return [...viewKeys.keys()];
}

/** The state encoded in a location (query + hash), defaults where absent or invalid. */
export function parseLocation(location) {
  const query = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const view = query.get("view");
  const extent = Number(query.get("extent"));
  const samples = Number(query.get("n"));
  return {
    view: viewIds().includes(view) ? view : viewIds()[0],
    model: query.get("model") || "",
    set: query.get("set") || "",
    seed: parseIntInRange(query.get("seed"), 0, MAX_SEED) ?? DEFAULTS.seed,
    samples: SAMPLE_COUNTS.includes(samples) ? samples : DEFAULTS.samples,
    extent: extent > 0 && extent <= MAX_SHIFT ? extent : DEFAULTS.extent,
    window: parseWindow(query.get("window")) || DEFAULTS.window,
    focus: parseIntInRange(query.get("focus"), 0, 9999),
    shifts: parseShifts(query.getAll("shift")),
    dir: parseIntInRange(query.get("dir"), 0, 9999) ?? 0,
    set2: query.get("set2") || "",
    frame: FRAME_SIZES.includes(Number(query.get("frame"))) ? Number(query.get("frame")) : DEFAULTS.frame,
    latent: hash.get("latent") ? decodeLatent(hash.get("latent")) : null,
    nearest: query.get("nearest") === "1",
    vdir: parseIntInRange(query.get("vdir"), 0, 9999),
    slices: parseIntInRange(query.get("slices"), VOLUME_SLICES.min, VOLUME_SLICES.max) ?? VOLUME_SLICES.default,
    vpath: VOLUME_PATHS.includes(query.get("path")) ? query.get("path") : DEFAULTS.vpath,
    at: /^\d{1,4},\d{1,4},\d{1,4}$/.test(query.get("at") || "") ? query.get("at") : null,
    patient: parseIntInRange(query.get("patient"), 0, 999999),
  };
}

/** The address of a state: only what the view needs (its registry urlKeys), in a stable order. */
export function stateToUrl(state) {
  viewIds(); // the views must be known
  const keys = viewKeys.get(state.view) || COMMON_URL_KEYS;
  const query = new URLSearchParams();
  query.set("view", state.view);
  for (const key of keys) URL_WRITERS[key](query, state);
  const hash = keys.includes("latent") && state.latent ? `#latent=${encodeLatent(state.latent)}` : "";
  return `${window.location.pathname}?${query.toString()}${hash}`;
}

let current = null;
const listeners = new Set();

export function getState() {
  if (current === null) current = parseLocation(window.location);
  return current;
}

function changedKeys(before, after) {
  return new Set(Object.keys(after).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key])));
}

function notify(changed) {
  if (changed.size === 0) return;
  for (const listener of listeners) listener(current, changed);
}

/**
 * Change part of the state and write it to the address. `push: true` makes a history entry (view changes);
 * slider moves replace the entry so Back leaves the view rather than undoing every pixel of a drag.
 */
export function setState(patch, { push = false } = {}) {
  const before = getState();
  const after = { ...before, ...patch };
  if (patch.shifts) {
    after.shifts = Object.fromEntries(Object.entries(patch.shifts).filter(([, v]) => Number(v) !== 0));
  }
  const changed = changedKeys(before, after);
  current = after;
  if (push) writeUrl(true);
  else scheduleUrlWrite();
  notify(changed);
}

// A drag fires ~60 input events a second; browsers throttle history updates beyond a few hundred per 10 s, so the
// address is written at most every URL_WRITE_INTERVAL_MS (the state itself changes at once).
const URL_WRITE_INTERVAL_MS = 150;
let urlTimer = null;
let lastUrlWrite = 0;

function writeUrl(push = false) {
  window.clearTimeout(urlTimer);
  urlTimer = null;
  lastUrlWrite = performance.now();
  const url = stateToUrl(current);
  if (url === window.location.pathname + window.location.search + window.location.hash) return;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}

function scheduleUrlWrite() {
  if (urlTimer !== null) return;
  const wait = Math.max(0, URL_WRITE_INTERVAL_MS - (performance.now() - lastUrlWrite));
  if (wait === 0) writeUrl();
  else urlTimer = window.setTimeout(() => writeUrl(), wait);
}

/** Write any pending address change now (before the address is copied or the page left). */
export function flushUrl() {
  if (urlTimer !== null) writeUrl();
}

window.addEventListener("pagehide", flushUrl);

/** Listen to state changes: listener(state, changedKeys: Set). Returns an unsubscribe function. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

window.addEventListener("popstate", () => {
  window.clearTimeout(urlTimer);
  urlTimer = null;
  const before = getState();
  current = parseLocation(window.location);
  notify(changedKeys(before, current));
});

/** A fresh random seed in the contract's range. */
export function randomSeed() {
  const buffer = new Uint32Array(1);
  window.crypto.getRandomValues(buffer);
  return buffer[0] % (MAX_SEED + 1);
}

// ---- the annotator session: sessionStorage only (closed tab = signed out), never the address ------------------

const TOKEN_KEY = "latentct.annotatorToken";

export const session = {
  token() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  },
  setToken(token) {
    window.sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    window.sessionStorage.removeItem(TOKEN_KEY);
  },
};
