// One-to-one matching of two direction sets: the assignment of A's directions to B's that maximises the total |cos|
// (Hungarian / Kuhn–Munkres, O(n²·m), fine for K <= 100 x 100). Pure functions, no DOM: tested in the page by
// importing this module.

/** Cosine similarity of every row of `a` with every row of `b` ([K_a][K_b]); zero rows give 0. */
export function cosineMatrix(a, b) {
  const unit = (rows) =>
    rows.map((row) => {
      const norm = Math.hypot(...row);
      return norm > 0 ? row.map((v) => v / norm) : row.map(() => 0);
    });
  const ua = unit(a);
  const ub = unit(b);
  return ua.map((ra) => ub.map((rb) => ra.reduce((sum, v, i) => sum + v * rb[i], 0)));
}

/**
 * The minimum-cost assignment of every row to a distinct column of `cost` (n rows <= m columns), by the Hungarian
 * method with potentials. Returns rowToCol: for each row its column.
 */
export function minCostAssignment(cost) {
  const n = cost.length;
  const m = n ? cost[0].length : 0;
  if (n > m) throw new Error(`minCostAssignment needs rows <= columns, got ${n} x ${m}`);
  const u = new Array(n + 1).fill(0);
  const v = new Array(m + 1).fill(0);
  const owner = new Array(m + 1).fill(0); // owner[j]: the row (1-based) assigned to column j, 0 = none
  const way = new Array(m + 1).fill(0);
  for (let i = 1; i <= n; i += 1) {
    owner[0] = i;
    let j0 = 0;
    const minv = new Array(m + 1).fill(Infinity);
    const used = new Array(m + 1).fill(false);
    do {
      used[j0] = true;
      const i0 = owner[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j += 1) {
        if (used[j]) continue;
        const reduced = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (reduced < minv[j]) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j += 1) {
        if (used[j]) {
          u[owner[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (owner[j0] !== 0);
    do { // augment along the alternating path back to the free column
      const j1 = way[j0];
      owner[j0] = owner[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const rowToCol = new Array(n).fill(-1);
  for (let j = 1; j <= m; j += 1) if (owner[j] > 0) rowToCol[owner[j] - 1] = j - 1;
  return rowToCol;
}

const transpose = (matrix) => (matrix.length ? matrix[0].map((_, j) => matrix.map((row) => row[j])) : []);

/**
 * The one-to-one matching of A's directions (rows of the cosine matrix) to B's (columns) with the largest total
 * |cos| (directions have no natural sign). Returns {pairs: [{a, b, cos}] sorted by |cos|, largest first,
 * unmatchedA: [a], unmatchedB: [b], total: the sum of |cos| over the pairs}. Rectangular sets leave the larger
 * set's surplus unmatched.
 */
export function matchDirections(matrix) {
  const rows = matrix.length;
  const cols = rows ? matrix[0].length : 0;
  const flipped = rows > cols;
  const cost = (flipped ? transpose(matrix) : matrix).map((row) => row.map((value) => -Math.abs(value)));
  const assigned = rows && cols ? minCostAssignment(cost) : [];
  const pairs = assigned.map((col, row) => (flipped ? { a: col, b: row } : { a: row, b: col }))
    .map(({ a, b }) => ({ a, b, cos: matrix[a][b] }))
    .sort((x, y) => Math.abs(y.cos) - Math.abs(x.cos) || x.a - y.a);
  const matchedA = new Set(pairs.map((p) => p.a));
  const matchedB = new Set(pairs.map((p) => p.b));
  return {
    pairs,
    unmatchedA: [...Array(rows).keys()].filter((a) => !matchedA.has(a)),
    unmatchedB: [...Array(cols).keys()].filter((b) => !matchedB.has(b)),
    total: pairs.reduce((sum, p) => sum + Math.abs(p.cos), 0),
  };
}
