// The Study view: a blinded reader study. An annotator signs in (the session token of state.js), picks a study and
// labels its items one by one in their own order. An item is an opaque id: the page never learns which direction
// set (method) it comes from, and shows no consensus and no measured factor before the label is saved. Admins also
// see the results per method (table, figure, CSV). Images come through the study API with the bearer token, so they
// are fetched and shown from blob: URLs (allowed by the page's CSP).

import { ApiError, getMe, getVocabulary, newIdempotencyKey, request } from "./api.js";
import { session } from "./state.js";
import { WINDOW_NAMES, el, formatShift, showError } from "./ui.js";

const SEEDS_SHOWN = 3;
const STEPS = 9;
const EXTENT = 6;
const FRAME_MS = 220;
const SPECIFIC_HINT = "A specific term with confidence 4 or 5 counts as a clear meaning in the results.";

// ---- the study API (opaque ids only) ----------------------------------------------------------------------------

const studyApi = {
  list: (token) => request("/studies", { token, what: "Loading the studies" }),
  get: (token, id) => request(`/studies/${id}`, { token, what: `Loading study ${id}` }),
  traversal: (token, id, item, query, signal) =>
    request(`/studies/${id}/items/${item}/traversal.png`, { token, query, signal, as: "response", what: "Loading the item's traversal" }),
  label: (token, id, item, body, key) =>
    request(`/studies/${id}/items/${item}/label`, {
      method: "POST", token, json: body, headers: { "Idempotency-Key": key }, what: "Saving the label",
    }),
  results: (token, id, format) =>
    request(`/studies/${id}/results`, { token, query: { format }, as: format === "json" ? "json" : "blob", what: "Loading the results" }),
};

// ---- one animated traversal: a canvas stepping through the strip's frames, forth and back, with the shift shown ----

function frameOrder(count) {
  const forth = [...Array(count).keys()];
  return forth.concat(forth.slice(1, -1).reverse());
}

function createPlayer(seed) {
  const canvas = el("canvas", { class: "study-frame", width: 128, height: 128, "aria-label": `Traversal at seed ${seed}` });
  Object.assign(canvas.style, { imageRendering: "pixelated", width: "160px", height: "160px", background: "#000" });
  const readout = el("strong", { class: "study-shift" }, "shift ±0.00");
  const strip = el("img", { class: "study-strip", alt: `All frames at seed ${seed}, left to right` });
  Object.assign(strip.style, { imageRendering: "pixelated", height: "72px", maxWidth: "100%", display: "block" });
  const ticks = el("div", { class: "muted study-ticks" });
  const side = el("div", {}, el("div", {}, `seed ${seed} · `, readout), strip, ticks);
  Object.assign(side.style, { minWidth: "0", display: "flex", flexDirection: "column", gap: "6px" });
  const node = el("figure", { class: "study-player" }, canvas, side);
  Object.assign(node.style, { display: "flex", gap: "12px", alignItems: "flex-start", margin: "0 0 12px 0" });
  return { node, canvas, readout, strip, ticks, bitmap: null, values: [], url: null };
}

async function loadPlayer(player, response) {
  const blob = await response.blob();
  player.values = (response.headers.get("x-shift-values") || "").split(",").map(Number);
  player.bitmap = await createImageBitmap(blob);
  if (player.url) URL.revokeObjectURL(player.url);
  player.url = URL.createObjectURL(blob);
  player.strip.src = player.url;
  player.ticks.textContent = `frames, left to right: ${player.values.map(formatShift).join("  ")}`;
}

function drawFrame(player, index) {
  if (!player.bitmap || !player.values.length) return;
  const width = player.bitmap.width / player.values.length;
  const context = player.canvas.getContext("2d");
  player.canvas.width = width;
  player.canvas.height = player.bitmap.height;
  context.drawImage(player.bitmap, index * width, 0, width, player.bitmap.height, 0, 0, width, player.bitmap.height);
  player.readout.textContent = `shift ${formatShift(player.values[index])}`;
}

