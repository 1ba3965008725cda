// Readable slider captions (pure): "d7 · In-plane rotation 67% of 3 · rotation (measured)". The index, the label
// consensus where this user may see it, and the factor the scorecard (or the set's evaluation) measured, under a
// short human name; the raw metrics go to a tooltip. Also the sort orders of the slider list.

// Short names of the phantom's factors (and the tiny probes' ones); others are shown with "_" as spaces.
const FACTOR_NAMES = {
  z_position: "slice level",
  rotation_deg: "rotation",
  breast_size: "breast size",
  fat_thickness: "fat thickness",
  body_width: "body width",
  y_offset: "vertical position",
  x_offset: "horizontal position",
  noise_hu: "noise",
  brightness: "brightness",
  contrast: "contrast",
};

// Metrics that name a measured factor: the automatic hint blinding hides from annotators (see set-info.js).
export const HINT_METRICS = ["best_factor", "best_factor_alignment", "best_factor_effect_sd", "best_factor_specificity",
  "tracks", "factor_alignment", "factor_effect_sd", "factor", "share", "effect_share"];

/** "rotation" for "rotation_deg"; unknown ids lose their unit suffix and underscores. */
export function factorName(id) {
  if (!id) return "";
  return FACTOR_NAMES[id] || String(id).replace(/_(deg|hu|mm)$/i, "").replace(/_/g, " ");
}

/**
 * The factor measured for `direction` ({factor, found}) or null: the scorecard's choice for a factor (found ones
 * first, then the largest effect), else the set's own evaluation (`tracks`: clean, `best_factor`: the largest change),
 * else the supervised set's `factor`.
 */
export function measuredFactor(direction, scorecardSet) {
  const perFactor = scorecardSet?.per_factor || {};
  const mine = Object.entries(perFactor)
    .filter(([, row]) => row && row.direction === direction.index)
    .sort(([, a], [, b]) => Number(Boolean(b.found)) - Number(Boolean(a.found)) || (b.effect_sd || 0) - (a.effect_sd || 0));
  if (mine.length) return { factor: mine[0][0], found: Boolean(mine[0][1].found) };
  const m = direction.metrics || {};
  if (m.tracks) return { factor: m.tracks, found: true };
  if (m.best_factor) return { factor: m.best_factor, found: false };
  if (typeof m.factor === "string") return { factor: m.factor, found: true };
  return null;
}

/** "rotation (measured)" for a factor that passed the scorecard's rule, "rotation? (measured, weak)" otherwise. */
export const measuredText = (measured) =>
  (measured ? `${factorName(measured.factor)}${measured.found ? " (measured)" : "? (measured, weak)"}` : "");

const termName = (terms, id) => (terms || []).find((t) => t.id === id)?.name || id;

/** "Term · 67% of 3" for a direction with a (visible) consensus, "tie: A / B · 50% of 2" on a tie, else "". */
export function consensusText(direction, terms) {
  const c = direction.consensus;
  if (!c) return "";
  const share = `${Math.round((c.share || 0) * 100)}% of ${c.n_labels}`;
  if (c.term) return `${termName(terms, c.term)} · ${share}`;
  const tied = Array.isArray(c.consensus_terms) ? c.consensus_terms : [];
  return tied.length ? `tie: ${tied.map((t) => termName(terms, t)).join(" / ")} · ${share}` : "";
}

const formatValue = (v) => {
  if (typeof v === "number") return String(Number(v.toPrecision(3)));
  if (v && typeof v === "object") return `{${Object.entries(v).map(([k, x]) => `${k} ${formatValue(x)}`).join(", ")}}`;
  return String(v);
};

/** Every raw metric as "name: value" lines, for the tooltip. */
export const metricsTooltip = (direction) => Object.entries(direction.metrics || {})
  .map(([name, v]) => `${name.replace(/_/g, " ")}: ${formatValue(v)}`)
  .join("\n");

/** The caption parts of a direction: {index, consensus, measured, about (the last two), text (all, " · ")}. */
export function captionOf(direction, terms) {
  const index = `d${direction.index}`;
  const consensus = consensusText(direction, terms);
  const measured = measuredText(direction.measured);
  const about = [consensus, measured].filter(Boolean).join(" · ");
  return { index, consensus, measured, about, text: about ? `${index} · ${about}` : index };
}

const byIndex = (a, b) => a.index - b.index;
const rankOf = (d) => (typeof d.metrics?.rank === "number" ? d.metrics.rank : d.index);
const lastIfEmpty = (a, b) => Number(!a) - Number(!b) || a.localeCompare(b);

/** `directions` (blinded already) in a sort order: "index" (rank), "label" (consensus term), "measured" (factor). */
export function sortDirections(directions, order, terms) {
  const compare = {
    index: (a, b) => rankOf(a) - rankOf(b) || byIndex(a, b),
    label: (a, b) => lastIfEmpty(consensusText(a, terms), consensusText(b, terms)) || byIndex(a, b),
    measured: (a, b) => lastIfEmpty(measuredText(a.measured), measuredText(b.measured)) || byIndex(a, b),
  }[order] || byIndex;
  return [...directions].sort(compare);
}
