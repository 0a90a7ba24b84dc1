/**
 * Three-way (n-way) text merge against a common ancestor.
 *
 * Each side is diffed against the ancestor ({@link diffText}). A hunk `[start, end) → text` deletes the
 * ancestor's characters in `[start, end)` and inserts `text` in the gap before `start`. The merge keeps
 * an ancestor character unless some side deleted it, and emits in each gap the insertions of every
 * side, in the sides' order (the callers pass them in version order: (hlc, node id) ascending), an
 * insertion identical to one already emitted in the same gap only once (both sides made the same edit).
 *
 * So every side's insertions survive and every side's deletions apply, overlapping edits included; the
 * result depends on the set of sides and their order only, never on which side is "local".
 * Not associative for overlapping edits (merging A and B, then C, can order insertions in one gap
 * differently than merging all three at once): three-way merge knows no character identities. For
 * edits in separate regions it is.
 */
import { diffText } from './text-diff.js';

export interface TextMergeResult {
  readonly text: string;
  /** Hunks per side, in the sides' order. */
  readonly hunks: readonly number[];
  /** Regions of the ancestor edited by more than one side (resolved by the rule above). */
  readonly overlaps: number;
}

export function mergeText(ancestor: string, sides: readonly string[]): TextMergeResult {
  const len = ancestor.length;
  const deletes: Array<[number, number]> = [];
  const inserts = new Map<number, string[]>();
  const all: { start: number; end: number; side: number; insert: boolean }[] = [];
  const counts: number[] = [];
  sides.forEach((text, side) => {
    const hunks = text === ancestor ? [] : diffText(ancestor, text);
    counts.push(hunks.length);
    for (const h of hunks) {
      if (h.end > h.start) deletes.push([h.start, h.end]);
      if (h.text.length > 0) {
        const list = inserts.get(h.start);
        if (!list) inserts.set(h.start, [h.text]);
        else if (!list.includes(h.text)) list.push(h.text);
      }
      all.push({ start: h.start, end: h.end, side, insert: h.text.length > 0 });
    }
  });
  if (all.length === 0) return { text: ancestor, hunks: counts, overlaps: 0 };

  // The union of all deleted ranges, disjoint and sorted.
  deletes.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const dels: Array<[number, number]> = [];
  for (const d of deletes) {
    const last = dels[dels.length - 1];
    if (last && d[0] <= last[1]) last[1] = Math.max(last[1], d[1]);
    else dels.push([d[0], d[1]]);
  }
  let out = '';
  let pos = 0;
  let di = 0;
  /** Emit the ancestor's kept characters in [pos, g). */
  const keepUpTo = (g: number): void => {
    while (pos < g) {
      const d = dels[di];
      if (d && d[0] <= pos) {
        if (d[1] <= pos) {
          di++;
          continue;
        }
        pos = Math.min(d[1], g);
        if (pos === d[1]) di++;
      } else {
        const stop = d ? Math.min(g, d[0]) : g;
        out += ancestor.slice(pos, stop);
        pos = stop;
      }
    }
  };
  for (const gap of [...inserts.keys()].sort((x, y) => x - y)) {
    keepUpTo(gap);
    for (const t of inserts.get(gap)!) out += t;
  }
  keepUpTo(len);
  return { text: out, hunks: counts, overlaps: countOverlaps(all) };
}

/** Regions where hunks of different sides intersect or insert into the same gap. */
function countOverlaps(all: { start: number; end: number; side: number; insert: boolean }[]): number {
  all.sort((x, y) => x.start - y.start || x.end - y.end || x.side - y.side);
  let overlaps = 0;
  let i = 0;
  while (i < all.length) {
    const first = all[i]!;
    let end = first.end;
    const sidesIn = new Set([first.side]);
    let j = i + 1;
    while (j < all.length) {
      const h = all[j]!;
      const touches = h.start < end || (h.start === first.start && h.insert && first.insert);
      if (!touches) break;
      sidesIn.add(h.side);
      if (h.end > end) end = h.end;
      j++;
    }
    if (sidesIn.size > 1) overlaps++;
    i = j;
  }
  return overlaps;
}