// ---- the label form: terms, sign, confidence, polarity, text -------------------------------------------------------

function termButtons(vocabulary, form) {
  const group = el("div", { class: "study-terms", role: "radiogroup", "aria-label": "What does this direction change?" });
  for (const term of vocabulary) {
    const button = el("button", { type: "button", class: "btn btn-small", "aria-pressed": "false", dataset: { term: term.id }, title: term.description || "" }, term.name);
    button.addEventListener("click", () => form.pickTerm(term));
    group.append(button);
  }
  return group;
}

function createForm(vocabulary, onSave) {
  const form = { term: null, sign: null, confidence: null };
  const sign = el("div", { class: "field-row study-sign" });
  const confidence = el("div", { class: "field-row study-confidence", role: "radiogroup", "aria-label": "Confidence, 1 unsure to 5 certain" });
  const polarity = el("input", { type: "text", maxlength: "200", "aria-label": "What a positive shift does", placeholder: "what a positive shift does" });
  const text = el("textarea", { rows: "2", maxlength: "2000", "aria-label": "Free text", placeholder: "free text (required for Other)" });
  const save = el("button", { type: "button", class: "btn btn-primary", disabled: true }, "Save and next");
  form.pickTerm = (term) => {
    form.term = term;
    form.sign = null;
    for (const b of form.terms.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.term === term.id));
    renderSign(sign, term, form);
    update();
  };
  for (let c = 1; c <= 5; c += 1) {
    const button = el("button", { type: "button", class: "btn btn-small", "aria-pressed": "false", dataset: { confidence: String(c) } }, String(c));
    button.addEventListener("click", () => {
      form.confidence = c;
      for (const b of confidence.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
      update();
    });
    confidence.append(button);
  }
  const update = () => { save.disabled = !(form.term && form.confidence); };
  form.terms = termButtons(vocabulary, form);
  save.addEventListener("click", () => onSave({
    term: form.term.id, sign: form.sign, confidence: form.confidence, polarity: polarity.value.trim(), text: text.value.trim(),
  }));
  form.reset = () => {
    Object.assign(form, { term: null, sign: null, confidence: null });
    for (const b of form.node.querySelectorAll("button[aria-pressed]")) b.setAttribute("aria-pressed", "false");
    sign.replaceChildren();
    polarity.value = "";
    text.value = "";
    update();
  };
  form.node = el("div", { class: "panel study-form" },
    el("h3", {}, "What does this direction change?"), form.terms, sign,
    el("div", { class: "field" }, "Confidence (1 unsure … 5 certain)", confidence),
    el("label", { class: "field" }, "Polarity", polarity), el("label", { class: "field" }, "Text", text),
    el("p", { class: "muted" }, SPECIFIC_HINT), save);
  form.save = save;
  return form;
}

function renderSign(container, term, form) {
  if (!term.positive) {
    container.replaceChildren();
    return;
  }
  const options = [[1, `a positive shift: ${term.positive}`], [-1, "the opposite"], [null, "not sure"]];
  const buttons = options.map(([value, words]) => {
    const button = el("button", { type: "button", class: "btn btn-small", "aria-pressed": String(value === null), dataset: { sign: String(value) } }, words);
    button.addEventListener("click", () => {
      form.sign = value;
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
    });
    return button;
  });
  container.replaceChildren(el("span", { class: "muted" }, "Sign:"), ...buttons);
}

// ---- admin: results per method ---------------------------------------------------------------------------------

const RESULT_COLUMNS = [
  ["set", "set"], ["method", "method"], ["directions", "directions"], ["labels", "labels"],
  ["specific_confident_share", "specific, conf ≥ 4"], ["fleiss_kappa", "Fleiss κ"], ["scorecard_match_share", "matches scorecard"],
];

function formatCell(key, value) {
  if (value === null || value === undefined) return "—";
  const fraction = key.endsWith("_share") || key === "fleiss_kappa"; // shares and kappa: always two decimals
  return fraction ? Number(value).toFixed(2) : String(value);
}

