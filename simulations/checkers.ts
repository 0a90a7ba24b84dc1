/**
 * Checkers over a finished run. Each is a pure function of plain data (a {@link CheckInput}), so it
 * can be tested by injecting a violation. Definitions (also in the report):
 *
 * - `convergence`: after every heal, every version that existed on any live replica at the heal is
 *   known (present or dominated, vector clocks) to every live replica within the bound, unless another
 *   fault interrupts the measurement; and after the run's final heal (at the end of the workload, with
 *   the network whole and every pause over) all live replicas hold identical version sets within the
 *   bound.
 * - `no_lost_writes`: every acknowledged write, on every live replica at the end, is either present in
 *   the final version set of its resource, or dominated (vector clock ≤) by a final version AND
 *   accounted for by a later acknowledged write whose clock is strictly after it or by a conflict record
 *   (on any node) naming its version among the candidates or inputs. Writes acknowledged by a node that
 *   is down at the end and that no live replica knows are "stranded", reported, not counted as lost.
 * - `no_split_brain`: never, at any virtual instant (the hypervisors are sampled at every action), is
 *   one VM in the running set of two hosts' hypervisors (the hosts' own view; fencing and lease stops
 *   remove it). Agent crashes do not stop VMs, so a crashed agent's VMs count as running.
 * - `conflicts_accounted`: every conflict record on every node is `resolved` with a decision record
 *   whose outcome is resolved/siblings, or `pending` with a decision record whose outcome says who must
 *   decide (manual, consensus, rollback), and, on live nodes, the resource's current state points at
 *   it; no record is `failed`; every conflict a node reported during the run is still in its records.
 * - `consensus_unique`: no Paxos key was decided (learned by any node, or recorded as decided by any
 *   acceptor) with two different values.
 * - `quorum_decisions`: at the end, with the network whole and a quorum of voters live, no live node
 *   still has a conflict waiting for a quorum decision (split-brain, consensus vote, rollback).
 * - `vms_running`: at the end, after a grace period (twice lease + margin, plus a supervisor sweep),
 *   every VM whose agreed final state is one version saying `running` on a live host runs on that
 *   host's hypervisor, and no VM runs on a host its final state does not place it on. (Availability
 *   of what the cluster decided; it depends on the simulator's model of VM supervision.)
 */
import { VectorClock } from '../src/core/clock/vector-clock.js';

export const CHECKERS = ['convergence', 'no_lost_writes', 'no_split_brain', 'conflicts_accounted', 'consensus_unique', 'quorum_decisions', 'vms_running'] as const;
export type CheckerName = (typeof CHECKERS)[number];

export interface VersionInfo {
  readonly id: string;
  readonly clock: Readonly<Record<string, number>>;
  readonly deleted: boolean;
}

export interface AckedWriteInfo {
  readonly t: number;
  readonly node: string;
  readonly resourceId: string;
  readonly versionId: string;
  readonly clock: Readonly<Record<string, number>>;
}

export interface ConflictInfo {
  readonly id: string;
  readonly resourceId: string;
  readonly status: string;
  readonly outcome: string;
  readonly hasDecision: boolean;
  /** Version ids of the candidates and of the decision's inputs. */
  readonly versionIds: readonly string[];
  /** The quorum decision it waits for, if it is pending one (Coordinator.kindOf). */
  readonly awaitsQuorum?: string | undefined;
  /** The resource's current state on that node points at this conflict. */
  readonly referenced: boolean;
}

export interface NodeFinal {
  readonly node: string;
  readonly live: boolean;
  /** resource id → current version set */
  readonly sets: ReadonlyMap<string, readonly VersionInfo[]>;
  readonly conflicts: readonly ConflictInfo[];
  /** Conflict ids this node reported (events) during the run. */
  readonly reported: ReadonlySet<string>;
}

export interface HealMeasurement {
  readonly atMs: number;
  /** Virtual ms from the heal until every live replica knew every pre-heal version. */
  readonly convergedMs?: number | undefined;
  /** Another fault came first. */
  readonly interrupted?: boolean | undefined;
  /** An example of what had not converged when the bound ran out. */
  readonly pending?: string | undefined;
}

