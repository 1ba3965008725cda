// Entry point: loads what the server offers, builds the views of the registry (views.js) and their tabs, routes
// between them from the state in the address, and hands key presses to the visible view (never while typing).

import * as api from "./api.js";
import { Catalog } from "./catalog.js";
import { defineViews, getState, session, setState, subscribe } from "./state.js";
import { StripCache } from "./strip.js";
import { $, el, isTypingTarget, showError } from "./ui.js";
import { VIEWS } from "./views.js";

const app = {
  catalog: new Catalog(),
  strips: new StripCache(96),
  view: () => getState().view,
};

// ---- the annotator session (token in sessionStorage; who it is, asked once) -------------------------------------

let mePromise = null;

app.me = () => {
  const token = session.token();
  if (!token) return Promise.reject(new api.ApiError("Not signed in: open the Label view and sign in with your token", 401));
  if (!mePromise) {
    mePromise = api.getMe(token).catch((error) => {
      mePromise = null;
      if (error.status === 401) app.signOut();
      throw error;
    });
  }
  return mePromise;
};

app.sessionChanged = (me) => {
  mePromise = me ? Promise.resolve(me) : null;
  renderSession();
};

app.signOut = () => {
  session.clear();
  mePromise = null;
  renderSession();
  tellViews("onSignOut");
};

app.labelSaved = () => tellViews("onLabelsChanged");

function renderSession() {
  const box = $("session-status");
  if (!session.token()) {
    box.replaceChildren(el("span", { class: "muted" }, "Not signed in"));
    return;
  }
  const signOut = el("button", { type: "button", class: "btn btn-small", onclick: () => app.signOut() }, "Sign out");
  box.replaceChildren(el("span", { class: "muted" }, "Signed in"), signOut);
  app.me().then(
    (me) => {
      if (session.token()) box.replaceChildren(el("span", {}, `Signed in as ${me.name}${me.role === "admin" ? " (admin)" : ""}`), signOut);
    },
    (error) => showError(error, "Session"),
  );
}

// ---- views: built from the registry (views.js) ------------------------------------------------------------------

/** The view's template section, or a fresh empty one for a view that builds its own DOM. */
function sectionFor(view) {
  const existing = document.querySelector(`section.view[data-view="${view.id}"]`);
  if (existing) return existing;
  const section = el("section", { id: `view-${view.id}`, class: "view", dataset: { view: view.id }, "aria-label": view.title });
  section.hidden = true;
  $("main").append(section);
  return section;
}

function buildTab(view) {
  const tab = el("a", { class: "tab", href: `?view=${view.id}`, dataset: { view: view.id } }, view.title);
  tab.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // let "open in new tab" work
    event.preventDefault();
    setState({ view: view.id }, { push: true });
  });
  return tab;
}

defineViews(VIEWS);
const views = new Map(VIEWS.map((view) => [view.id, { ...view, section: sectionFor(view) }]));
for (const view of views.values()) view.instance = view.create(app, view.section);
document.querySelector("nav.tabs").replaceChildren(...VIEWS.map(buildTab));
let activeView = null;

/** Call an optional hook (onLabelsChanged, onSignOut, ...) on every view that has it. */
function tellViews(hook) {
  for (const view of views.values()) view.instance[hook]?.();
}

function activate(id) {
  if (activeView) views.get(activeView).instance.hide?.();
  for (const view of views.values()) view.section.hidden = view.id !== id;
  for (const tab of document.querySelectorAll("nav.tabs .tab")) {
    if (tab.dataset.view === id) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  document.title = `LatentCT · ${views.get(id).title}`;
  activeView = id;
}

function show(state, changed) {
  if (activeView !== state.view) activate(state.view);
  try {
    views.get(state.view).instance.sync(state, changed);
  } catch (error) {
    showError(error, views.get(state.view).title);
  }
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || isTypingTarget(event.target) || !activeView) return;
  if (views.get(activeView).instance.onKey?.(event)) event.preventDefault();
});

/** The address may name a model or set this server lacks (an old link): say so and show what exists. */
function validModelAndSet(state) {
  const models = app.catalog.models;
  const model = app.catalog.model(state.model) ? state.model : models[0].id;
  if (state.model && model !== state.model) {
    showError(new Error(`model "${state.model}" is not served here; showing "${model}" instead`), "Link");
  }
  const sets = app.catalog.setIds(model);
  const set = sets.includes(state.set) ? state.set : sets[0] || "";
  if (state.set && state.model === model && set !== state.set) {
    showError(new Error(`direction set "${state.set}" does not exist for ${model}; showing "${set}" instead`), "Link");
  }
  return { model, set };
}

async function start() {
  renderSession();
  subscribe(show);
  try {
    await app.catalog.loadModels();
  } catch (error) {
    showError(error);
    show(getState(), null);
    return;
  }
  if (!app.catalog.models.length) {
    showError(new Error("this server has no models; start it with --models-dir pointing to trained models"));
    return;
  }
  setState(validModelAndSet(getState()));
  if (activeView === null) show(getState(), null); // nothing changed, so no listener ran yet
  window.setTimeout(() => (document.body.dataset.ready = "true"), 0);
}

start();
