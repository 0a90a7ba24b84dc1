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

interface Keyed<T> {
  readonly item: T;
  readonly canonical: string;
}

function unionByKey<T>(
  lists: readonly (readonly T[])[],
  keyOf: (item: T) => string,
  better: (a: Keyed<T>, b: Keyed<T>) => number,
  what: string,
): ListMerge<T[]> {
  const byKey = new Map<string, Map<string, Keyed<T>>>();
  for (const list of lists) {
    for (const item of list) {
      const key = keyOf(item);
      let variants = byKey.get(key);
      if (!variants) byKey.set(key, (variants = new Map<string, Keyed<T>>()));
      const canonical = canonicalJson(item);
      if (!variants.has(canonical)) variants.set(canonical, { item, canonical });
    }
  }
  const keys = [...byKey.keys()].sort(compareStrings);
  const out: T[] = [];
  const conflicts: string[] = [];
  for (const key of keys) {
    const variants = [...byKey.get(key)!.values()];
    let best = variants[0]!;
    for (const v of variants) if (better(v, best) > 0) best = v;
    out.push(best.item);
    if (variants.length > 1) {
      const others = variants
        .filter((v) => v !== best)
        .map((v) => v.canonical)
        .sort(compareStrings);
      conflicts.push(`${what} ${JSON.stringify(key)}: kept ${best.canonical} over ${others.join(', ')}`);
    }
  }
  return { value: out, conflicts };
}

/** Union of interface lists by name; see the module comment. */
export function mergeInterfaces(lists: readonly (readonly NetworkInterface[])[]): ListMerge<NetworkInterface[]> {
  return unionByKey(lists, (nic) => nic.name, (a, b) => compareStrings(a.canonical, b.canonical), 'interface');
}

/** Union of disk lists by path, larger size per path; see the module comment. */
export function mergeDisks(lists: readonly (readonly DiskConfig[])[]): ListMerge<DiskConfig[]> {
  return unionByKey(
    lists,
    (d) => d.path,
    (a, b) => a.item.size_gb - b.item.size_gb || compareStrings(a.canonical, b.canonical),
    'disk',
  );
}

/**
 * Merge `network_config` objects (candidates in version order, each `{interfaces: [...], ...}`):
 * interfaces by {@link mergeInterfaces}, every other key by last-write-wins (hlc, then value).
 */
export function mergeNetworkConfigs(cands: readonly Candidate[]): ListMerge<Record<string, unknown>> {
  const configs = cands.map((c) => c.value as { interfaces: NetworkInterface[]; [k: string]: unknown });
  const nics = mergeInterfaces(configs.map((c) => c.interfaces));
  const out: Record<string, unknown> = {};
  const conflicts = [...nics.conflicts];
  const keys = new Set<string>();
  for (const c of configs) for (const k of Object.keys(c)) if (k !== 'interfaces') keys.add(k);
  for (const key of [...keys].sort(compareStrings)) {
    const per: Candidate[] = cands.map((c, i) => candidate(c.entry, fieldOf(configs[i], key)));
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
