// Label's sign-in: the annotator token is checked (GET /annotators/me), then kept in this tab's sessionStorage only.

import * as api from "../api.js";
import { session } from "../state.js";
import { showError } from "../ui.js";

/** els: {form, token}; `onSignedIn(me)` runs once the token is accepted and stored. */
export function createSignIn(app, els, onSignedIn) {
  els.form.addEventListener("submit", async (event) => {
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
    app.sessionChanged(me); // the header now says who is signed in
    onSignedIn(me);
  });
}
