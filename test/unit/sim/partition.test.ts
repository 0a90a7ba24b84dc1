import { describe, expect, it } from 'vitest';
import { cutLinks, partitionGroups, reachabilityMatrix, type PartitionSpec } from '../../../simulations/index.js';
import { partitionProblem } from '../../../simulations/partition.js';

const N5 = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** The matrix as rows of 1/0 (row: from, column: to). */
function matrix(spec: PartitionSpec, nodes = N5): string[] {
  return reachabilityMatrix(nodes, cutLinks(spec, nodes)).map((row) => row.map((b) => (b ? '1' : '0')).join(''));
}

/** Nodes each node can talk to both ways (itself included). */
function views(spec: PartitionSpec, nodes = N5): string[][] {
  const m = reachabilityMatrix(nodes, cutLinks(spec, nodes));
  return nodes.map((_, i) => nodes.filter((_, j) => m[i]![j] && m[j]![i]));
}

describe('partition shapes: reachability matrices', () => {
  it('halves: the first floor(n/2) nodes against the rest', () => {
    expect(matrix({ kind: 'halves' })).toEqual(['11000', '11000', '00111', '00111', '00111']);
    expect(partitionGroups({ kind: 'halves' }, N5)).toEqual([['n1', 'n2'], ['n3', 'n4', 'n5']]);
    expect(matrix({ kind: 'halves' }, ['a', 'b', 'c', 'd'])).toEqual(['1100', '1100', '0011', '0011']);
  });

  it('majorities-ring: every node sees a majority, no node sees all, no two nodes see the same set', () => {
    for (const nodes of [N5, ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e', 'f', 'g']]) {
      const v = views({ kind: 'majorities-ring' }, nodes);
      const majority = Math.floor(nodes.length / 2) + 1;
      for (const seen of v) {
        expect(seen.length).toBeGreaterThanOrEqual(majority);
        expect(seen.length).toBeLessThan(nodes.length);
      }
      expect(new Set(v.map((s) => s.join(','))).size).toBe(nodes.length);
      // Symmetric: a two-way partition.
      const m = reachabilityMatrix(nodes, cutLinks({ kind: 'majorities-ring' }, nodes));
      m.forEach((row, i) => row.forEach((b, j) => expect(b).toBe(m[j]![i])));
    }
    expect(matrix({ kind: 'majorities-ring' })).toEqual(['11001', '11100', '01110', '00111', '10011']);
  });

  it('bridge: two halves joined by the middle node, which sees both', () => {
    expect(matrix({ kind: 'bridge' })).toEqual(['11100', '11100', '11111', '00111', '00111']);
  });

  it('isolate:<id>: one node against the rest', () => {
    expect(matrix({ kind: 'isolate', node: 'n3' })).toEqual(['11011', '11011', '00100', '11011', '11011']);
  });

  it('explicit groups', () => {
    expect(matrix({ kind: 'groups', groups: [['n1', 'n4'], ['n2'], ['n3', 'n5']] })).toEqual(['10010', '01000', '00101', '10010', '00101']);
  });

  it('one way: messages from `from` to `to` are lost, the reverse direction works', () => {
    expect(matrix({ kind: 'one-way', from: ['n1'], to: ['n2', 'n3'] })).toEqual(['10011', '11111', '11111', '11111', '11111']);
  });

  it('refuses shapes that do not fit the nodes', () => {
    expect(partitionProblem({ kind: 'majorities-ring' }, ['a', 'b', 'c'])).toMatch(/at least 4 nodes/);
    expect(partitionProblem({ kind: 'isolate', node: 'n9' }, N5)).toMatch(/unknown node n9/);
    expect(partitionProblem({ kind: 'groups', groups: [['n1'], ['n2']] }, N5)).toMatch(/missing n3, n4, n5/);
    expect(partitionProblem({ kind: 'groups', groups: [['n1', 'n2'], ['n2', 'n3', 'n4', 'n5']] }, N5)).toMatch(/n2 is in more than one group/);
    expect(partitionProblem({ kind: 'halves' }, N5)).toBeUndefined();
  });
});
