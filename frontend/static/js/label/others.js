// "Others so far": what the other annotators said about this direction, from the consensus the server shows this
// annotator (blinded server-side: only for directions they labelled). A server that sends `others` has left the
// annotator's own label out already; otherwise it is taken out here. Categories are (term, sign); a tie names the
// tied categories (`tie`, else `consensus_terms`).

import { Catalog } from "../catalog.js";
import { oppositeSense, senseOf } from "./terms.js";

const HIDDEN = "Others' labels are hidden (blinded) so they cannot sway you.";
const NONE = "No labels from others on this direction yet (they show once you have labelled it).";

const joinNames = (list) => (list.length <= 2 ? list.join(" and ") : `${list.slice(0, -1).join(", ")} and ${list.at(-1)}`);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The leading (term, sign) categories of a consensus; [] when a tie does not name them. */
function leadingCategories(c) {
  if (Array.isArray(c.tie) && c.tie.length) return c.tie.map((t) => ({ term: t.term, sign: t.sign ?? null }));
  if (Array.isArray(c.consensus_terms) && c.consensus_terms.length > 1) return c.consensus_terms.map((term) => ({ term, sign: null }));
  return c.term ? [{ term: c.term, sign: c.sign ?? null }] : [];
}

/** "In-plane rotation (positive shift: clockwise as displayed)", or the bare name without a sign or sense. */
function categoryName(category, terms) {
  const name = Catalog.termName(terms, category.term);
  const sense = senseOf((terms || []).find((t) => t.id === category.term));
  if (!sense || !category.sign) return name;
  return `${name} (positive shift: ${category.sign > 0 ? sense : oppositeSense(sense)})`;
}

const isMine = (mine, category) =>
  Boolean(mine) && mine.term === category.term && (category.sign === null || mine.sign == null || mine.sign === category.sign);

/** Words for consensus `c` ({term, sign, share, n_labels, tie, consensus_terms}) with `mine` (or null) left out. */
function describe(c, mine, terms) {
  if (!c || !c.n_labels) return NONE;
  const others = c.n_labels - (mine ? 1 : 0);
  if (others <= 0) return NONE;
  const leading = leadingCategories(c);
  if (!leading.length) return `Others so far: a tie between terms the server does not name (${plural(others, "other label")}).`;
  const each = Math.round((c.share || 0) * c.n_labels);
  const counts = leading.map((category) => ({ category, n: each - (isMine(mine, category) ? 1 : 0) }));
  const best = Math.max(...counts.map((x) => x.n));
  if (best <= 0) return `Others so far: ${plural(others, "other label")}, no term on more than one.`;
  const top = counts.filter((x) => x.n === best).map((x) => categoryName(x.category, terms));
  if (top.length > 1) return `Others so far: a tie between ${joinNames(top)} (${best} each of ${plural(others, "other label")}).`;
  return `Others so far: ${top[0]} — ${best} of ${plural(others, "other label")}.`;
}

/** The words for a direction's `consensus` without the annotator's own label `mine`. */
export function othersText(consensus, mine, terms) {
  if (!consensus) return NONE;
  if ("others" in consensus) return describe(consensus.others, null, terms); // the server left mine out
  return describe(consensus, mine, terms);
}

/** The text for the "others" line: hidden unless `unblinded`. */
export function othersLine({ unblinded, consensus, mine, terms }) {
  return unblinded ? othersText(consensus, mine, terms) : HIDDEN;
}
