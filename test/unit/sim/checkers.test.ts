import { describe, expect, it } from 'vitest';
import { runCheckers, type CheckInput, type CheckResult, type ConflictInfo, type NodeFinal, type VersionInfo } from '../../../simulations/index.js';

const v = (id: string, clock: Record<string, number>): VersionInfo => ({ id, clock, deleted: false });

/** Two live nodes that agree on vm/a = [A2]; A1 → A2 by a later write; everything consistent. */
function clean(): CheckInput {
  const sets = new Map([['vm/a', [v('A2', { n1: 2 })]]]);
  const node = (id: string, conflicts: ConflictInfo[] = []): NodeFinal => ({ node: id, live: true, sets, conflicts, reported: new Set(conflicts.map((c) => c.id)) });
  return {
    nodes: [node('n1'), node('n2')],
    acked: [
      { t: 10, node: 'n1', resourceId: 'vm/a', versionId: 'A1', clock: { n1: 1 } },
      { t: 20, node: 'n1', resourceId: 'vm/a', versionId: 'A2', clock: { n1: 2 } },
    ],
    decisions: [
      { node: 'n1', key: 'conflict:c1', value: '{"winner":"x"}', t: 5 },
      { node: 'n2', key: 'conflict:c1', value: '{"winner":"x"}', t: 6 },
    ],
    splitBrain: [],
    heals: [{ atMs: 100, convergedMs: 40 }],
    final: { healAtMs: 1_000, convergedMs: 100 },
    boundMs: 60_000,
    quorum: { live: 2, need: 2 },
    endMs: 2_000,
    placement: [],
  };
}

function verdicts(input: CheckInput): Record<string, CheckResult> {
  return Object.fromEntries(runCheckers(input).map((c) => [c.name, c]));
}

function failing(input: CheckInput): string[] {
  return runCheckers(input)
    .filter((c) => !c.pass)
    .map((c) => c.name);
}

const conflict = (over: Partial<ConflictInfo> = {}): ConflictInfo => ({
  id: 'c1',
  resourceId: 'vm/a',
  status: 'resolved',
  outcome: 'resolved',
  hasDecision: true,
  versionIds: ['B1', 'B2'],
  referenced: false,
  ...over,
});

