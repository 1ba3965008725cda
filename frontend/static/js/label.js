// The Label view, wired from its parts (label/): sign-in, a walk through the directions of a set one by one, each
// played forth and back on several seeds with a shift readout and a scrubber, under the annotator's own window,
// seeds and range; vocabulary buttons and the sign of the term's sense, words, confidence and polarity; everything
// by keyboard (label/keys.js). Blinded to others' labels unless asked; a label records what the annotator saw.

import { loadLabelContext } from "./label/data.js";
import { renderHead } from "./label/head.js";
import { keyAction } from "./label/keys.js";
import { createParts } from "./label/parts.js";
import { createSignIn } from "./label/signin.js";
import { renderOthers, save } from "./label/submit.js";
import { senseOf } from "./label/terms.js";
import { getState, session, setState } from "./state.js";
import { $, showError } from "./ui.js";

/** The view's context: app, elements, parts, the loaded set (`data`) and what the form and focus wait for. */
function createContext(app) {
  const els = { signin: $("signin"), main: $("label-main"), prev: $("label-prev"), next: $("label-next"), position: $("label-position"),
    progress: $("label-progress"), unblind: $("label-unblind"), caption: $("label-caption"), others: $("label-others"),
    formEl: $("label-form"), save: $("label-save") };
  return {
    app, els, ...createParts(app),
    data: { key: "", loading: "", info: null, mine: new Map() }, // the loaded model/set
    formKey: "", // model/set/dir the form was filled for (typing is never clobbered by a re-render)
    focusTerms: false, // put the focus on the terms once they are shown (after sign-in)
    sync: null, // set by createLabel
  };
}

function move(ctx, delta) {
  if (!ctx.data.info) return;
  const dir = Math.max(0, Math.min(ctx.data.info.count - 1, getState().dir + delta));
  if (dir !== getState().dir) setState({ dir });
}

async function loadContext(ctx, state) {
  const key = `${state.model}/${state.set}`;
  if (ctx.data.loading === key) return;
  ctx.data.loading = key;
  try {
    const loaded = await loadLabelContext(ctx.app, state);
    const now = getState();
    if (`${now.model}/${now.set}` !== key) return;
    if (ctx.terms.terms !== loaded.terms) ctx.terms.build(loaded.terms);
    Object.assign(ctx.data, { key, info: loaded.info, mine: loaded.mine });
    ctx.formKey = "";
    if (now.dir >= loaded.info.count) setState({ dir: Math.max(0, loaded.info.count - 1) });
    else if (ctx.app.view() === "label") ctx.sync(now);
  } catch (error) {
    if (error.status === 401) ctx.app.signOut();
    showError(error);
  } finally {
    ctx.data.loading = "";
  }
}

/** The form shows the annotator's current label of the direction (once per direction: typing is kept). */
function syncForm(ctx, state) {
  if (ctx.formKey === `${ctx.data.key}/${state.dir}`) return;
  const label = ctx.data.mine.get(state.dir) || null;
  ctx.terms.select(label ? label.term : null, label ? label.sign ?? null : null);
  ctx.form.fill(label, ctx.terms.terms);
  ctx.formKey = `${ctx.data.key}/${state.dir}`;
}

function sync(ctx, state) {
  const { els, data } = ctx;
  const signedIn = Boolean(session.token());
  els.signin.hidden = signedIn;
  els.main.hidden = !signedIn;
  if (!signedIn) return ctx.player.hide();
  ctx.picker.sync(state);
  ctx.controls.sync(state, ctx.app.catalog.model(state.model));
  if (!state.model || !state.set) return undefined;
  if (data.key !== `${state.model}/${state.set}`) return loadContext(ctx, state);
  renderHead(els, state, data);
  syncForm(ctx, state);
  renderOthers(ctx, state);
  ctx.player.show(state);
  ctx.exports.sync({ ...state, shifts: {}, latent: null }, state.dir); // Label shows the plain traversal
  if (ctx.focusTerms) {
    ctx.focusTerms = false;
    ctx.terms.focus();
  }
  return undefined;
}

/** A key press (label/keys.js says what it means); true when it was used. */
function onKey(ctx, event) {
  if (!session.token() || !ctx.data.info) return false;
  const action = keyAction(event);
  if (!action) return false;
  if (action.type === "term") return ctx.terms.selectByKey(action.index);
  if (action.type === "sign") {
    if (!senseOf(ctx.terms.current())) return false;
    ctx.terms.setSign(action.value);
  } else if (action.type === "confidence") ctx.form.setConfidence(action.value);
  else if (action.type === "move") move(ctx, action.delta);
  else if (action.type === "play") ctx.player.toggle();
  else if (action.type === "save") save(ctx);
  return true;
}

function wire(ctx) {
  const { els } = ctx;
  createSignIn(ctx.app, { form: els.signin, token: $("signin-token") }, () => {
    ctx.data.key = "";
    ctx.focusTerms = true;
    ctx.sync(getState());
  });
  els.prev.addEventListener("click", () => move(ctx, -1));
  els.next.addEventListener("click", () => move(ctx, 1));
  els.unblind.addEventListener("change", () => renderOthers(ctx, getState()));
  els.formEl.addEventListener("submit", (event) => {
    event.preventDefault();
    save(ctx);
  });
  els.formEl.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    save(ctx);
  });
}

export function createLabel(app) {
  const ctx = createContext(app);
  ctx.sync = (state) => sync(ctx, state);
  wire(ctx);
  /** Signed out: forget the loaded labels, and show the sign-in form if this view is open. */
  function onSignOut() {
    ctx.data.key = "";
    if (app.view() === "label") ctx.sync(getState());
  }
  return { sync: ctx.sync, onKey: (event) => onKey(ctx, event), hide: () => ctx.player.hide(), onSignOut };
}
