/**
 * Network partitions as sets of cut directed links. The named shapes are the classic Jepsen nemeses:
 *
 * - `halves`: the first ⌊n/2⌋ nodes (in scenario order) against the rest;
 * - `majorities-ring`: the nodes on a ring, each keeping the links to its nearest neighbours so that
 *   it sees a majority (itself included); neighbouring majorities overlap and no two nodes see the
 *   same set (n ≥ 4);
 * - `bridge`: two halves joined by the middle node, which sees both (n ≥ 3);
 * - `isolate:<id>`: one node against the rest;
 * - explicit groups `[[n1, n2], [n3, n4, n5]]`: every node in exactly one group, groups cut off from
 *   each other;
 * - one-way `{from: [...], to: [...]}`: messages from `from` to `to` are lost, the other way works.
 */

export type PartitionSpec =
  | { readonly kind: 'halves' }
  | { readonly kind: 'majorities-ring' }
  | { readonly kind: 'bridge' }
  | { readonly kind: 'isolate'; readonly node: string }
  | { readonly kind: 'groups'; readonly groups: readonly (readonly string[])[] }
  | { readonly kind: 'one-way'; readonly from: readonly string[]; readonly to: readonly string[] };

/** The key of the directed link from `a` to `b`. */
export function linkKey(a: string, b: string): string {
  return `${a}>${b}`;
}

/** Human-readable form, e.g. `halves`, `isolate:n3`, `[[n1,n2],[n3]]`, `n1->n2,n3`. */
export function describePartition(spec: PartitionSpec): string {
  switch (spec.kind) {
    case 'halves':
    case 'majorities-ring':
    case 'bridge':
      return spec.kind;
    case 'isolate':
      return `isolate:${spec.node}`;
    case 'groups':
      return `[${spec.groups.map((g) => `[${g.join(',')}]`).join(',')}]`;
    case 'one-way':
      return `${spec.from.join(',')}->${spec.to.join(',')}`;
  }
}

/** Groups of mutually connected nodes for the shapes that are plain splits (others: undefined). */
export function partitionGroups(spec: PartitionSpec, nodes: readonly string[]): string[][] | undefined {
  switch (spec.kind) {
    case 'halves': {
      const k = Math.floor(nodes.length / 2);
      return [nodes.slice(0, k), nodes.slice(k)];
    }
    case 'isolate':
      return [[spec.node], nodes.filter((n) => n !== spec.node)];
    case 'groups':
      return spec.groups.map((g) => [...g]);
    default:
      return undefined;
  }
}

/** The directed links a partition cuts. */
export function cutLinks(spec: PartitionSpec, nodes: readonly string[]): Set<string> {
  const cut = new Set<string>();
  const both = (a: string, b: string): void => {
    cut.add(linkKey(a, b));
    cut.add(linkKey(b, a));
  };
  const groups = partitionGroups(spec, nodes);
  if (groups) {
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) for (const a of groups[i]!) for (const b of groups[j]!) both(a, b);
    }
    return cut;
  }
  const n = nodes.length;
  switch (spec.kind) {
    case 'majorities-ring': {
      // Keep ring distance ≤ k where 2k + 1 ≥ majority: every node sees a majority, no one sees all.
      const majority = Math.floor(n / 2) + 1;
      const k = Math.ceil((majority - 1) / 2);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const d = Math.min(j - i, n - (j - i));
          if (d > k) both(nodes[i]!, nodes[j]!);
        }
      }
      return cut;
    }
    case 'bridge': {
      const mid = Math.floor(n / 2);
      const left = nodes.slice(0, mid);
      const right = nodes.slice(mid + 1);
      for (const a of left) for (const b of right) both(a, b);
      return cut;
    }
    case 'one-way':
      for (const a of spec.from) for (const b of spec.to) if (a !== b) cut.add(linkKey(a, b));
      return cut;
    default:
      return cut;
  }
}

/** `m[i][j]`: a message from nodes[i] to nodes[j] gets through (the diagonal is true). */
export function reachabilityMatrix(nodes: readonly string[], cut: ReadonlySet<string>): boolean[][] {
  return nodes.map((a) => nodes.map((b) => a === b || !cut.has(linkKey(a, b))));
}

/** Why a shape cannot be applied to these nodes, or undefined when it can. */
export function partitionProblem(spec: PartitionSpec, nodes: readonly string[]): string | undefined {
  const known = new Set(nodes);
  const unknown = (ids: readonly string[]): string | undefined => {
    const bad = ids.filter((id) => !known.has(id));
    return bad.length > 0 ? `unknown node${bad.length > 1 ? 's' : ''} ${bad.join(', ')} (nodes are ${nodes.join(', ')})` : undefined;
  };
  switch (spec.kind) {
    case 'halves':
      return nodes.length < 2 ? 'halves needs at least 2 nodes' : undefined;
    case 'majorities-ring':
      return nodes.length < 4 ? 'majorities-ring needs at least 4 nodes (with 3, every majority sees everyone)' : undefined;
    case 'bridge':
      return nodes.length < 3 ? 'bridge needs at least 3 nodes' : undefined;
    case 'isolate':
      return unknown([spec.node]);
    case 'groups': {
      const all = spec.groups.flat();
      const u = unknown(all);
      if (u) return u;
      const seen = new Set<string>();
      for (const id of all) {
        if (seen.has(id)) return `node ${id} is in more than one group`;
        seen.add(id);
      }
      const missing = nodes.filter((n) => !seen.has(n));
      if (missing.length > 0) return `every node must be in exactly one group; missing ${missing.join(', ')}`;
      if (spec.groups.length < 2) return 'at least two groups are needed';
      return undefined;
    }
    case 'one-way':
      return unknown([...spec.from, ...spec.to]) ?? (spec.from.length === 0 || spec.to.length === 0 ? 'from and to must not be empty' : undefined);
  }
}
