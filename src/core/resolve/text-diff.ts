/**
 * A deterministic text diff: common prefix/suffix trimming; then anchors — code points that occur
 * exactly once in each whole text, kept in order (the longest increasing chain, as in patience diff) —
 * so that an edit script cannot match unrelated regions across such a character (a shortest script
 * sometimes would: deleting a character and inserting it again elsewhere costs no more); then Myers'
 * O(ND) greedy algorithm on code points between the anchors. Where that would cost too much (many or
 * large edits), it diffs by lines (same anchoring), then by words inside changed blocks of lines, then
 * by code points inside changed words; a block still too costly becomes one hunk. The coarser levels
 * are less precise: with many edits, a side's hunk can reach further than its edit did. Every step depends on the two strings only, so every node gets the same hunks.
 *
 * Hunks never split a surrogate pair.
 */

/** Replace `from[start, end)` (UTF-16 offsets in the old text) by `text`. */
export interface TextHunk {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** Work budget (inner-loop steps) of one Myers run on code points before falling back to lines. */
export const CHAR_DIFF_BUDGET = 60_000;
/** Work budget of the line-level pass, and of each code-point pass inside a changed block of lines. */
export const LINE_DIFF_BUDGET = 200_000;
const BLOCK_DIFF_BUDGET = 50_000;
/** Blocks up to this size are diffed by code points directly. */
const BLOCK_CHARS = 256;

interface TokenHunk {
  aStart: number;
  aEnd: number;
  bStart: number;
  bEnd: number;
}

/** The hunks that turn `from` into `to`, sorted by position, disjoint and non-adjacent. */
export function diffText(from: string, to: string): TextHunk[] {
  if (from === to) return [];
  const minLen = Math.min(from.length, to.length);
  let p = commonPrefix(from, to, minLen);
  if (p > 0 && isHighSurrogate(from.charCodeAt(p - 1))) p--;
  let s = commonSuffix(from, to, minLen - p);
  if (s > 0 && isLowSurrogate(from.charCodeAt(from.length - s))) s--;
  const a = from.slice(p, from.length - s);
  const b = to.slice(p, to.length - s);
  if (a.length === 0 || b.length === 0) return [{ start: p, end: p + a.length, text: b }];
  const common = { text: from, prefix: p, suffix: s };
  return diffMiddle(a, b, common).map((h) => ({ start: h.start + p, end: h.end + p, text: h.text }));
}

/** The common prefix and suffix trimmed off `text`: their characters are never anchors. */
interface Context {
  readonly text: string;
  readonly prefix: number;
  readonly suffix: number;
}

function diffMiddle(a: string, b: string, common: Context): TextHunk[] {
  // Code points first (the finest, most faithful diff); when that runs out of budget (many or large
  // edits): by lines, then by words inside changed blocks of lines, then by code points inside changed
  // words — each level small enough for Myers' O(ND) to stay cheap, at some cost in precision.
  return charDiff(a, b, CHAR_DIFF_BUDGET, common) ?? coalesce(tieredDiff(a, b, 0));
}

function charDiff(a: string, b: string, budget: number, context?: Context): TextHunk[] | null {
  const ca = codePoints(a);
  const cb = codePoints(b);
  const hunks = anchoredMyers(ca.points, cb.points, budget, context);
  return hunks && toTextHunks(hunks, ca.offsets, cb.offsets, b);
}

const TIERS: ReadonlyArray<(s: string) => { tokens: string[]; offsets: number[] }> = [lines, words];

/** Diff by the tokens of `TIERS[tier]`, then recursively inside each changed block; never fails. */
function tieredDiff(a: string, b: string, tier: number): TextHunk[] {
  const whole = [{ start: 0, end: a.length, text: b }];
  if (a.length === 0 || b.length === 0) return whole;
  const split = TIERS[tier];
  if (!split || a.length + b.length <= BLOCK_CHARS) return charDiff(a, b, BLOCK_DIFF_BUDGET) ?? whole;
  const ta = split(a);
  const tb = split(b);
  if (ta.tokens.length <= 1 && tb.tokens.length <= 1) return tieredDiff(a, b, tier + 1);
  const ids = new Map<string, number>();
  const intern = (tokens: readonly string[]): Int32Array => {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      let id = ids.get(t);
      if (id === undefined) {
        id = ids.size;
        ids.set(t, id);
      }
      out[i] = id;
    }
    return out;
  };
  const hunks = anchoredMyers(intern(ta.tokens), intern(tb.tokens), LINE_DIFF_BUDGET);
  if (!hunks) return whole;
  const out: TextHunk[] = [];
  for (const h of hunks) {
    const aFrom = ta.offsets[h.aStart]!;
    const aTo = ta.offsets[h.aEnd]!;
    const inner = tieredDiff(a.slice(aFrom, aTo), b.slice(tb.offsets[h.bStart], tb.offsets[h.bEnd]), tier + 1);
    for (const t of inner) out.push({ start: t.start + aFrom, end: t.end + aFrom, text: t.text });
  }
  return out;
}