describe('checkers: self-tests with injected violations', () => {
  it('a consistent run passes every checker', () => {
    expect(failing(clean())).toEqual([]);
  });

  it('convergence fails when a heal does not converge within the bound, or the final state differs', () => {
    expect(failing({ ...clean(), heals: [{ atMs: 100, pending: 'vm/a: n2 has {n1:1}, needs {n1:2}' }] })).toEqual(['convergence']);
    expect(failing({ ...clean(), heals: [{ atMs: 100, convergedMs: 70_000 }] })).toEqual(['convergence']);
    expect(failing({ ...clean(), final: { healAtMs: 1_000, pending: 'vm/a: n1 has [A2], n2 has [A1]' } })).toEqual(['convergence']);
    // A heal interrupted by the next fault is not a failure.
    expect(failing({ ...clean(), heals: [{ atMs: 100, interrupted: true }] })).toEqual([]);
    const r = verdicts({ ...clean(), final: { healAtMs: 1_000, pending: 'vm/a: n1 has [A2], n2 has [A1]' } }).convergence!;
    expect(r.violations[0]).toMatchObject({ resourceId: 'vm/a', from: 1_000 });
  });

  it('no_lost_writes fails for an acknowledged write that the final state neither holds nor dominates', () => {
    const input = clean();
    const lost = { ...input, acked: [...input.acked, { t: 30, node: 'n2', resourceId: 'vm/a', versionId: 'A3', clock: { n2: 1 } }] };
    const r = verdicts(lost).no_lost_writes!;
    expect(r.pass).toBe(false);
    expect(r.counts).toMatchObject({ lost: 1 });
    expect(r.violations[0]!.message).toMatch(/write A3 \{n2:1\} acknowledged by n2 at 30ms is lost on n1/);
  });

  it('no_lost_writes fails for a dominated write that nothing accounts for, and passes when a decision record does', () => {
    const input = clean();
    // A join (n1:2, n2:1) in the final state dominates B1 {n2:1}, but no later write or record names B1.
    const sets = new Map([['vm/a', [v('J', { n1: 2, n2: 1 })]]]);
    const nodes = input.nodes.map((n) => ({ ...n, sets }));
    const acked = [...input.acked, { t: 30, node: 'n2', resourceId: 'vm/a', versionId: 'B1', clock: { n2: 1 } }];
    // A2 and B1 are both dominated by J, and nothing says how J came to be.
    const unaccounted = verdicts({ ...input, nodes, acked }).no_lost_writes!;
    expect(unaccounted.pass).toBe(false);
    expect(unaccounted.violations.map((x) => /write (\w+)/.exec(x.message)?.[1])).toEqual(['A2', 'B1']);
    expect(unaccounted.violations[0]!.message).toContain('dominated but neither a later write nor a decision record accounts for it');
    const withRecord = nodes.map((n) => ({ ...n, conflicts: [conflict({ versionIds: ['A2', 'B1'] })], reported: new Set(['c1']) }));
    expect(verdicts({ ...input, nodes: withRecord, acked }).no_lost_writes!.pass).toBe(true);
  });

  it('no_lost_writes counts writes only a down node knows as stranded, not lost', () => {
    const input = clean();
    const nodes = [...input.nodes, { node: 'n3', live: false, sets: new Map(), conflicts: [], reported: new Set<string>() }];
    const acked = [...input.acked, { t: 30, node: 'n3', resourceId: 'vm/a', versionId: 'C1', clock: { n3: 1 } }];
    const r = verdicts({ ...input, nodes, acked }).no_lost_writes!;
    expect(r.pass).toBe(true);
    expect(r.counts).toMatchObject({ stranded: 1, lost: 0 });
  });

  it('no_split_brain fails for any moment with a VM running on two hosts', () => {
    const r = verdicts({ ...clean(), splitBrain: [{ vmId: 'a', hosts: ['n1', 'n2'], from: 500, to: 900 }] }).no_split_brain!;
    expect(r.pass).toBe(false);
    expect(r.counts).toMatchObject({ moments: 1, totalMs: 400 });
    expect(r.violations[0]).toMatchObject({ resourceId: 'vm/a', message: 'a ran on n1 and n2 from 500ms to 900ms (400ms)' });
  });

  it('conflicts_accounted fails for a record without a decision, a status that contradicts its decision, an orphan, a lost record', () => {
    const withConflicts = (cs: ConflictInfo[], reported = cs.map((c) => c.id)): CheckInput => ({
      ...clean(),
      nodes: clean().nodes.map((n) => ({ ...n, conflicts: cs, reported: new Set(reported) })),
    });
    expect(failing(withConflicts([conflict()]))).toEqual([]);
    expect(failing(withConflicts([conflict({ status: 'pending', outcome: 'pending_manual', referenced: true })]))).toEqual([]);
    expect(failing(withConflicts([conflict({ hasDecision: false })]))).toEqual(['conflicts_accounted']);
    expect(failing(withConflicts([conflict({ status: 'resolved', outcome: 'pending_manual' })]))).toEqual(['conflicts_accounted']);
    expect(failing(withConflicts([conflict({ status: 'pending', outcome: 'pending_manual', referenced: false })]))).toEqual(['conflicts_accounted']);
    expect(failing(withConflicts([conflict({ status: 'failed', outcome: 'failed' })]))).toEqual(['conflicts_accounted']);
    expect(failing(withConflicts([], ['c9']))).toEqual(['conflicts_accounted']);
  });

  it('consensus_unique fails when one key was decided with two values', () => {
    const input = clean();
    const r = verdicts({ ...input, decisions: [...input.decisions, { node: 'n3(acceptor)', key: 'conflict:c1', value: '{"winner":"y"}', t: 9 }] }).consensus_unique!;
    expect(r.pass).toBe(false);
    expect(r.violations[0]!.message).toContain('paxos key conflict:c1 decided 2 values');
  });

  it('quorum_decisions fails for a conflict still waiting for a quorum at the end, unless no quorum is live', () => {
    const waiting = clean().nodes.map((n) => ({ ...n, conflicts: [conflict({ status: 'pending', outcome: 'pending_manual', referenced: true, awaitsQuorum: 'split_brain' })], reported: new Set(['c1']) }));
    expect(failing({ ...clean(), nodes: waiting })).toEqual(['quorum_decisions']);
    expect(failing({ ...clean(), nodes: waiting, quorum: { live: 1, need: 2 } })).toEqual([]);
  });

  it('vms_running fails when the agreed placement is not what the hypervisors run', () => {
    expect(failing({ ...clean(), placement: [{ vmId: 'a', problem: 'the agreed state runs it on n2, whose hypervisor does not run it', since: 10 }] })).toEqual(['vms_running']);
  });
});
