/**
 * Semantic merges of a VM's list-valued configuration: network interfaces and disks.
 *
 * Both are unions keyed by a name, and both choose between different entries of one key by value
 * only, never by which version they came from: a merged version cannot remember where each entry came
 * from, and a choice by value keeps the merge associative (merging A and B, then C, equals merging all
 * three at once). The lists come out sorted by their key.
 *
 * - `network_config.interfaces`: union by interface `name` (every interface of every version is kept).
 *   One name with different settings (mac, ip, ...) in different versions: the entry that is greatest in
 *   canonical-JSON order wins as a whole (mac and ip are never mixed from two versions), and the
 *   decision records it. Other keys of `network_config` are decided per key by last-write-wins
 *   (hlc, then value).
 * - `disk_config`: union by `path`; one path in several versions: the larger `size_gb` wins (ties: the
 *   greater entry in canonical-JSON order), as a whole entry.
 */
import { canonicalJson } from '../codec/canonical.js';
import {
  ABSENT,
  candidate,
  compareStrings,
  fieldOf,
  jsonEqual,
  pickLww,
  show,
  unanimous,
  type Candidate,
} from '../resolve/field-merge.js';
import type { DiskConfig, NetworkInterface } from './state.js';

export interface ListMerge<T> {
  readonly value: T;
  /** One line per key that had different entries, saying which was kept. */
  readonly conflicts: readonly string[];
}

/** One distinct entry of a key; its canonical encoding is computed only when the key has several. */
class Keyed<T> {
  private encoded: string | undefined;
  constructor(readonly item: T) {}
  get canonical(): string {
    return (this.encoded ??= canonicalJson(this.item));
  }
}

const NO_CONFLICTS: readonly string[] = Object.freeze([]);

function unionByKey<T>(
  lists: readonly (readonly T[])[],
  keyOf: (item: T) => string,
  better: (a: Keyed<T>, b: Keyed<T>) => number,
  what: string,
): ListMerge<T[]> {
  // The distinct entries of each key (equal as canonical JSON), in the order first seen. Lists are
  // short: keys are looked up by a scan until there are many.
  const keys: string[] = [];
  const groups: T[][] = [];
  let index: Map<string, number> | undefined;
  for (const list of lists) {
    for (const item of list) {
      const key = keyOf(item);
      let g = -1;
      if (index !== undefined) g = index.get(key) ?? -1;
      else {
        for (let i = 0; i < keys.length; i++) {
          if (keys[i] === key) {
            g = i;
            break;
          }
        }
      }
      if (g < 0) {
        if (index === undefined && keys.length === 16) index = new Map(keys.map((k, i) => [k, i]));
        index?.set(key, keys.length);
        keys.push(key);
        groups.push([item]);
      } else if (!includesEqual(groups[g]!, item)) {
        groups[g]!.push(item);
      }
    }
  }
  // By key, in code-unit order (the order of compareStrings).
  const order = keys.map((_, i) => i);
  if (order.length > 16) order.sort((x, y) => compareStrings(keys[x]!, keys[y]!));
  else {
    for (let i = 1; i < order.length; i++) {
      const x = order[i]!;
      let j = i - 1;
      while (j >= 0 && keys[order[j]!]! > keys[x]!) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
  }
  const out: T[] = new Array<T>(order.length);
  let conflicts: string[] | undefined;
  for (let k = 0; k < order.length; k++) {
    const key = keys[order[k]!]!;
    const items = groups[order[k]!]!;
    if (items.length === 1) {
      out[k] = items[0]!;
      continue;
    }
    const variants = items.map((item) => new Keyed(item));
    let best = variants[0]!;
    for (const v of variants) if (better(v, best) > 0) best = v;
    out[k] = best.item;
    const others = variants
      .filter((v) => v !== best)
      .map((v) => v.canonical)
      .sort(compareStrings);
    (conflicts ??= []).push(`${what} ${JSON.stringify(key)}: kept ${best.canonical} over ${others.join(', ')}`);
  }
  return { value: out, conflicts: conflicts ?? NO_CONFLICTS };
}

function includesEqual<T>(items: readonly T[], item: T): boolean {
  for (const x of items) if (jsonEqual(x, item)) return true;
  return false;
}

const nicName = (nic: NetworkInterface): string => nic.name;
const byCanonical = <T>(a: Keyed<T>, b: Keyed<T>): number => compareStrings(a.canonical, b.canonical);
const diskPath = (d: DiskConfig): string => d.path;
const bySizeThenCanonical = (a: Keyed<DiskConfig>, b: Keyed<DiskConfig>): number =>
  a.item.size_gb - b.item.size_gb || compareStrings(a.canonical, b.canonical);

/** Union of interface lists by name; see the module comment. */
export function mergeInterfaces(lists: readonly (readonly NetworkInterface[])[]): ListMerge<NetworkInterface[]> {
  return unionByKey(lists, nicName, byCanonical, 'interface');
}

/** Union of disk lists by path, larger size per path; see the module comment. */
export function mergeDisks(lists: readonly (readonly DiskConfig[])[]): ListMerge<DiskConfig[]> {
  return unionByKey(lists, diskPath, bySizeThenCanonical, 'disk');
}

/**
 * Merge `network_config` objects (candidates in version order, each `{interfaces: [...], ...}`):
 * interfaces by {@link mergeInterfaces}, every other key by last-write-wins (hlc, then value).
 */
export function mergeNetworkConfigs(cands: readonly Candidate[]): ListMerge<Record<string, unknown>> {
  const n = cands.length;
  const configs = new Array<{ interfaces: NetworkInterface[]; [k: string]: unknown }>(n);
  const lists = new Array<NetworkInterface[]>(n);
  let keys: Set<string> | undefined;
  for (let i = 0; i < n; i++) {
    const c = cands[i]!.value as { interfaces: NetworkInterface[]; [k: string]: unknown };
    configs[i] = c;
    lists[i] = c.interfaces;
    for (const k in c) if (k !== 'interfaces' && Object.prototype.hasOwnProperty.call(c, k)) (keys ??= new Set()).add(k);
  }
  const nics = mergeInterfaces(lists);
  const out: Record<string, unknown> = {};
  if (keys === undefined) {
    out.interfaces = nics.value;
    return { value: out, conflicts: nics.conflicts };
  }
  const conflicts = [...nics.conflicts];
  for (const key of [...keys].sort(compareStrings)) {
    const per: Candidate[] = new Array<Candidate>(n);
    for (let i = 0; i < n; i++) per[i] = candidate(cands[i]!.entry, fieldOf(configs[i], key));
    if (unanimous(per)) {
      if (per[0]!.value !== ABSENT) out[key] = per[0]!.value;
      continue;
    }
    const p = pickLww(per);
    if (p.value !== ABSENT) out[key] = p.value;
    conflicts.push(`network_config.${key}: newest write ${show(p.value)} (from ${p.winner.id})`);
  }
  out.interfaces = nics.value;
  return { value: out, conflicts };
}