/** Merge hunks that touch (a line block ending where the next begins). */
function coalesce(hunks: TextHunk[]): TextHunk[] {
  const out: TextHunk[] = [];
  for (const h of hunks) {
    const last = out[out.length - 1];
    if (last && last.end === h.start) out[out.length - 1] = { start: last.start, end: h.end, text: last.text + h.text };
    else out.push(h);
  }
  return out;
}

function toTextHunks(hunks: readonly TokenHunk[], aOff: Int32Array, bOff: Int32Array, b: string): TextHunk[] {
  return hunks.map((h) => ({
    start: aOff[h.aStart]!,
    end: aOff[h.aEnd]!,
    text: b.slice(bOff[h.bStart], bOff[h.bEnd]),
  }));
}

/** Code points of `s` and, for each index i (and one past the end), the UTF-16 offset where it starts. */
function codePoints(s: string): { points: Int32Array; offsets: Int32Array } {
  const points = new Int32Array(s.length);
  const offsets = new Int32Array(s.length + 1);
  let n = 0;
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!;
    offsets[n] = i;
    points[n++] = c;
    i += c > 0xffff ? 2 : 1;
  }
  offsets[n] = s.length;
  return { points: points.subarray(0, n), offsets: offsets.subarray(0, n + 1) };
}

/** Lines of `s`, each with its `\n`, and the offset where each starts (plus the end). */
function lines(s: string): { tokens: string[]; offsets: number[] } {
  const out: string[] = [];
  const offsets: number[] = [];
  let start = 0;
  while (start < s.length) {
    const nl = s.indexOf('\n', start);
    const end = nl < 0 ? s.length : nl + 1;
    offsets.push(start);
    out.push(s.slice(start, end));
    start = end;
  }
  offsets.push(s.length);
  return { tokens: out, offsets };
}

/** 0: white space, 1: word character (ASCII letters, digits, `_`, anything non-ASCII), 2: other. */
function charClass(c: number): number {
  if (c === 32 || (c >= 9 && c <= 13)) return 0;
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128) return 1;
  return 2;
}

/** Runs of white space, of word characters and of other characters, with their offsets (plus the end). */
function words(s: string): { tokens: string[]; offsets: number[] } {
  const tokens: string[] = [];
  const offsets: number[] = [];
  let start = 0;
  while (start < s.length) {
    const cls = charClass(s.charCodeAt(start));
    let end = start + 1;
    while (end < s.length && charClass(s.charCodeAt(end)) === cls) end++;
    offsets.push(start);
    tokens.push(s.slice(start, end));
    start = end;
  }
  offsets.push(s.length);
  return { tokens, offsets };
}

