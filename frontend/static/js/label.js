// The Label view: sign-in with an annotator token (kept in sessionStorage), then a walk through the directions of a
// set one by one: the direction animated on several seeds, vocabulary buttons with number-key shortcuts, free text,
// confidence and polarity; arrow keys move between directions; blinded to others' labels unless asked.

import * as api from "./api.js";
import { Catalog } from "./catalog.js";
import { getState, MAX_SEED, session, setState } from "./state.js";
import { Animator, drawStripFrame } from "./strip.js";
import { $, el, fillSelect, notify, showError } from "./ui.js";

const LABEL_SEEDS = 4;
const LABEL_STEPS = 17;
const TERM_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "q", "w", "e", "r", "t", "y", "u", "i", "o", "p"];

export function createLabel(app) {
  const els = {
    signin: $("signin"),
    token: $("signin-token"),
    main: $("label-main"),
    model: $("label-model"),
    set: $("label-set"),
    prev: $("label-prev"),
    next: $("label-next"),
    position: $("label-position"),
    progress: $("label-progress"),
    unblind: $("label-unblind"),
    caption: $("label-caption"),
    play: $("label-play"),
    grid: $("label-grid"),
    others: $("label-others"),
    form: $("label-form"),
    terms: $("label-terms"),
    text: $("label-text"),
    confidence: $("label-confidence"),
    polarity: $("label-polarity"),
    save: $("label-save"),
    own: $("label-own"),
  };
  let terms = [];
  let setInfo = null;
  let contextKey = ""; // model/set whose info and labels are loaded
  let loadingKey = "";
  let myLabels = new Map(); // direction index -> my current label
  let formKey = ""; // model/set/dir the form was filled for (typing is never clobbered by a re-render)
  let selectedTerm = null;
  let gridKey = "";
  let cells = [];
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let playing = !reducedMotion;
  const animator = new Animator(8);

  // ---- sign-in ----------------------------------------------------------------------------------------------

  els.signin.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = els.token.value.trim();
    if (!token) {
      showError(new Error("paste the annotator token you were given"), "Sign in");
      return;
    }
    let me;
    try {
      me = await api.getMe(token);
    } catch (error) {
      showError(error, "Sign in");
      return;
    }
    els.token.value = "";
    session.setToken(token);
    contextKey = "";
    app.sessionChanged(me); // the header now says who is signed in
    sync(getState());
    els.terms.querySelector("button")?.focus();
  });

  // ---- controls ----------------------------------------------------------------------------------------------

  els.model.addEventListener("change", () => {
    const model = els.model.value;
    setState({ model, set: app.catalog.setIds(model)[0] || "", dir: 0, shifts: {}, focus: null, latent: null });
  });
  els.set.addEventListener("change", () => setState({ set: els.set.value, dir: 0, shifts: {}, focus: null }));
  els.prev.addEventListener("click", () => move(-1));
  els.next.addEventListener("click", () => move(1));
  els.unblind.addEventListener("change", () => renderOthers(getState()));
  els.play.addEventListener("click", () => {
    playing = !playing;
    syncPlay();
  });
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  els.form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
    }
  });
  els.confidence.replaceChildren(
    ...[1, 2, 3, 4, 5].map((value) =>
      el("label", { class: "confidence-option" },
        el("input", { type: "radio", name: "label-confidence", value: String(value), checked: value === 3 }),
        el("span", {}, String(value))),
    ),
    el("span", { class: "hint" }, "1 unsure … 5 certain"),
  );

  function move(delta) {
    if (!setInfo) return;
    const state = getState();
    const dir = Math.max(0, Math.min(setInfo.count - 1, state.dir + delta));
    if (dir !== state.dir) setState({ dir });
  }

  // ---- loading ------------------------------------------------------------------------------------------------

  async function loadContext(state) {
    const key = `${state.model}/${state.set}`;
    if (loadingKey === key) return;
    loadingKey = key;
    try {
      const me = await app.me();
      const [info, vocabulary, labels] = await Promise.all([
        app.catalog.directionSet(state.model, state.set),
        app.catalog.vocabulary(),
        // my own current labels only, also for admins (who may read everyone's)
        api.listLabels(session.token(), { model: state.model, set: state.set, annotator: me.id, current: true }),
      ]);
      const now = getState();
      if (`${now.model}/${now.set}` !== key) return;
      setInfo = info;
      if (terms !== vocabulary) {
        terms = vocabulary;
        buildTerms();
      }
      myLabels = new Map();
      for (const label of labels) {
        if (label.current !== false && label.annotator_id === me.id) myLabels.set(label.direction, label);
      }
      contextKey = key;
      formKey = "";
      if (now.dir >= info.count) setState({ dir: Math.max(0, info.count - 1) });
      else if (app.view() === "label") sync(now);
    } catch (error) {
      if (error.status === 401) app.signOut();
      showError(error);
    } finally {
      loadingKey = "";
    }
  }

  // ---- rendering ----------------------------------------------------------------------------------------------

  function buildTerms() {
    els.terms.replaceChildren(
      ...terms.map((term, i) => {
        const key = TERM_KEYS[i];
        return el(
          "button",
          {
            type: "button", class: "term", role: "radio", "aria-checked": "false", title: term.description || term.name,
            dataset: { term: term.id }, "aria-keyshortcuts": key || undefined,
            onclick: () => selectTerm(term.id),
          },
          key ? el("span", { class: "key", "aria-hidden": "true" }, key.toUpperCase()) : null,
          el("span", { class: "term-name" }, term.name),
        );
      }),
    );
  }

  function selectTerm(termId) {
    selectedTerm = termId;
    for (const button of els.terms.querySelectorAll(".term")) {
      button.setAttribute("aria-checked", String(button.dataset.term === termId));
    }
    const term = terms.find((t) => t.id === termId);
    els.text.required = Boolean(term && term.requires_text);
    els.text.placeholder = term && term.requires_text ? "Required for this term: say what changes" : "What you see, in your words";
  }

  function fillForm(label) {
    selectTerm(label ? label.term : null);
    els.text.value = label ? label.text : "";
    els.polarity.value = label ? label.polarity : "";
    const confidence = String(label ? label.confidence : 3);
    for (const radio of els.confidence.querySelectorAll("input")) radio.checked = radio.value === confidence;
    els.own.textContent = label
      ? `Your current label: ${Catalog.termName(terms, label.term)} (confidence ${label.confidence}), saved ${new Date(label.created_at).toLocaleString()}. Saving again replaces it; the history is kept.`
      : "You have not labelled this direction yet.";
  }

  function renderOthers(state) {
    const direction = setInfo?.directions.find((d) => d.index === state.dir);
    if (!els.unblind.checked) {
      els.others.textContent = "Others' labels are hidden (blinded) so they cannot sway you.";
      return;
    }
    const c = direction?.consensus;
    els.others.textContent = c && c.term
      ? `Others so far: ${Catalog.termName(terms, c.term)} (${Math.round(c.share * 100)}% of ${c.n_labels} labels).`
      : "No labels from others on this direction yet.";
  }

  function buildGrid(state) {
    animator.stop();
    cells = Array.from({ length: LABEL_SEEDS }, (_, i) => {
      const seed = (state.seed + i) % (MAX_SEED + 1);
      const canvas = el("canvas", { class: "slice pixelated", width: 1, height: 1, role: "img", "aria-label": `Direction ${state.dir} on seed ${seed}, animated` });
      return { seed, canvas, figure: el("figure", { class: "cell" }, canvas, el("figcaption", {}, `Seed ${seed}`)) };
    });
    els.grid.style.setProperty("--cols", "2");
    els.grid.style.setProperty("--rows", "2");
    els.grid.replaceChildren(...cells.map((c) => c.figure));
    const model = app.catalog.model(state.model);
    if (model && model.image_size >= 128) cells.forEach((c) => c.canvas.classList.remove("pixelated"));
    const key = gridKey;
    Promise.all(
      cells.map((cell) => {
        const params = { seed: cell.seed, set: state.set, direction: state.dir, extent: state.extent, steps: LABEL_STEPS, window: state.window };
        const stripKey = ["label", state.model, state.set, cell.seed, state.dir, state.extent, LABEL_STEPS, state.window].join("|");
        return app.strips.load(stripKey, state.model, params).then((strip) => {
          if (gridKey === key) drawStripFrame(cell.canvas, strip, Math.floor(strip.count / 2));
          return strip;
        });
      }),
    ).then(
      (strips) => {
        if (gridKey !== key) return;
        animator.setItems(cells.map((c, i) => ({ canvas: c.canvas, strip: strips[i] })));
        els.grid.dataset.ready = "true";
        syncPlay();
      },
      (error) => showError(error, `Direction ${state.dir}`),
    );
  }

  function syncPlay() {
    els.play.setAttribute("aria-pressed", String(playing));
    els.play.textContent = playing ? "Pause" : "Play";
    if (playing) animator.start();
    else animator.stop();
  }

  function sync(state) {
    const signedIn = Boolean(session.token());
    els.signin.hidden = signedIn;
    els.main.hidden = !signedIn;
    if (!signedIn) {
      animator.stop();
      return;
    }
    const models = app.catalog.models || [];
    fillSelect(els.model, models.map((m) => ({ value: m.id, label: `${m.id} (${m.kind.toUpperCase()})` })), state.model);
    const model = app.catalog.model(state.model);
    fillSelect(els.set, (model?.direction_sets || []).map((s) => ({ value: s.id, label: Catalog.setLabel(s) })), state.set);
    if (!state.model || !state.set) return;
    if (contextKey !== `${state.model}/${state.set}`) {
      loadContext(state);
      return;
    }
    const count = setInfo.count;
    const position = setInfo.directions.findIndex((d) => d.index === state.dir);
    els.position.textContent = `Direction d${state.dir} · ${position + 1} of ${count}`;
    els.prev.disabled = state.dir <= 0;
    els.next.disabled = state.dir >= count - 1;
    els.progress.textContent = `${myLabels.size} of ${count} labelled`;
    els.progress.dataset.labelled = String(myLabels.size);
    els.caption.textContent = `d${state.dir} from −${state.extent} to +${state.extent}, forth and back, on ${LABEL_SEEDS} seeds`;
    const newFormKey = `${contextKey}/${state.dir}`;
    if (formKey !== newFormKey) {
      fillForm(myLabels.get(state.dir) || null);
      formKey = newFormKey;
    }
    renderOthers(state);
    const newGridKey = [state.model, state.set, state.dir, state.seed, state.window, state.extent].join("|");
    if (newGridKey !== gridKey) {
      gridKey = newGridKey;
      delete els.grid.dataset.ready;
      buildGrid(state);
    }
  }

  async function save() {
    const state = getState();
    if (!selectedTerm) {
      showError(new Error("choose a term first (buttons or number keys)"), "Label");
      return;
    }
    const term = terms.find((t) => t.id === selectedTerm);
    if (term && term.requires_text && !els.text.value.trim()) {
      showError(new Error(`"${term.name}" needs free text saying what changes`), "Label");
      els.text.focus();
      return;
    }
    const confidence = Number(els.confidence.querySelector("input:checked")?.value || 3);
    const body = {
      model: state.model, set: state.set, direction: state.dir, term: selectedTerm, text: els.text.value.trim(),
      confidence, polarity: els.polarity.value.trim(), blinded: !els.unblind.checked,
    };
    els.save.disabled = true;
    try {
      const label = await api.postLabel(session.token(), body);
      myLabels.set(state.dir, label);
      app.catalog.invalidateSet(state.model, state.set);
      app.labelSaved();
      app.catalog.directionSet(state.model, state.set).then((info) => {
        if (contextKey === `${state.model}/${state.set}`) setInfo = info; // others' consensus now counts this label
      }, (error) => showError(error));
      notify(`Saved: d${state.dir} is "${Catalog.termName(terms, selectedTerm)}"`);
      formKey = "";
      const next = setInfo.directions.find((d) => d.index > state.dir && !myLabels.has(d.index));
      if (next) setState({ dir: next.index });
      else sync(getState());
    } catch (error) {
      if (error.status === 401) app.signOut();
      showError(error, "Label");
    } finally {
      els.save.disabled = false;
    }
  }

  function onKey(event) {
    if (!session.token() || event.ctrlKey || event.metaKey || event.altKey) return false;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      // a focused radio or slider uses the arrows itself
      if (event.target && event.target.type === "radio") return false;
      move(event.key === "ArrowLeft" ? -1 : 1);
      return true;
    }
    const index = TERM_KEYS.indexOf(event.key.toLowerCase());
    if (index >= 0 && index < terms.length) {
      selectTerm(terms[index].id);
      return true;
    }
    return false;
  }

  function hide() {
    animator.stop();
  }

  function invalidate() {
    contextKey = "";
  }

  return { sync, onKey, hide, invalidate };
}
