/**
 * The OR-Set's element store, persistent by *rerooting* (Baker's trick; Conchon & Filliâtre, "A
 * Persistent Union-Find Data Structure", 2007).
 *
 * Why: OR-Set states are immutable values, yet a replica holding 10,000 elements must apply a delta of
 * a hundred changes in time proportional to the delta, not to the set (copying a 10,000-entry Map costs
 * about a millisecond here). So all versions derived from one another share one mutable element Map
 * and per-node dot indexes. Exactly one version of a family (the root) owns them; every other version
 * holds an undo log of the changes leading from its neighbour towards the root. Reading a version first
 * reroots the family onto it: the logs along the path are applied and inverted. Reading the newest
 * version, the usual case, costs nothing; reading an old one costs the number of changes between the
 * two. When that distance exceeds about twice the set's size (two replicas in one process that grew
 * apart from a common ancestor), the version is given a copy of its own instead, so alternating between
 * them never costs more than a copy, and after the first time costs nothing.
 *
 * Rules for callers (all inside or-set.ts): use `read()`'s result only until another version of the
 * same family is read or edited; an editor must be committed before any other version is read (it
 * checks this and fails loudly rather than corrupt a state).
 */
import type { Dot } from './dot.js';
import { DotIndex } from './dot-index.js';
import { InvalidCrdtStateError } from '../errors.js';

/** An element's live dots: the dot itself when there is one (the usual case), else a sorted array. */
export type ElementDots = Dot | readonly Dot[];

export function dotList(v: ElementDots): readonly Dot[] {
  return isDotArray(v) ? v : [v];
}

function isDotArray(v: ElementDots): v is readonly Dot[] {
  return Array.isArray(v);
}

export interface StoreData {
  /** element -> its live dots (one dot, or several sorted by dot after concurrent adds). */
  readonly elems: Map<string, ElementDots>;
  /** node -> counter -> element, for every live dot. */
  readonly dots: Map<string, DotIndex>;
}

interface Shared extends StoreData {
  /** The version whose content the Maps currently hold. */
  owner: StoreVersion;
  /** Set while an editor is open on the owner. */
  editing: boolean;
}

const ELEM = 0;
const DOT = 1;

export const NOT_LIVE = 0;
export const DROPPED = 1;
export const GONE = 2;
export type DropResult = typeof NOT_LIVE | typeof DROPPED | typeof GONE;
/** Undo log entries, 4 slots each: [ELEM, element, previous dots | undefined, unused] or [DOT, node, counter, previous element | undefined]. */
type Log = unknown[];

export class StoreVersion {
  /** Set iff this version is the root of its family. */
  private shared: Shared | undefined;
  /** Towards the root, with the log that turns `next`'s content into this version's. */
  private next: StoreVersion | undefined;
  private log: Log | undefined;

  private constructor(shared: Shared | undefined) {
    this.shared = shared;
  }

  /** A new family holding `data` (which the store now owns). */
  static of(data: StoreData): StoreVersion {
    const v = new StoreVersion(undefined);
    v.shared = { elems: data.elems, dots: data.dots, owner: v, editing: false };
    return v;
  }

  static empty(): StoreVersion {
    return StoreVersion.of({ elems: new Map(), dots: new Map() });
  }

  /** This version's content. Valid until another version of the family is read or edited. */
  read(): StoreData {
    return this.reroot();
  }

  /** Opens an editor whose changes become a new version; this version keeps its content. */
  edit(): StoreEditor {
    const shared = this.reroot();
    shared.editing = true;
    return new StoreEditor(this, shared);
  }

  /** @internal Called by the editor: `next` becomes the root, this version keeps `undo` to get back. */
  commitEdit(shared: Shared, undo: Log): StoreVersion {
    shared.editing = false;
    if (undo.length === 0) return this;
    const v = new StoreVersion(shared);
    shared.owner = v;
    this.shared = undefined;
    this.next = v;
    this.log = undo;
    return v;
  }

  private reroot(): Shared {
    if (this.shared) return this.shared;
    // Walk to the root, then move it back towards this version one step at a time (no recursion: a
    // long chain of versions must not overflow the stack).
    const path: StoreVersion[] = [this];
    let root = this.next!;
    while (root.shared === undefined) {
      path.push(root);
      root = root.next!;
    }
    const shared = root.shared;
    if (shared.editing) {
      throw new InvalidCrdtStateError('or_set store: a version was read while another was being edited (internal error)', {});
    }
    let distance = 0;
    for (const v of path) distance += v.log!.length >> 2;
    if (distance > SPLIT_FACTOR * shared.elems.size + SPLIT_MIN) return this.split(path, shared);
    let parent = root;
    for (let i = path.length - 1; i >= 0; i--) {
      const child = path[i]!;
      const inverse = applyLog(shared, child.log!);
      parent.shared = undefined;
      parent.next = child;
      parent.log = inverse;
      child.shared = shared;
      child.next = undefined;
      child.log = undefined;
      parent = child;
    }
    shared.owner = this;
    return shared;
  }

