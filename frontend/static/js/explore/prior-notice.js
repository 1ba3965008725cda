// The notice that the combined shift has put the latent far outside the prior: ‖Σ shiftₖ·dₖ‖ (exact with the set's
// vectors, else the norm of the shift values: exact for orthonormal sets) beyond PRIOR_SD_LIMIT prior standard
// deviations. Non-blocking, in a line whose space is always reserved (the page never jumps when it appears).

export const PRIOR_SD_LIMIT = 3;

/** The length of the combined shift vector; `vectors` are the set's unit directions (or null). */
export function shiftNorm(shifts, vectors) {
  const entries = Object.entries(shifts).filter(([, v]) => Number(v) !== 0);
  if (!vectors) return Math.sqrt(entries.reduce((sum, [, v]) => sum + v * v, 0));
  const total = new Float64Array(vectors[0]?.length || 0);
  for (const [k, v] of entries) (vectors[Number(k)] || []).forEach((x, i) => { total[i] += v * x; });
  return Math.sqrt(total.reduce((sum, x) => sum + x * x, 0));
}

/** The notice's words for a norm, or "" within the bound. */
export function priorNoticeText(norm) {
  if (!(norm > PRIOR_SD_LIMIT)) return "";
  return `Far outside the prior: this shift is ${norm.toFixed(1)} sd long (beyond ${PRIOR_SD_LIMIT} sd lie under 0.3 % of `
    + "the latents the model learnt from). The images are extrapolations; far out, every seed tends to the same image.";
}

/** `line` (a reserved <p>) shows the notice for the state; `vectors()` gives the set's vectors or null. */
export function createPriorNotice(line, vectors) {
  let shown = "";
  return {
    sync(state) {
      const text = priorNoticeText(shiftNorm(state.shifts, vectors()));
      if (text === shown) return;
      shown = text;
      line.textContent = text;
      line.title = text; // the whole text where a narrow page clips the reserved lines
      line.classList.toggle("is-far", Boolean(text));
      line.dataset.norm = text ? shiftNorm(state.shifts, vectors()).toFixed(2) : "";
    },
  };
}