export interface CheckInput {
  readonly nodes: readonly NodeFinal[];
  readonly acked: readonly AckedWriteInfo[];
  readonly decisions: readonly { readonly node: string; readonly key: string; readonly value: string; readonly t: number }[];
  readonly splitBrain: readonly { readonly vmId: string; readonly hosts: readonly string[]; readonly from: number; readonly to: number }[];
  readonly heals: readonly HealMeasurement[];
  readonly final: { readonly healAtMs: number; readonly convergedMs?: number | undefined; readonly pending?: string | undefined };
  readonly boundMs: number;
  /** Live voters at the end and the quorum size. */
  readonly quorum: { readonly live: number; readonly need: number };
  readonly endMs: number;
  /** Final placement problems: a VM not running where its agreed state says, or running elsewhere. */
  readonly placement: readonly { readonly vmId: string; readonly problem: string; readonly since: number }[];
}

export interface Violation {
  readonly resourceId?: string | undefined;
  /** The window of virtual time that shows it. */
  readonly from: number;
  readonly to: number;
  readonly message: string;
}

export interface CheckResult {
  readonly name: CheckerName;
  readonly pass: boolean;
  readonly reason: string;
  readonly violations: readonly Violation[];
  /** Checker-specific counts for the report. */
  readonly counts?: Readonly<Record<string, number>>;
}

const clockCache = new WeakMap<object, VectorClock>();
function vc(c: Readonly<Record<string, number>>): VectorClock {
  let v = clockCache.get(c);
  if (!v) {
    v = VectorClock.from(c);
    clockCache.set(c, v);
  }
  return v;
}

/** a ≥ b under the vector-clock order. */
function covers(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const o = vc(a).compare(vc(b));
  return o === 'after' || o === 'equal';
}

function result(name: CheckerName, violations: Violation[], okReason: string, counts?: Record<string, number>): CheckResult {
  const shown = violations.slice(0, 3).map((v) => v.message);
  const more = violations.length > 3 ? ` (+${violations.length - 3} more)` : '';
  return {
    name,
    pass: violations.length === 0,
    reason: violations.length === 0 ? okReason : `${violations.length} violation${violations.length > 1 ? 's' : ''}: ${shown.join('; ')}${more}`,
    violations,
    ...(counts ? { counts } : {}),
  };
}

export function checkConvergence(input: CheckInput): CheckResult {
  const v: Violation[] = [];
  let done = 0;
  let interrupted = 0;
  for (const h of input.heals) {
    if (h.interrupted) interrupted++;
    else if (h.convergedMs === undefined || h.convergedMs > input.boundMs) {
      v.push({ from: h.atMs, to: h.atMs + input.boundMs, resourceId: resourceOf(h.pending), message: `no convergence within ${input.boundMs}ms of the heal at ${h.atMs}ms${h.pending ? ` (${h.pending})` : ''}` });
    } else done++;
  }
  const f = input.final;
  if (f.convergedMs === undefined || f.convergedMs > input.boundMs) {
    v.push({
      from: f.healAtMs,
      to: f.healAtMs + input.boundMs,
      resourceId: resourceOf(f.pending),
      message: `live replicas not identical within ${input.boundMs}ms of the final heal at ${f.healAtMs}ms${f.pending ? ` (${f.pending})` : ''}`,
    });
  }
  return result(
    'convergence',
    v,
    `${done} heal(s) converged${interrupted ? `, ${interrupted} interrupted by the next fault` : ''}; final state identical on every live replica ${f.convergedMs ?? '?'}ms after the final heal`,
    { heals: input.heals.length, converged: done, interrupted },
  );
}

/** `vm/vm-0001: ...` → `vm/vm-0001` */
function resourceOf(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const m = /^([^\s:]+(?:\/[^\s:]+)?)/.exec(text);
  return m?.[1];
}