/** Length of the common prefix (at most `max`): binary search on native substring comparisons. */
function commonPrefix(a: string, b: string, max: number): number {
  let lo = 0;
  let hi = max;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (a.slice(lo, mid) === b.slice(lo, mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Length of the common suffix (at most `max`). */
function commonSuffix(a: string, b: string, max: number): number {
  let lo = 0;
  let hi = max;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (a.slice(a.length - mid, a.length - lo) === b.slice(b.length - mid, b.length - lo)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

// Scratch tables for anchors (tokens below 2^16), reset after each use.
const ANCHOR_TOKENS = 0x10000;
const countA = new Int32Array(ANCHOR_TOKENS);
const countB = new Int32Array(ANCHOR_TOKENS);
const posA = new Int32Array(ANCHOR_TOKENS);
const posB = new Int32Array(ANCHOR_TOKENS);
// inContext[c] === stamp: code unit c occurs in the current context (a stamp per call, no reset).
const inContext = new Int32Array(ANCHOR_TOKENS);
let stamp = 0;

function markContext(ctx: Context): void {
  stamp = stamp === 0x7fffffff ? 1 : stamp + 1;
  if (stamp === 1) inContext.fill(0);
  const t = ctx.text;
  for (let i = 0; i < ctx.prefix; i++) inContext[t.charCodeAt(i)] = stamp;
  for (let i = t.length - ctx.suffix; i < t.length; i++) inContext[t.charCodeAt(i)] = stamp;
}

function occursIn(ctx: Context, c: number): boolean {
  const ch = String.fromCharCode(c);
  const first = ctx.text.indexOf(ch);
  if (first < 0) return false;
  return first < ctx.prefix || ctx.text.lastIndexOf(ch) >= ctx.text.length - ctx.suffix;
}

/**
 * Pairs (i, j) with a[i] === b[j] for tokens that occur exactly once in `a` and once in `b` (and never
 * in the context), the longest chain increasing in both i and j (ties resolved by position).
 */
function anchors(a: Int32Array, b: Int32Array, context: Context | undefined): Array<[number, number]> {
  const touched: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const c = a[i]!;
    if (c >= ANCHOR_TOKENS) continue;
    if (countA[c] === 0 && countB[c] === 0) touched.push(c);
    countA[c]!++;
    posA[c] = i;
  }
  for (let j = 0; j < b.length; j++) {
    const c = b[j]!;
    if (c >= ANCHOR_TOKENS) continue;
    if (countA[c] === 0 && countB[c] === 0) touched.push(c);
    countB[c]!++;
    posB[c] = j;
  }
  const pairs: Array<[number, number]> = [];
  for (const c of touched) {
    if (countA[c] === 1 && countB[c] === 1) pairs.push([posA[c]!, posB[c]!]);
    countA[c] = 0;
    countB[c] = 0;
  }
  if (pairs.length > 0 && context && context.prefix + context.suffix > 0) {
    // Few candidates: native searches; many: one pass marking the context's characters.
    const few = pairs.length <= 16;
    if (!few) markContext(context);
    let w = 0;
    for (const pr of pairs) {
      const c = a[pr[0]]!;
      if (few ? !occursIn(context, c) : inContext[c] !== stamp) pairs[w++] = pr;
    }
    pairs.length = w;
  }
  if (pairs.length <= 1) return pairs;
  pairs.sort((x, y) => x[0] - y[0]);
  // Longest increasing subsequence of the j's (patience sorting), with back-pointers.
  const tails: number[] = [];
  const prev = new Int32Array(pairs.length).fill(-1);
  for (let k = 0; k < pairs.length; k++) {
    const j = pairs[k]![1];
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]!]![1] < j) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1]!;
    tails[lo] = k;
  }
  const chain: Array<[number, number]> = [];
  for (let k = tails[tails.length - 1]!; k >= 0; k = prev[k]!) chain.push(pairs[k]!);
  return chain.reverse();
}

