// Compare's heatmap of cos(A_i, B_j) with its colour legend (a gradient bar with ticks −1 … 1 in the same colours),
// reachable by keyboard: the map is focusable, arrow keys move a highlighted cell, the cell's (a, b, cos) is
// announced in a live region, Enter (or a click) shows that pair.

import { el } from "../ui.js";

const BASE = [28, 32, 38];
const POSITIVE = [240, 170, 60];
const NEGATIVE = [70, 140, 240];
export const LEGEND_TICKS = [-1, -0.5, 0, 0.5, 1];

/** A diverging colour: blue for −1, near black for 0, amber for +1 (linear in RGB, readable on the dark page). */
export function cosColor(value) {
  const t = Math.max(-1, Math.min(1, value));
  const end = t >= 0 ? POSITIVE : NEGATIVE;
  return `rgb(${BASE.map((c, i) => Math.round(c + (end[i] - c) * Math.abs(t))).join(",")})`;
}

const signed = (v) => (v < 0 ? `−${Math.abs(v).toFixed(2)}` : v.toFixed(2));

/** The legend: a bar from cos −1 to +1 (RGB-linear, as cosColor) and its tick values. */
export function cosLegend() {
  const bar = el("div", { class: "cos-legend-bar", role: "img",
    "aria-label": "Colour scale: blue −1 (opposite), dark 0 (unrelated), amber +1 (same)" });
  bar.style.background = `linear-gradient(to right, ${cosColor(-1)}, ${cosColor(0)}, ${cosColor(1)})`;
  return el("div", { class: "cos-legend", dataset: { role: "legend" } },
    bar, ...LEGEND_TICKS.map((t) => el("span", { class: "cos-legend-tick" }, t === 0 ? "0" : signed(t))));
}

function cell(matrix, i, j, names, matched) {
  const v = matrix[i][j];
  const showNumbers = matrix.length <= 16 && matrix[0].length <= 16;
  return el("td", {
    style: { background: cosColor(v) }, title: `${names.a} d${i} · ${names.b} d${j}: cos ${v.toFixed(3)}`,
    "aria-label": `A${i} and B${j}: cosine ${v.toFixed(2)}`, dataset: { a: String(i), b: String(j) },
    class: [Math.abs(v) > 0.55 ? "strong" : "", matched.has(`${i},${j}`) ? "matched" : ""].filter(Boolean).join(" "),
  }, showNumbers ? v.toFixed(2) : "");
}

/** What the live region says of cell (a, b). */
export function describeCell(matrix, a, b, matched) {
  const v = matrix[a][b];
  const sign = v < 0 ? ", opposite sign" : "";
  return `A d${a}, B d${b}: cos ${signed(v)}${sign}${matched.has(`${a},${b}`) ? ", a matched pair" : ""}`;
}

/**
 * The heatmap panel. names: {a, b} set ids; pairs: the matching [{a, b}] (cells marked); onPick(a, b): show a pair.
 * Returns the panel element.
 */
export function renderHeatmap(matrix, names, pairs, onPick) {
  const matched = new Set(pairs.map((p) => `${p.a},${p.b}`));
  const head = el("tr", {}, el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, `${names.a} \\ ${names.b}`)),
    ...matrix[0].map((_, j) => el("th", { scope: "col" }, `B${j}`)));
  const rows = matrix.map((row, i) => el("tr", {}, el("th", { scope: "row" }, `A${i}`), ...row.map((_, j) => cell(matrix, i, j, names, matched))));
  const table = el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, rows));
  const live = el("p", { class: "visually-hidden", id: "compare-heatmap-live", "aria-live": "polite" });
  const wrap = el("div", {
    class: "heatmap-wrap", tabindex: "0", id: "compare-heatmap", role: "group",
    "aria-label": "Cosine heatmap: arrow keys move the highlighted cell, Enter shows that pair",
  }, table);
  const position = { a: 0, b: 0 };
  const highlight = (a, b) => {
    position.a = Math.max(0, Math.min(matrix.length - 1, a));
    position.b = Math.max(0, Math.min(matrix[0].length - 1, b));
    for (const td of table.querySelectorAll("td.active")) td.classList.remove("active");
    const td = table.querySelector(`td[data-a="${position.a}"][data-b="${position.b}"]`);
    td.classList.add("active");
    td.scrollIntoView({ block: "nearest", inline: "nearest" });
    wrap.dataset.active = `${position.a},${position.b}`;
    live.textContent = describeCell(matrix, position.a, position.b, matched);
  };
  wrap.addEventListener("focus", () => highlight(position.a, position.b));
  wrap.addEventListener("keydown", (event) => onHeatmapKey(event, position, highlight, onPick));
  table.addEventListener("click", (event) => {
    const td = event.target.closest("td[data-a]");
    if (!td) return;
    highlight(Number(td.dataset.a), Number(td.dataset.b));
    onPick(position.a, position.b);
  });
  return el("div", { class: "panel" },
    el("h2", { class: "panel-title" }, `Cosine similarity: A = ${names.a} (rows), B = ${names.b} (columns)`),
    cosLegend(), live, wrap,
    el("p", { class: "hint" }, "Amber: same direction, blue: opposite, dark: unrelated. Directions have no natural sign, so ",
      "|cos| near 1 is a match; outlined cells are the one-to-one matching. Focus the map: arrows move, Enter shows the pair."));
}

const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

function onHeatmapKey(event, position, highlight, onPick) {
  if (event.key in MOVES) {
    const [da, db] = MOVES[event.key];
    highlight(position.a + da, position.b + db);
  } else if (event.key === "Home") highlight(position.a, 0);
  else if (event.key === "End") highlight(position.a, Infinity);
  else if (event.key === "Enter" || event.key === " ") onPick(position.a, position.b);
  else return;
  event.preventDefault();
  event.stopPropagation();
}
