import { expectDotCounter, expectNodeId, fail, isPlainObject, describe } from './validate.js';

/**
 * A dot names one event: the `counter`-th event of node `node`. Callers allocate dots from their own
 * node's counter (a dot must never be reused); the CRDTs in this folder never invent one.
 */
export interface Dot {
  readonly node: string;
  readonly counter: number;
}

/** A validated dot (node id per NODE_ID_PATTERN, counter in [1, 2^53 - 1]). */
export function dot(node: string, counter: number, where = 'dot'): Dot {
  return Object.freeze({ node: expectNodeId(node, `${where}.node`), counter: expectDotCounter(counter, `${where}.counter`) });
}

/** Validates a dot passed to an operation (`{node, counter}`). */
export function expectDot(value: unknown, where = 'dot'): Dot {
  if (!isPlainObject(value)) fail(where, `expected a dot {node, counter}, got ${describe(value)}`);
  return dot(value.node as string, value.counter as number, where);
}

/** Order by node id (code units), then counter: the canonical order of dots in every encoding. */
export function compareDots(a: Dot, b: Dot): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return a.counter - b.counter;
}

/** `node:counter`, for messages. */
export function formatDot(d: Dot): string {
  return `${d.node}:${d.counter}`;
}

/** JSON form of a dot: `[node, counter]`. */
export type DotJson = [string, number];

export function dotToJson(d: Dot): DotJson {
  return [d.node, d.counter];
}

export function dotFromJson(value: unknown, where: string): Dot {
  if (!Array.isArray(value) || value.length !== 2) {
    fail(where, `expected a dot [node, counter], got ${describe(value)}`);
  }
  const [node, counter] = value as unknown[];
  return Object.freeze({ node: expectNodeId(node, `${where}[0]`), counter: expectDotCounter(counter, `${where}[1]`) });
}