/** Myers between anchors; `null` when the total work exceeds `budget`. */
function anchoredMyers(a: Int32Array, b: Int32Array, budget: number, context?: Context): TokenHunk[] | null {
  const chain = anchors(a, b, context);
  const left = { work: budget };
  if (chain.length === 0) return myers(a, b, left);
  const out: TokenHunk[] = [];
  let pa = 0;
  let pb = 0;
  chain.push([a.length, b.length]);
  for (const [ia, ib] of chain) {
    const sub = myers(a.subarray(pa, ia), b.subarray(pb, ib), left);
    if (!sub) return null;
    for (const h of sub) out.push({ aStart: h.aStart + pa, aEnd: h.aEnd + pa, bStart: h.bStart + pb, bEnd: h.bEnd + pb });
    pa = ia + 1;
    pb = ib + 1;
  }
  return out;
}

// Reused scratch buffers for Myers (growing on demand): V, and the trace of V before each step d,
// stored flat (step d at offset d², 2d + 1 entries), so that a run allocates nothing per step.
let vBuf = new Int32Array(1024);
let traceBuf = new Int32Array(1 << 14);

/**
 * Myers' greedy shortest edit script on token arrays, as hunks in token indices; `null` when the work
 * (diagonal steps plus snake steps) exceeds what is `left`, which it decrements.
 */
function myers(a: Int32Array, b: Int32Array, left: { work: number }): TokenHunk[] | null {
  const n = a.length;
  const m = b.length;
  if (n === 0 && m === 0) return [];
  if (n === 0 || m === 0) {
    left.work -= n + m;
    return left.work < 0 ? null : [{ aStart: 0, aEnd: n, bStart: 0, bEnd: m }];
  }
  const max = n + m;
  const offset = max + 1;
  if (vBuf.length < 2 * max + 3) vBuf = new Int32Array(2 * (2 * max + 3));
  const v = vBuf;
  v[offset + 1] = 0;
  let work = left.work;
  for (let d = 0; d <= max; d++) {
    // V as it was before step d, for k in [-d, d].
    const base = d * d;
    if (traceBuf.length < base + 2 * d + 1) {
      const grown = new Int32Array(Math.max(2 * traceBuf.length, base + 2 * d + 1));
      grown.set(traceBuf);
      traceBuf = grown;
    }
    const trace = traceBuf;
    for (let k = -d; k <= d; k++) trace[base + k + d] = v[offset + k]!;
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      const x0 = x;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      work -= 1 + x - x0;
      v[offset + k] = x;
      if (x >= n && y >= m) {
        left.work = work;
        return backtrack(trace, n, m, d);
      }
    }
    if (work < 0) {
      left.work = work;
      return null;
    }
  }
  return null;
}

function backtrack(trace: Int32Array, n: number, m: number, dEnd: number): TokenHunk[] {
  // Edits from the end back to the start: kind 0 = delete a[x], 1 = insert b[y] at x; (x, y) before the move.
  const kinds: number[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    const at = d * d + d; // index of k = 0 in step d's snapshot
    const k = x - y;
    const down = k === -d || (k !== d && trace[at + k - 1]! < trace[at + k + 1]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = trace[at + prevK]!;
    const prevY = prevX - prevK;
    kinds.push(down ? 1 : 0);
    xs.push(prevX);
    ys.push(prevY);
    x = prevX;
    y = prevY;
  }
  const hunks: TokenHunk[] = [];
  for (let i = kinds.length - 1; i >= 0; i--) {
    const ex = xs[i]!;
    const ey = ys[i]!;
    const ins = kinds[i] === 1;
    const last = hunks[hunks.length - 1];
    if (last && last.aEnd === ex && last.bEnd === ey) {
      if (ins) last.bEnd++;
      else last.aEnd++;
    } else {
      hunks.push({ aStart: ex, aEnd: ins ? ex : ex + 1, bStart: ey, bEnd: ins ? ey + 1 : ey });
    }
  }
  return hunks;
}

/** Apply hunks (from {@link diffText} on `from`) to `from`. */
export function applyHunks(from: string, hunks: readonly TextHunk[]): string {
  let out = '';
  let at = 0;
  for (const h of hunks) {
    out += from.slice(at, h.start) + h.text;
    at = h.end;
  }
  return out + from.slice(at);
}
