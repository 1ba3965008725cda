// The view registry: the one list of the app's views (tabs). main.js builds the tab bar, the routing and the key
// handling from it and hands it to state.js. Adding a view = one entry here + its module (create(app, section)
// returns {sync(state, changed), onKey?, hide?, onLabelsChanged?, onSignOut?}); a view without a template section
// gets an empty <section> to build its own DOM in. The first entry is the default view.

import { createCompare } from "./compare.js";
import { createExplore } from "./explore.js";
import { createLabel } from "./label.js";
import { createReview } from "./review.js";
import { createStudy } from "./study.js";
import { createVolume } from "./volume.js";

/** urlKeys: the state keys a view keeps in its address beyond model, set, seed and window (see state.js). */
export const VIEWS = Object.freeze([
  { id: "explore", title: "Explore", urlKeys: ["samples", "extent", "focus", "shifts", "latent", "nearest"], create: createExplore },
  { id: "label", title: "Label", urlKeys: ["dir", "extent"], create: createLabel },
  { id: "review", title: "Review", urlKeys: ["extent", "frame"], create: createReview },
  { id: "compare", title: "Compare", urlKeys: ["set2", "extent", "frame"], create: createCompare },
  { id: "study", title: "Study", urlKeys: [], ownKeysOnly: true, create: createStudy },
  { id: "volume", title: "Volume", urlKeys: ["vdir", "slices", "vpath", "at", "patient", "latent"], create: createVolume },
]);