  /**
   * Gives this version a family of its own: a copy of the root's Maps with the path's logs applied.
   * Used when that is cheaper than rerooting (two replicas grown far apart from a common ancestor
   * would otherwise pay the whole distance at every switch). Versions that lead to this one follow it.
   */
  private split(path: StoreVersion[], root: Shared): Shared {
    const elems = new Map(root.elems);
    const dots = new Map<string, DotIndex>();
    for (const [node, index] of root.dots) dots.set(node, index.clone());
    const data: StoreData = { elems, dots };
    for (let i = path.length - 1; i >= 0; i--) applyLog(data, path[i]!.log!);
    const shared: Shared = { elems, dots, owner: this, editing: false };
    this.shared = shared;
    this.next = undefined;
    this.log = undefined;
    return shared;
  }
}

function insertSorted(list: readonly Dot[], d: Dot): readonly Dot[] {
  const out = [...list, d];
  for (let i = out.length - 1; i > 0; i--) {
    const p = out[i - 1]!;
    if (p.node < d.node || (p.node === d.node && p.counter < d.counter)) break;
    out[i] = p;
    out[i - 1] = d;
  }
  return out;
}

/** Reroot unless the path is longer than SPLIT_FACTOR × elements + SPLIT_MIN changes; then copy. */
const SPLIT_FACTOR = 2;
const SPLIT_MIN = 64;

/** Applies `log` (last entry first) and returns the log that undoes it. */
function applyLog(data: StoreData, log: Log): Log {
  const inverse: Log = new Array<unknown>(log.length);
  let o = 0;
  for (let i = log.length - 4; i >= 0; i -= 4) {
    if (log[i] === ELEM) {
      const element = log[i + 1] as string;
      const prev = log[i + 2] as ElementDots | undefined;
      inverse[o] = ELEM;
      inverse[o + 1] = element;
      inverse[o + 2] = data.elems.get(element);
      if (prev === undefined) data.elems.delete(element);
      else data.elems.set(element, prev);
    } else {
      const node = log[i + 1] as string;
      const counter = log[i + 2] as number;
      let index = data.dots.get(node);
      if (index === undefined) data.dots.set(node, (index = new DotIndex()));
      inverse[o] = DOT;
      inverse[o + 1] = node;
      inverse[o + 2] = counter;
      inverse[o + 3] = index.set(counter, log[i + 3] as string | undefined);
    }
    o += 4;
  }
  return inverse;
}

/** Mutates the family's Maps in place while recording how to undo each change for the base version. */
export class StoreEditor {
  private readonly base: StoreVersion;
  private readonly shared: Shared;
  private readonly undo: Log = [];
  private done = false;

  /** @internal */
  constructor(base: StoreVersion, shared: Shared) {
    this.base = base;
    this.shared = shared;
  }

  /** Runs `fn` with an editor on `base`; commits on return, reverts every change if `fn` throws. */
  static run(base: StoreVersion, fn: (editor: StoreEditor) => void): StoreVersion {
    const editor = base.edit();
    try {
      fn(editor);
    } catch (err) {
      editor.abort();
      throw err;
    }
    return editor.commit();
  }

  /**
   * Makes `dot` (not live already) a live dot of `element`, keeping the element's dots sorted; the
   * store keeps the dot object itself. Returns true if the element was absent before.
   */
  addDot(dot: Dot, element: string): boolean {
    const { elems, dots } = this.shared;
    let index = dots.get(dot.node);
    if (index === undefined) dots.set(dot.node, (index = new DotIndex()));
    const prevElement = index.set(dot.counter, element);
    const known = elems.get(element);
    elems.set(element, known === undefined ? dot : insertSorted(dotList(known), dot));
    this.undo.push(DOT, dot.node, dot.counter, prevElement, ELEM, element, known, undefined);
    return known === undefined;
  }

  /**
   * Drops the live dot `node:counter`: returns DROPPED, or GONE if its element has no dot left, or
   * NOT_LIVE (and changes nothing) if the dot is not live.
   */
  dropDot(node: string, counter: number): DropResult {
    const { elems, dots } = this.shared;
    const element = dots.get(node)?.set(counter, undefined);
    if (element === undefined) return NOT_LIVE;
    const known = elems.get(element)!;
    const gone = !isDotArray(known);
    if (gone) elems.delete(element);
    else {
      const rest = known.filter((x) => x.node !== node || x.counter !== counter);
      elems.set(element, rest.length === 1 ? rest[0]! : rest);
    }
    this.undo.push(DOT, node, counter, element, ELEM, element, known, undefined);
    return gone ? GONE : DROPPED;
  }

  /** The new version (or the base itself if nothing changed). The editor cannot be used afterwards. */
  commit(): StoreVersion {
    if (this.done || this.shared.owner !== this.base) {
      throw new InvalidCrdtStateError('or_set store: editor committed twice or after a reroot (internal error)', {});
    }
    this.done = true;
    return this.base.commitEdit(this.shared, this.undo);
  }

  /** Reverts every change (the base version is left exactly as it was). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    applyLog(this.shared, this.undo);
    this.shared.editing = false;
  }
}