export function checkNoLostWrites(input: CheckInput): CheckResult {
  const live = input.nodes.filter((n) => n.live);
  const down = new Set(input.nodes.filter((n) => !n.live).map((n) => n.node));
  const inRecords = new Set<string>();
  for (const n of input.nodes) for (const c of n.conflicts) for (const id of c.versionIds) inRecords.add(id);
  const byResource = new Map<string, AckedWriteInfo[]>();
  for (const w of input.acked) {
    const l = byResource.get(w.resourceId);
    if (l) l.push(w);
    else byResource.set(w.resourceId, [w]);
  }
  const v: Violation[] = [];
  let kept = 0;
  let superseded = 0;
  let stranded = 0;
  for (const [resourceId, writes] of byResource) {
    writes.forEach((w, idx) => {
      let keptHere = true;
      let lostOn: string | undefined;
      let known = false;
      for (const n of live) {
        const set = n.sets.get(resourceId) ?? [];
        if (set.some((x) => x.id === w.versionId)) {
          known = true;
          continue;
        }
        keptHere = false;
        if (set.some((x) => covers(x.clock, w.clock))) {
          known = true;
          const accounted = inRecords.has(w.versionId) || laterWriteCovers(writes, idx);
          if (!accounted) lostOn ??= `${n.node} (dominated but neither a later write nor a decision record accounts for it)`;
        } else {
          lostOn ??= n.node;
        }
      }
      if (!known && down.has(w.node)) {
        stranded++;
        return;
      }
      if (lostOn !== undefined) {
        const final = live.find((n) => n.node === lostOn.split(' ')[0])?.sets.get(resourceId) ?? [];
        v.push({
          resourceId,
          from: w.t - 1_000,
          to: input.endMs,
          message: `${resourceId}: write ${w.versionId} {${clockString(w.clock)}} acknowledged by ${w.node} at ${w.t.toFixed(0)}ms is lost on ${lostOn}; final set there: [${final.map((x) => `${x.id} {${clockString(x.clock)}}`).join(', ')}]`,
        });
      } else if (keptHere) kept++;
      else superseded++;
    });
  }
  return result(
    'no_lost_writes',
    v,
    `${input.acked.length} acknowledged writes: ${kept} present in the final state, ${superseded} superseded or merged and accounted for${stranded ? `, ${stranded} stranded on nodes down at the end` : ''}`,
    { acknowledged: input.acked.length, kept, superseded, stranded, lost: v.length },
  );
}

/** Some acknowledged write of the same resource has a clock strictly after writes[idx]'s. */
function laterWriteCovers(writes: readonly AckedWriteInfo[], idx: number): boolean {
  const w = writes[idx]!;
  // Successors are usually the next writes in time; look forward first, then backward (skewed acks).
  for (let j = idx + 1; j < writes.length; j++) if (vc(writes[j]!.clock).compare(vc(w.clock)) === 'after') return true;
  for (let j = idx - 1; j >= 0; j--) if (vc(writes[j]!.clock).compare(vc(w.clock)) === 'after') return true;
  return false;
}

function clockString(c: Readonly<Record<string, number>>): string {
  return Object.keys(c)
    .sort()
    .map((k) => `${k}:${c[k]}`)
    .join(',');
}

export function checkNoSplitBrain(input: CheckInput): CheckResult {
  const v = input.splitBrain.map((s) => ({
    resourceId: `vm/${s.vmId}`,
    from: s.from - 15_000,
    to: s.to + 1_000,
    message: `${s.vmId} ran on ${s.hosts.join(' and ')} from ${s.from.toFixed(0)}ms to ${s.to.toFixed(0)}ms (${(s.to - s.from).toFixed(0)}ms)`,
  }));
  const total = input.splitBrain.reduce((a, s) => a + (s.to - s.from), 0);
  return result('no_split_brain', v, 'no VM ever ran on two hosts at once (hypervisors sampled at every action)', {
    moments: input.splitBrain.length,
    totalMs: Math.round(total),
  });
}

const PENDING_OUTCOMES = new Set(['pending_manual', 'pending_consensus', 'rollback']);
const RESOLVED_OUTCOMES = new Set(['resolved', 'siblings']);

