// Entry point: loads what the server offers, builds the four views, routes between them from the state in the
// address, and hands key presses to the visible view (never while the user types in a text field).

import * as api from "./api.js";
import { Catalog } from "./catalog.js";
import { createCompare } from "./compare.js";
import { createExplore } from "./explore.js";
import { createLabel } from "./label.js";
import { createReview } from "./review.js";
import { getState, session, setState, subscribe, VIEWS } from "./state.js";
import { StripCache } from "./strip.js";
import { $, el, isTypingTarget, showError } from "./ui.js";

const VIEW_TITLES = { explore: "Explore", label: "Label", review: "Review", compare: "Compare" };

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
  views.label.invalidate();
  renderSession();
  if (getState().view === "label") views.label.sync(getState());
};

app.labelSaved = () => {
  views.explore.invalidate();
  views.review.invalidate();
};

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

// ---- views ----------------------------------------------------------------------------------------------------

const views = {
  explore: createExplore(app),
  label: createLabel(app),
  review: createReview(app),
  compare: createCompare(app),
};
let activeView = null;

function show(state, changed) {
  if (activeView !== state.view) {
    if (activeView) views[activeView].hide();
    for (const section of document.querySelectorAll("section.view")) section.hidden = section.dataset.view !== state.view;
    for (const tab of document.querySelectorAll(".tab")) {
      if (tab.dataset.view === state.view) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    document.title = `LatentCT · ${VIEW_TITLES[state.view]}`;
    activeView = state.view;
  }
  try {
    views[state.view].sync(state, changed);
  } catch (error) {
    showError(error, VIEW_TITLES[state.view]);
  }
}

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // let "open in new tab" work
    event.preventDefault();
    if (VIEWS.includes(tab.dataset.view)) setState({ view: tab.dataset.view }, { push: true });
  });
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || isTypingTarget(event.target) || !activeView) return;
  if (views[activeView].onKey(event)) event.preventDefault();
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
