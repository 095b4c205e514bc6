/**
 * The learning loop's classifier (SPEC 8): a random forest of CART trees from mljs'
 * `ml-random-forest` (pinned 2.1.0), wrapped so the rest of the code never touches the library.
 *
 * Why this library: pure JavaScript (no native build: installs and runs on Node 20/22, in Cloud
 * Functions and the embedded runtime alike), seedable (a fixed seed: the same rows train the same
 * model byte for byte, so a retraining is reproducible and testable), serializable to JSON (the
 * forest is stored in the model document and read back by every scan), and it exposes each tree, from
 * which the feature importances are computed. Why a random forest: on small, noisy tabular data (a few
 * hundred to a few thousand trades per strategy, a dozen features) bagged shallow trees are robust
 * and hard to overfit badly, need no feature scaling, and train in well under a second.
 *
 * Two things are done HERE, not by the library:
 * - the win probability is the share of trees voting WIN, counted from `predictionValues`: the
 *   library's `predictProbability` (2.1.0) seeds its `reduce` with the first tree's vote, so it is
 *   off by that vote (5 trees all voting 1 give 0.800001);
 * - importances are computed from the trees here (mean decrease in Gini impurity, as the library's
 *   `featureImportance`, which subtracts the children's gains from a node's (negative shares), divides
 *   by zero on a tree without a split, and needs the training width a loaded forest no longer has).
 * - features are binned into FEATURE_BINS quantile bins of the training rows (edges stored with the
 *   forest, applied identically at prediction) and the library's split search scores each distinct
 *   candidate once (`dedupeSplitCandidates`): ml-cart's search is O(n^2) per feature and node, 3,000
 *   raw rows took minutes; binned, seconds. (Histogram binning as in LightGBM / sklearn's HistGradientBoosting.)
 * Feature bagging is WITHOUT replacement (`replacement: false`): in this library `replacement`
 * applies to the per-tree feature subset (rows are always bootstrapped with replacement when
 * `useSampleBagging`), and with replacement a tree can get the same column twice and see fewer features.
 */
import { RandomForestClassifier } from 'ml-random-forest';
import type { MlConfig } from '../config/strategy.js';

/** The pinned library version (package.json); test/learning/forest.test.ts checks node_modules has it. */
export const FOREST_LIBRARY = 'ml-random-forest';
export const FOREST_LIBRARY_VERSION = '2.1.0';

/** Stored forests above this are refused: Firestore's document limit is 1 MiB, the model document has metadata too. */
export const MAX_FOREST_BYTES = 900_000;

export type ForestParams = MlConfig['model'];

interface TreeNode {
  splitColumn?: number;
  gain?: number;
  numberSamples?: number;
  left?: TreeNode;
  right?: TreeNode;
}

/** The slice of the library's classifier this module uses. */
interface RfClassifier {
  train(X: number[][], y: number[]): void;
  predictionValues(X: number[][]): { rows: number; getRow(i: number): number[] };
  toJSON(): { baseModel: { indexes: number[][]; estimators: Array<{ root: TreeNode }> }; name: string };
}

/** A trained (or loaded) forest. */
export interface Forest {
  readonly rf: RfClassifier;
  /** Feature count it was trained on (a prediction with another width is refused). */
  readonly width: number;
  /** Per feature, the ascending bin edges the trees read values through (see `binOf`). */
  readonly edges: readonly (readonly number[])[];
}

/** Bins per feature (quantiles of the training rows): the trees split on bin numbers. */
export const FEATURE_BINS = 32;

/**
 * Quantile bin edges of one training column: at most FEATURE_BINS - 1 distinct interior cut points.
 * A value's bin is the number of edges <= it, so training and prediction bin identically.
 */
function binEdges(values: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let k = 1; k < FEATURE_BINS; k++) {
    const v = sorted[Math.floor((k * sorted.length) / FEATURE_BINS)] as number;
    if (v > (sorted[0] as number) && (edges.length === 0 || v > (edges[edges.length - 1] as number))) edges.push(v);
  }
  return edges;
}