export function checkConflictsAccounted(input: CheckInput): CheckResult {
  const v: Violation[] = [];
  let resolved = 0;
  let pending = 0;
  for (const n of input.nodes) {
    const ids = new Set(n.conflicts.map((c) => c.id));
    for (const c of n.conflicts) {
      const at = { resourceId: c.resourceId, from: 0, to: input.endMs };
      if (!c.hasDecision) v.push({ ...at, message: `${c.resourceId}: conflict ${c.id} on ${n.node} has no decision record` });
      else if (c.status === 'resolved') {
        resolved++;
        if (!RESOLVED_OUTCOMES.has(c.outcome)) v.push({ ...at, message: `${c.resourceId}: conflict ${c.id} on ${n.node} is resolved but its decision says ${c.outcome}` });
      } else if (c.status === 'pending') {
        pending++;
        if (!PENDING_OUTCOMES.has(c.outcome)) v.push({ ...at, message: `${c.resourceId}: conflict ${c.id} on ${n.node} is pending but its decision says ${c.outcome}` });
        else if (n.live && !c.referenced) v.push({ ...at, message: `${c.resourceId}: conflict ${c.id} on ${n.node} is pending but the resource's state no longer refers to it (orphaned)` });
      } else {
        v.push({ ...at, message: `${c.resourceId}: conflict ${c.id} on ${n.node} has status ${c.status}` });
      }
    }
    for (const id of n.reported) if (!ids.has(id)) v.push({ from: 0, to: input.endMs, message: `conflict ${id} reported by ${n.node} during the run is missing from its records` });
  }
  return result('conflicts_accounted', v, `every conflict record is resolved (${resolved}) or pending with a decision record (${pending}), counted per node`, {
    resolved,
    pending,
  });
}

export function checkConsensusUnique(input: CheckInput): CheckResult {
  const byKey = new Map<string, Map<string, { node: string; t: number }[]>>();
  for (const d of input.decisions) {
    let values = byKey.get(d.key);
    if (!values) {
      values = new Map<string, { node: string; t: number }[]>();
      byKey.set(d.key, values);
    }
    const l = values.get(d.value) ?? [];
    l.push({ node: d.node, t: d.t });
    values.set(d.value, l);
  }
  const v: Violation[] = [];
  for (const [key, values] of byKey) {
    if (values.size <= 1) continue;
    const ts = [...values.values()].flat().map((x) => x.t);
    const desc = [...values.entries()].map(([val, who]) => `${who.map((w) => w.node).join(',')} → ${val.length > 120 ? `${val.slice(0, 117)}...` : val}`);
    v.push({ resourceId: resourceOfKey(key), from: Math.min(...ts) - 5_000, to: Math.max(...ts) + 1_000, message: `paxos key ${key} decided ${values.size} values: ${desc.join(' | ')}` });
  }
  return result('consensus_unique', v, `${byKey.size} Paxos keys decided, each with one value on every node`, { keys: byKey.size });
}

/** `lease:vm-0001:3` → `vm/vm-0001`; conflict keys have no resource in them. */
function resourceOfKey(key: string): string | undefined {
  const m = /^lease:(.+):\d+$/.exec(key);
  return m ? `vm/${m[1]}` : undefined;
}

export function checkQuorumDecisions(input: CheckInput): CheckResult {
  if (input.quorum.live < input.quorum.need) {
    return result('quorum_decisions', [], `not applicable: only ${input.quorum.live} of ${input.quorum.need} needed voters live at the end`);
  }
  const v: Violation[] = [];
  for (const n of input.nodes) {
    if (!n.live) continue;
    for (const c of n.conflicts) {
      if (c.status === 'pending' && c.awaitsQuorum) {
        v.push({
          resourceId: c.resourceId,
          from: 0,
          to: input.endMs,
          message: `${c.resourceId}: conflict ${c.id} on ${n.node} still waits for a ${c.awaitsQuorum} decision at the end, with a quorum available`,
        });
      }
    }
  }
  return result('quorum_decisions', v, 'no conflict left waiting for a quorum decision while a quorum was available');
}

export function checkVmsRunning(input: CheckInput): CheckResult {
  const v = input.placement.map((p) => ({ resourceId: `vm/${p.vmId}`, from: p.since, to: input.endMs, message: `${p.vmId}: ${p.problem}` }));
  return result('vms_running', v, 'every VM runs where its agreed final state places it, and nowhere else');
}

export function runCheckers(input: CheckInput): CheckResult[] {
  return [
    checkConvergence(input),
    checkNoLostWrites(input),
    checkNoSplitBrain(input),
    checkConflictsAccounted(input),
    checkConsensusUnique(input),
    checkQuorumDecisions(input),
    checkVmsRunning(input),
  ];
}
