/**
 * Fast structural comparison of replicated JSON values: which fields differ, as dotted paths.
 *
 * Plain objects are descended into (`network_config.mtu`); anything else that differs — a scalar, an
 * array, a value whose kind changed, a key present on one side only — is reported at its own path,
 * with the array as a whole (`network_config.interfaces`, `disk_config`). The root itself is `$` when
 * the values are not both objects. Equality is canonical-JSON equality: key order does not matter,
 * `0` equals `-0`, a key whose value is `undefined` counts as absent. No canonicalisation, no
 * hashing, no allocation on equal sub-trees.
 *
 * Keys that themselves contain `.` make paths ambiguous; they are reported as they are.
 */

/** Path reported when two root values differ and are not both plain objects. */
export const ROOT_PATH = '$';

/** Differing paths and, for each, its depth (number of path segments; `$` and top-level fields are 1). */
export interface DiffSink {
  readonly paths: string[];
  readonly depths: number[];
}

export function newDiffSink(): DiffSink {
  return { paths: [], depths: [] };
}

const hasOwn = Object.hasOwn;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The own value of `o[k]`, or undefined. Replicated data are plain JSON objects, so `for…in` yields
 * only own keys and a lookup can only reach the prototype for a key the object lacks: then it finds
 * a function (`toString`…, never a JSON value) or, for `__proto__`, the prototype itself. Checking
 * for those two is much cheaper than `hasOwn` on every key, which halves the cost of a comparison.
 */
function own(o: Record<string, unknown>, k: string): unknown {
  if (k === '__proto__') return hasOwn(o, k) ? o[k] : undefined;
  const v = o[k];
  return typeof v === 'function' ? undefined : v;
}

/** Canonical-JSON equality of two JSON values, without encoding them. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const aArr = Array.isArray(a);
  if (aArr !== Array.isArray(b)) return false;
  if (aArr) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!jsonEqual(x[i], y[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    const v = x[k];
    if (v === undefined) continue;
    n++;
    const w = own(y, k);
    if (w === undefined || !jsonEqual(v, w)) return false;
  }
  let m = 0;
  for (const k in y) if (y[k] !== undefined) m++;
  return n === m;
}

/** Record into `out` every path at which `a` and `b` differ (see the module documentation). */
export function diffValues(a: unknown, b: unknown, out: DiffSink): void {
  if (isPlainObject(a) && isPlainObject(b)) diffObjects(a, b, '', 1, out);
  else if (!jsonEqual(a, b)) {
    out.paths.push(ROOT_PATH);
    out.depths.push(1);
  }
}

function diffObjects(a: Record<string, unknown>, b: Record<string, unknown>, prefix: string, depth: number, out: DiffSink): void {
  let shared = 0;
  for (const k in a) {
    const av = a[k];
    if (av === undefined) continue;
    const bv = own(b, k);
    if (bv === undefined) {
      out.paths.push(prefix + k);
      out.depths.push(depth);
      continue;
    }
    shared++;
    if (av === bv) continue;
    if (isPlainObject(av) && isPlainObject(bv)) {
      diffObjects(av, bv, prefix + k + '.', depth + 1, out);
    } else if (!jsonEqual(av, bv)) {
      out.paths.push(prefix + k);
      out.depths.push(depth);
    }
  }
  let inB = 0;
  for (const k in b) if (b[k] !== undefined) inB++;
  if (inB === shared) return;
  // Some keys of b are missing from a.
  for (const k in b) {
    if (b[k] !== undefined && own(a, k) === undefined) {
      out.paths.push(prefix + k);
      out.depths.push(depth);
    }
  }
}

/** The top-level keys of a value (own, defined), as differing paths of depth 1; `$` for a non-object. */
export function allTopLevel(value: unknown, out: DiffSink): void {
  if (!isPlainObject(value)) {
    out.paths.push(ROOT_PATH);
    out.depths.push(1);
    return;
  }
  for (const k in value) {
    if (value[k] !== undefined) {
      out.paths.push(k);
      out.depths.push(1);
    }
  }
}

/** The first segment of a dotted path (the top-level field it belongs to). */
export function topLevelOf(path: string): string {
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}