async function renderResults(container, token, studyId) {
  const results = await studyApi.results(token, studyId, "json");
  const head = el("tr", {}, ...RESULT_COLUMNS.map(([, title]) => el("th", { scope: "col" }, title)));
  const rows = results.methods.map((m) => el("tr", {}, ...RESULT_COLUMNS.map(([key]) => el("td", {}, formatCell(key, m[key])))));
  const figureUrl = URL.createObjectURL(await studyApi.results(token, studyId, "png"));
  const csvUrl = URL.createObjectURL(await studyApi.results(token, studyId, "csv"));
  container.replaceChildren(
    el("h3", {}, "Results per method (admin)"),
    el("table", { class: "study-results" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    el("p", {}, el("a", { href: figureUrl, target: "_blank", rel: "noopener", class: "study-figure-link" }, "Figure (PNG)"), " · ",
      el("a", { href: csvUrl, download: `study-${studyId}-results.csv` }, "CSV")),
    el("p", { class: "muted" }, results.intended_use),
  );
}

// ---- the view -----------------------------------------------------------------------------------------------------

function buildDom(section) {
  const dom = {
    signIn: el("form", { class: "panel study-signin" }),
    token: el("input", { type: "password", autocomplete: "off", "aria-label": "Annotator token", placeholder: "annotator token" }),
    picker: el("select", { "aria-label": "Study" }),
    progress: el("span", { class: "muted study-progress" }),
    windowSelect: el("select", { "aria-label": "Display window" },
      ...Object.entries(WINDOW_NAMES).map(([value, name]) => el("option", { value, selected: value === "mediastinum" }, name))),
    newSeeds: el("button", { type: "button", class: "btn btn-small" }, "Other seeds"),
    players: el("div", { class: "study-players" }),
    itemBox: el("div", { class: "study-item" }),
    results: el("div", { class: "study-results-box" }),
  };
  dom.signIn.append(el("label", { class: "field" }, "Sign in with your annotator token", dom.token),
    el("button", { type: "submit", class: "btn btn-primary" }, "Sign in"));
  dom.work = el("div", { class: "study-work" },
    el("div", { class: "field-row" }, el("label", { class: "field" }, "Study", dom.picker), dom.progress,
      el("label", { class: "field" }, "Window", dom.windowSelect), dom.newSeeds),
    dom.results, dom.itemBox); // admins read the results first; annotators never get any
  section.replaceChildren(
    el("h2", {}, "Reader study"),
    el("p", { class: "muted" }, "Blinded: the method behind each direction is hidden and nobody's labels are shown. Research only, not for clinical use."),
    dom.signIn, dom.work,
  );
  return dom;
}

class StudyView {
  constructor(app, section) {
    this.app = app;
    this.dom = buildDom(section);
    Object.assign(this, { studyId: null, item: null, me: null, vocabulary: null, form: null, seed: 0, window: "mediastinum", timer: null, abort: null });
    const { signIn, picker, windowSelect, newSeeds } = this.dom;
    signIn.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn().catch((error) => showError(error, "Study sign-in"));
    });
    picker.addEventListener("change", () => this.run(this.openStudy(Number(picker.value))));
    windowSelect.addEventListener("change", () => { this.window = windowSelect.value; this.run(this.showItem()); });
    newSeeds.addEventListener("click", () => { this.seed += SEEDS_SHOWN; this.run(this.showItem()); });
  }

  run(promise) {
    promise.catch((error) => {
      if (!(error instanceof ApiError && error.status === 401)) showError(error, "Study");
    });
  }

  async signIn() {
    const token = this.dom.token.value.trim();
    const me = await getMe(token);
    session.setToken(token);
    this.dom.token.value = "";
    this.app.sessionChanged(me);
    await this.enter();
  }

  async enter() {
    const signedIn = Boolean(session.token());
    this.dom.signIn.hidden = signedIn;
    this.dom.work.hidden = !signedIn;
    if (!signedIn) return;
    this.me = await this.app.me();
    this.vocabulary = this.vocabulary || (await getVocabulary());
    this.form = this.form || createForm(this.vocabulary, (fields) => this.run(this.saveLabel(fields)));
    const studies = await studyApi.list(session.token());
    this.dom.picker.replaceChildren(...studies.map((s) => el("option", { value: String(s.id) }, `${s.name} (${s.model})`)));
    if (!studies.length) {
      this.dom.itemBox.replaceChildren(el("p", { class: "empty" }, "No study yet: an admin creates one with `latentct study create`."));
      return;
    }
    const chosen = studies.some((s) => s.id === this.studyId) ? this.studyId : studies[0].id;
    this.dom.picker.value = String(chosen);
    await this.openStudy(chosen);
  }

  async openStudy(studyId) {
    this.studyId = studyId;
    const study = await studyApi.get(session.token(), studyId);
    this.dom.progress.textContent = `${study.labelled} of ${study.items} labelled`;
    this.item = study.next_item;
    this.dom.results.replaceChildren();
    if (this.me && this.me.role === "admin") {
      renderResults(this.dom.results, session.token(), studyId).catch((error) => showError(error, "Study results"));
    }
    await this.showItem();
  }

  async showItem() {
    this.stop();
    if (!this.item) {
      this.dom.itemBox.replaceChildren(el("p", { class: "study-done" }, "All items of this study are labelled. Thank you."));
      return;
    }
    this.form.reset();
    const list = Array.from({ length: SEEDS_SHOWN }, (_, i) => createPlayer(this.seed + i));
    this.dom.players.replaceChildren(...list.map((p) => p.node));
    const columns = el("div", { class: "study-columns" },
      el("div", {}, el("p", { class: "muted" }, `Item ${this.item}`), this.dom.players), this.form.node);
    Object.assign(columns.style, { display: "grid", gridTemplateColumns: "minmax(0, 1fr) minmax(280px, 420px)", gap: "16px" });
    this.dom.itemBox.replaceChildren(columns);
    this.abort = new AbortController();
    const { signal } = this.abort;
    await Promise.all(list.map(async (player, i) => {
      const query = { seed: this.seed + i, window: this.window, extent: EXTENT, steps: STEPS, scale: 1 };
      await loadPlayer(player, await studyApi.traversal(session.token(), this.studyId, this.item, query, signal));
    }));
    this.animate(list);
  }

  animate(list) {
    const order = frameOrder(STEPS);
    let step = 0;
    this.timer = window.setInterval(() => {
      for (const player of list) drawFrame(player, order[step % order.length]);
      step += 1;
    }, FRAME_MS);
  }

  stop() {
    window.clearInterval(this.timer);
    this.abort?.abort();
  }

  async saveLabel(fields) {
    const seeds = Array.from({ length: SEEDS_SHOWN }, (_, i) => this.seed + i);
    const body = { ...fields, context: { window: this.window, seeds, extent: EXTENT, steps: STEPS } };
    if (!this.form.term.positive) delete body.sign;
    this.form.save.disabled = true;
    try {
      const saved = await studyApi.label(session.token(), this.studyId, this.item, body, newIdempotencyKey());
      this.item = saved.next_item;
    } catch (error) {
      this.form.save.disabled = false;
      throw error;
    }
    await this.openStudy(this.studyId);
  }
}

export function createStudy(app, section) {
  const view = new StudyView(app, section);
  let entered = false; // entered once per visit: the study keeps its place while other state (model, set) changes
  return {
    sync() {
      if (entered) return;
      entered = true;
      view.run(view.enter());
    },
    hide() {
      entered = false;
      view.stop();
    },
    onSignOut() {
      entered = false;
      view.stop();
      view.dom.signIn.hidden = false;
      view.dom.work.hidden = true;
      view.dom.results.replaceChildren();
    },
  };
}
