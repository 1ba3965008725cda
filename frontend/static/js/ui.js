// Small DOM helpers shared by the views: element building, error and notice regions, selects, window buttons.

import { isAbort } from "./api.js";
import { WINDOW_PRESETS } from "./state.js";

export const $ = (id) => document.getElementById(id);

/** el("button", {class: "btn", onclick: fn, "aria-label": "..."}, "text", childNode, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value); // CSSOM: allowed by the CSP, a style attribute is not
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- errors and notices ---------------------------------------------------------------------------------------

const MAX_MESSAGES = 4;

/**
 * Show an error in words in the alert region (deduplicated, dismissable). Aborted requests were superseded on
 * purpose and are not errors. Also logged with console.warn, so a test that watches console errors is not fooled.
 */
export function showError(error, context = "") {
  if (isAbort(error)) return;
  const text = `${context ? `${context}: ` : ""}${error && error.message ? error.message : String(error)}`;
  const region = $("messages");
  if (!region) return;
  for (const existing of region.querySelectorAll(".message-text")) {
    if (existing.textContent === text) return;
  }
  const item = el(
    "div",
    { class: "message message-error" },
    el("span", { class: "message-text" }, text),
    el("button", { type: "button", class: "btn btn-small", "aria-label": "Dismiss this message", onclick: () => item.remove() }, "Dismiss"),
  );
  region.append(item);
  while (region.children.length > MAX_MESSAGES) region.firstElementChild.remove();
  console.warn("LatentCT:", text);
}

export function clearErrors() {
  const region = $("messages");
  if (region) region.replaceChildren();
}

let noticeTimer = null;

/** A short, polite confirmation ("Label saved") that fades after a few seconds. */
export function notify(text) {
  const region = $("notices");
  if (!region) return;
  region.replaceChildren(el("div", { class: "notice" }, text));
  window.clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => region.replaceChildren(), 4000);
}

export function clearNotice() {
  window.clearTimeout(noticeTimer);
  $("notices")?.replaceChildren();
}

// ---- form controls --------------------------------------------------------------------------------------------

/** Replace a select's options ([{value, label}]) keeping `value` selected when present. */
export function fillSelect(select, options, value) {
  const same =
    select.options.length === options.length &&
    options.every((option, i) => select.options[i].value === option.value && select.options[i].text === option.label);
  if (!same) select.replaceChildren(...options.map((o) => el("option", { value: o.value }, o.label)));
  if (value !== undefined && options.some((o) => o.value === value)) select.value = value;
}

export const WINDOW_NAMES = { lung: "Lung", mediastinum: "Mediastinum", bone: "Bone", full: "Full range" };
export const WINDOW_VALUES = { lung: [1500, -600], mediastinum: [350, 50], bone: [2000, 500] };

/** [W, L] in HU of a window string, for the custom inputs; `full` spans the model's hu_range. */
export function windowWidthLevel(windowValue, huRange) {
  if (WINDOW_VALUES[windowValue]) return WINDOW_VALUES[windowValue];
  if (windowValue === "full") {
    const [lo, hi] = huRange || [-1000, 2000];
    return [hi - lo, (hi + lo) / 2];
  }
  const [w, l] = windowValue.split(",").map(Number);
  return [w, l];
}

export function windowLabel(windowValue) {
  if (WINDOW_NAMES[windowValue]) return WINDOW_NAMES[windowValue];
  const [w, l] = windowValue.split(",");
  return `W ${w} / L ${l}`;
}

/** The four preset buttons (keys 1-4); `onPick(name)` is called with the preset's name. */
export function buildWindowButtons(container, onPick) {
  container.replaceChildren(
    ...WINDOW_PRESETS.map((name, i) =>
      el(
        "button",
        {
          type: "button",
          class: "btn btn-window",
          dataset: { window: name },
          "aria-pressed": "false",
          "aria-keyshortcuts": String(i + 1),
          title: `${WINDOW_NAMES[name]} window (key ${i + 1})`,
          onclick: () => onPick(name),
        },
        el("span", { class: "key", "aria-hidden": "true" }, String(i + 1)),
        WINDOW_NAMES[name],
        el("span", { class: "window-values" }, WINDOW_VALUES[name] ? `W ${WINDOW_VALUES[name][0]} · L ${WINDOW_VALUES[name][1]}` : "model range"),
      ),
    ),
  );
}

export function markWindowButtons(container, windowValue) {
  for (const button of container.querySelectorAll("[data-window]")) {
    button.setAttribute("aria-pressed", String(button.dataset.window === windowValue));
  }
}

/** True when a key press belongs to a text field (typing must never trigger shortcuts). */
export function isTypingTarget(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select") return true;
  if (tag !== "input") return false;
  return !["range", "checkbox", "radio", "button", "submit", "reset", "file"].includes(target.type);
}

export function formatShift(value) {
  const v = Number(value) || 0;
  return `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(2)}`;
}

/** Announce to tests and benchmarks that a canvas shows a new frame (source: "strip" | "image" | "render"). */
export function emitFrame(canvas, source) {
  canvas.dataset.frame = String(Number(canvas.dataset.frame || 0) + 1);
  canvas.dataset.source = source;
  document.dispatchEvent(new CustomEvent("latentct:frame", { detail: { canvas, source, t: performance.now() } }));
}

export function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  return Promise.reject(new Error("the clipboard is only available over https or on localhost; copy the address bar instead"));
}