function binOf(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Rows as the trees read them (each value replaced by its bin number). */
export function binned(forest: Pick<Forest, 'edges'>, X: readonly (readonly number[])[]): number[][] {
  return X.map((r) => r.map((v, j) => binOf(forest.edges[j] as number[], v)));
}

interface CartNodeProto {
  featureSplit(x: number[], y: number[]): number[];
  __cstDeduped?: boolean;
}

/**
 * ml-cart scores a candidate split at every label change along the sorted column, each over all the
 * node's rows: O(n^2) per feature and node (3,000 rows took minutes). On binned columns most of those
 * candidates are the same value; scoring each distinct value once finds the same best split (equal
 * candidates have equal gain and the first one wins either way), so the trees are identical, only
 * built much faster. Patched once on the library's tree-node prototype (reached through a trained tree:
 * ml-cart does not export it).
 */
function dedupeSplitCandidates(rf: RfClassifier): void {
  const root = (rf as unknown as { estimators?: Array<{ root?: object }> }).estimators?.[0]?.root;
  if (!root) return;
  const proto = Object.getPrototypeOf(root) as CartNodeProto;
  if (proto.__cstDeduped || typeof proto.featureSplit !== 'function') return;
  const original = proto.featureSplit;
  const deduped = function featureSplit(this: unknown, x: number[], y: number[]): number[] {
    const all = original.call(this, x, y);
    const seen = new Set<number>();
    const out: number[] = [];
    for (const v of all) {
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    }
    return out;
  };
  proto.featureSplit = deduped;
  proto.__cstDeduped = true;
  splitPatch = { proto, original, deduped };
}
let splitPatch: { proto: CartNodeProto; original: CartNodeProto['featureSplit']; deduped: CartNodeProto['featureSplit'] } | null = null;

/**
 * Runs `fn` with the library's own split search (the patch above undone for its duration): the
 * equivalence test trains the same rows both ways and compares the forests.
 */
export function withLibrarySplitSearch<T>(fn: () => T): T {
  if (!splitPatch) return fn();
  const p = splitPatch;
  p.proto.featureSplit = p.original;
  try {
    return fn();
  } finally {
    p.proto.featureSplit = p.deduped;
  }
}
let patched = false;

/** The library options of config/ml `model` for `width` features. */
export function forestOptions(params: ForestParams, width: number) {
  return {
    nEstimators: params.trees,
    // An integer count (the library reads 1.0 as "one feature"), at least one.
    maxFeatures: Math.max(1, Math.min(width, Math.round(width * params.featureFraction))),
    replacement: false,
    useSampleBagging: true,
    noOOB: true,
    seed: params.seed,
    treeOptions: { maxDepth: params.maxDepth, minNumSamples: params.minLeafRows },
  };
}

/** Trains a forest on rows X (all of one width) and labels y (1 = WIN, 0 = not). */
export function trainForest(X: readonly (readonly number[])[], y: readonly number[], params: ForestParams): Forest {
  if (X.length === 0) throw new Error('trainForest: no rows');
  if (X.length !== y.length) throw new Error(`trainForest: ${X.length} rows but ${y.length} labels`);
  const width = (X[0] as readonly number[]).length;
  if (width === 0 || X.some((r) => r.length !== width)) throw new Error('trainForest: rows of different or zero width');
  if (!patched) {
    const probe = new RandomForestClassifier({ ...forestOptions(params, 1), nEstimators: 1 }) as unknown as RfClassifier;
    probe.train([[0], [1], [0], [1]], [0, 1, 0, 1]);
    dedupeSplitCandidates(probe);
    patched = true;
  }
  const edges = Array.from({ length: width }, (_, j) => binEdges(X.map((r) => r[j] as number)));
  const rf = new RandomForestClassifier(forestOptions(params, width)) as unknown as RfClassifier;
  rf.train(binned({ edges }, X), [...y]);
  return { rf, width, edges };
}

/** P(WIN) for one feature vector: the share of trees voting class 1. */
export function probabilityOfWin(forest: Forest, x: readonly number[]): number {
  return probabilitiesOfWin(forest, [x])[0] as number;
}

/** P(WIN) for each row. */
export function probabilitiesOfWin(forest: Forest, X: readonly (readonly number[])[]): number[] {
  for (const x of X) if (x.length !== forest.width) throw new Error(`forest expects ${forest.width} features, got ${x.length}`);
  if (X.length === 0) return [];
  const pv = forest.rf.predictionValues(binned(forest, X));
  const out: number[] = [];
  for (let i = 0; i < pv.rows; i++) {
    const votes = pv.getRow(i);
    let wins = 0;
    for (const v of votes) if (v === 1) wins++;
    out.push(wins / votes.length);
  }
  return out;
}

/**
 * Normalised importances (sum 1), descending (ties by name): the mean decrease in Gini impurity. Per
 * tree, each real split (a node with two children) adds its Gini gain x the rows it split to its
 * column; each tree's total is normalised to 1 (a tree without a split adds nothing), the trees are
 * averaged, mapped back to the original columns. No split anywhere: equal shares.
 */
export function featureImportances(forest: Forest, names: readonly string[]): Array<{ feature: string; importance: number }> {
  if (names.length !== forest.width) throw new Error(`featureImportances: ${names.length} names for ${forest.width} features`);
  const { indexes, estimators } = forest.rf.toJSON().baseModel;
  const total = new Array<number>(forest.width).fill(0);
  estimators.forEach((est, t) => {
    const cols = indexes[t] as number[];
    const imp = new Array<number>(cols.length).fill(0);
    const walk = (n: TreeNode | undefined): void => {
      if (!n || n.splitColumn === undefined || !n.left || !n.right) return;
      const f = Math.max(0, n.gain ?? 0) * (n.numberSamples ?? 0);
      imp[n.splitColumn] = (imp[n.splitColumn] as number) + f;
      walk(n.left);
      walk(n.right);
    };
    walk(est.root);
    const s = imp.reduce((a, b) => a + b, 0);
    if (!(s > 0)) return;
    imp.forEach((v, k) => {
      const col = cols[k] as number;
      total[col] = (total[col] as number) + v / s;
    });
  });
  const sum = total.reduce((a, b) => a + b, 0);
  const shares = sum > 0 ? total.map((v) => v / sum) : total.map(() => 1 / total.length);
  return names
    .map((feature, k) => ({ feature, importance: shares[k] as number }))
    .sort((a, b) => b.importance - a.importance || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
}

/** The forest as a JSON string (stored in the model document); refused above MAX_FOREST_BYTES. */
export function serializeForest(forest: Forest, maxBytes: number = MAX_FOREST_BYTES): string {
  const json = JSON.stringify({ width: forest.width, edges: forest.edges, model: forest.rf.toJSON() });
  const bytes = new TextEncoder().encode(json).length;
  if (bytes > maxBytes) {
    throw new Error(
      `serialized forest is ${bytes} bytes, above the ${maxBytes}-byte limit of a stored model (Firestore documents hold 1 MiB): ` +
        'lower config/ml model.trees or model.maxDepth, or raise model.minLeafRows',
    );
  }
  return json;
}

/** A forest from `serializeForest`'s string; throws with the reason on anything else. */
export function loadForest(json: string): Forest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('stored forest is not JSON');
  }
  const p = parsed as { width?: unknown; edges?: unknown; model?: { name?: unknown } };
  if (typeof p !== 'object' || p === null || typeof p.width !== 'number' || !Number.isInteger(p.width) || p.width < 1 || typeof p.model !== 'object' || p.model === null) {
    throw new Error('stored forest is not {width, edges, model}');
  }
  const edges = p.edges;
  if (!Array.isArray(edges) || edges.length !== p.width || !edges.every((e) => Array.isArray(e) && e.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new Error(`stored forest has no valid bin edges for its ${p.width} features`);
  }
  if (p.model.name !== 'RFClassifier') throw new Error(`stored forest is not a random-forest classifier (name ${String(p.model.name)})`);
  const rf = RandomForestClassifier.load(p.model as never) as unknown as RfClassifier;
  return { rf, width: p.width, edges: edges as number[][] };
}
