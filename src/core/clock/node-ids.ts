import { describeValue } from '../codec/describe.js';
import { InvalidClockError } from '../errors.js';

/** Node ids are short configured names (hostnames): letters, digits, `.`, `_`, `-`; 1–64 characters. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Upper bound on the distinct node ids a process interns (a hostile peer cannot grow it forever). */
export const MAX_INTERNED_NODE_IDS = 65_536;

const names: string[] = [];
const indexOf = new Map<string, number>();

/**
 * The dense index of a node id. Vector clocks are stored as typed arrays indexed by these numbers;
 * the index is an in-memory detail only — every encoding is by name, so it never leaves the process.
 */
export function internNodeId(nodeId: string): number {
  const known = indexOf.get(nodeId);
  if (known !== undefined) return known;
  assertNodeId(nodeId);
  if (names.length >= MAX_INTERNED_NODE_IDS) {
    throw new InvalidClockError(`too many distinct node ids (limit ${MAX_INTERNED_NODE_IDS})`, { nodeId });
  }
  const idx = names.length;
  names.push(nodeId);
  indexOf.set(nodeId, idx);
  return idx;
}

/** The index of a node id if it was interned already, else -1 (lookups never grow the table). */
export function lookupNodeId(nodeId: string): number {
  return indexOf.get(nodeId) ?? -1;
}

export function nodeIdAt(index: number): string {
  const name = names[index];
  if (name === undefined) throw new InvalidClockError(`no node id interned at index ${index}`, { index });
  return name;
}

export function assertNodeId(nodeId: unknown, where = 'node id'): asserts nodeId is string {
  if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId)) {
    throw new InvalidClockError(
      `invalid ${where} ${describeValue(nodeId)}: expected 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit`,
      { nodeId },
    );
  }
}
