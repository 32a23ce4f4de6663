// The math of the playground and of the widgets, with no page in sight: the steps of
// attention_ref (attention_scores, softmax, softmax_naive, normalize_sum, causal_mask,
// scaled_dot_product_attention) on arrays of numbers, in float64, step for step as the
// package computes them. The site test runs every case of the test vectors
// (assets/attention-ref-vectors.json) through `attention` in Chromium.

/** The largest x whose e^x a float64 holds: about 709.78. Beyond it exp gives Infinity. */
export const EXP_LIMIT = Math.log(Number.MAX_VALUE);

/** The dot product of two vectors of the same length. */
export function dot(a, b) {
  let total = 0;
  for (let m = 0; m < a.length; m++) total += a[m] * b[m];
  return total;
}

/** (L, E) @ (E, M) with the second matrix given as its M columns' rows: rows @ columns.T */
function matmulTransposed(rows, columns) {
  return rows.map((row) => columns.map((column) => dot(row, column)));
}

function transpose(matrix) {
  return matrix[0].map((_, j) => matrix.map((row) => row[j]));
}

/** scale * query @ key.T: (L, S), row i holds the scores of query i against every key. */
export function attentionScores(query, key, scale = 1) {
  return matmulTransposed(query, key).map((row) => row.map((score) => score * scale));
}

/**
 * Softmax of one row, stably: subtract the largest score first, so that every exponent
 * is at most 0 and exp cannot overflow. A score of -Infinity (masked) gets exactly 0.
 */
export function softmax(row) {
  const top = Math.max(...row);
  if (top === -Infinity) {
    throw new RangeError("softmax needs at least one score that is not masked out (all are -inf)");
  }
  const exps = row.map((score) => Math.exp(score - top));
  const total = exps.reduce((sum, e) => sum + e, 0);
  return exps.map((e) => e / total);
}

/**
 * The textbook formula e^x / sum(e^x), computed as written: for teaching only. Once a
 * score passes EXP_LIMIT, e^x is Infinity and Infinity / Infinity is NaN; when every
 * e^x underflows to 0, 0 / 0 is NaN. `naiveFailure` says which happened.
 */
export function softmaxNaive(row) {
  const exps = row.map(Math.exp);
  const total = exps.reduce((sum, e) => sum + e, 0);
  return exps.map((e) => e / total);
}

/**
 * Why softmaxNaive fails on `row`, or null if it does not: { kind: "overflow", entries }
 * with the indices whose e^x is Infinity, or { kind: "underflow" } when every e^x is 0.
 */
export function naiveFailure(row) {
  const exps = row.map(Math.exp);
  const entries = exps.flatMap((e, j) => (e === Infinity ? [j] : []));
  if (entries.length) return { kind: "overflow", entries };
  const total = exps.reduce((sum, e) => sum + e, 0);
  if (total === 0 && row.some((score) => score !== -Infinity)) return { kind: "underflow" };
  return null;
}

/**
 * Each entry divided by the sum of the row (normalize_sum): the weights sum to 1 but can
 * be negative. Divides by the largest magnitude first, so that the sum cannot overflow.
 * Throws a RangeError when the row sums to 0: the division is undefined.
 */
export function normalizeSum(row) {
  const largest = Math.max(...row.map(Math.abs));
  const scaled = row.map((x) => (largest > 0 ? x / largest : 0));
  const total = scaled.reduce((sum, x) => sum + x, 0);
  if (total === 0) {
    throw new RangeError("the scores sum to 0: dividing by the sum is undefined");
  }
  return scaled.map((x) => x / total);
}

/** (L, S) booleans: query i may attend to keys 0..i (aligned at the top left, as PyTorch). */
export function causalMask(numQueries, numKeys = numQueries) {
  return Array.from({ length: numQueries }, (_, i) =>
    Array.from({ length: numKeys }, (_, j) => j <= i),
  );
}

/** The ways to turn a row of scores into weights, by the names the widgets use. */
export const NORMALIZERS = { softmax, naive: softmaxNaive, sum: normalizeSum };

/**
 * Attention of every query over the keys it may attend to.
 *
 * @param {object} args
 * @param {number[][]} args.query - (L, E)
 * @param {number[][]} args.key - (S, E)
 * @param {number[][]} args.value - (S, Ev)
 * @param {number} [args.scale] - multiplies the scores; default 1 / sqrt(E)
 * @param {boolean[][] | null} [args.mask] - (L, S), true where query i may attend to key j
 * @param {boolean} [args.causal] - also forbid keys after the query (j > i)
 * @param {"softmax" | "naive" | "sum"} [args.normalize] - stable softmax (default), the
 *   textbook formula, or division by the sum (masked scores then count as 0)
 * @returns {{scores: number[][], allowed: boolean[][], weights: number[][], context: number[][]}}
 *   scores before masking (L, S); weights (L, S), 0 where not allowed and in a row with
 *   no allowed key (as PyTorch's scaled_dot_product_attention); context = weights @ value.
 *   With "sum", a row that sums to 0 throws a RangeError naming its query.
 */
export function attention({
  query,
  key,
  value,
  scale,
  mask = null,
  causal = false,
  normalize = "softmax",
}) {
  const factor = scale ?? 1 / Math.sqrt(query[0].length);
  const scores = attentionScores(query, key, factor);
  const allowed = scores.map((row, i) =>
    row.map((_, j) => (!mask || mask[i][j]) && (!causal || j <= i)),
  );
  const weights = scores.map((row, i) => {
    if (!allowed[i].some(Boolean)) return row.map(() => 0); // nothing to attend to
    if (normalize === "sum") {
      try {
        return normalizeSum(row.map((score, j) => (allowed[i][j] ? score : 0)));
      } catch (error) {
        throw new RangeError(`query ${i}: ${error.message}`, { cause: { query: i } });
      }
    }
    const masked = row.map((score, j) => (allowed[i][j] ? score : -Infinity));
    return NORMALIZERS[normalize](masked);
  });
  const context = matmulTransposed(weights, transpose(value));
  return { scores, allowed, weights, context };
}
