/**
 * The VM field rules (spec, "VM Field Resolution Rules"): how concurrent versions of one VM's state
 * merge, field by field. Pure; the result depends on the set of versions only, never on their order.
 *
 * | field | default rule | order / tie-break |
 * |---|---|---|
 * | `power_state` | `power_state_priority` | running > paused > stopped > crashed; equal states on different hosts: the greater host id |
 * | `host` | `follows_power_state` | the host of the (power_state, host) pair that won, so a VM is never "running" on a host no version ran it on |
 * | `cpu_allocation`, `memory_mb` | `maximum` | avoid resource starvation |
 * | `network_config` | `network_semantic_merge` | union of interfaces by name; see network-merge.ts |
 * | `disk_config` | `disk_union` | union by path, the larger size per path; see network-merge.ts |
 * | `snapshot_id` | `last_write_wins` | newest hlc, exact hlc tie: the greater value |
 * | `migration_status` | `migration_priority` | migrating > pending > failed > completed > none (an active migration wins) |
 * | `id` | `identity` | must be equal in every version |
 * | any other field | `last_write_wins` | as snapshot_id; a field missing from the newest version is dropped |
 *
 * `ctx.fieldStrategies` may name a field with `last_write_wins` or `highest_priority` (the production
 * policy's `power_state: highest_priority`): that field is decided by that rule instead (for
 * `power_state` the (power_state, host) pair moves together unless `host` has its own strategy).
 * `operational_transform` applies to unknown string fields (three-way text merge against the
 * ancestor); `semantic_merge` means the default rule; other strategies cannot decide one field, and a
 * note says the default rule was used. Why tie-breaks look at values, not node ids: field-merge.ts.
 *
 * Delete vs update (ARCHITECTURE.md: "by default the update wins if it leaves the VM running, otherwise
 * the delete wins; the policy may say otherwise"). The rule must be a join (commutative, associative,
 * idempotent), so that merging versions pairwise in any order gives the same bytes as merging them all
 * at once. Two things make it one:
 *
 * 1. Existence is decided like the `power_state` field, with "deleted" as one more value, by the rule
 *    that decides `power_state`:
 *    - default (`power_state_priority`): running > deleted > paused > stopped > crashed. The VM is
 *      deleted when a delete is among the inputs and no update is running. Running is the top of the
 *      order, so a result that kept the VM running stays running whatever it meets later.
 *    - `power_state: highest_priority`: the version from the highest-priority node (priority, then
 *      node id) decides; a delete and an update from that same node: the delete.
 *    - `power_state: last_write_wins`: the newest version (hlc) decides; an exact hlc tie: the delete.
 *    In each case the result carries the winner's ordering key (hlc and origin below), so merging it
 *    again decides the same way.
 * 2. A delete that won does not forget the updates it won over: the tombstone's data is
 *    `{overridden: {state, hlc, origin}}` — the merged state of those updates, with the hlc and origin a
 *    live merge of them would carry (`null` when it won over no update). A later update that beats the
 *    tombstone (a running one, by default) is merged with that state as if every version had met at
 *    once. Without it, "stopped update + delete" then "+ running update" would drop the stopped
 *    update's fields that "(stopped + running) + delete" keeps.
 *
 * Every live version and every tombstone's overridden state are merged by the field rules (the live
 * merge). When the update wins, the result is the live merge with the newest live hlc (LWW fields stay
 * ordered by the hlc of the writes they came from) and the live origin; the clock still joins the
 * tombstones' clocks. When the delete wins, the result is a tombstone with the newest hlc of all inputs
 * and their origin. Origins are the newest input's (hlc, then node id), or the highest-priority node's
 * when a field uses `highest_priority`.
 */
import { assertHlc, compareHlc, type Hlc } from '../clock/hlc.js';
import { assertNodeId } from '../clock/node-ids.js';
import { DwcpError } from '../errors.js';
import {
  compareEntries,
  compareNodes,
  isPlainObject,
  maxHlc,
  newestEntry,
  plural,
  type MergeEntry,
} from '../resolve/common.js';
import { ResolutionError } from '../resolve/errors.js';
import {
  ABSENT,
  candidates,
  decideObjectField,
  fieldOf,
  isFieldRule,
  jsonEqual,
  mergedOrigin,
  pickHighestPriority,
  pickLww,
  pickRanked,
  show,
  showOf,
  type Candidate,
  type FieldContext,
  type FieldRule,
  type Picked,
} from '../resolve/field-merge.js';
import type { FieldDecision } from '../resolve/types.js';
import { mergeDisks, mergeNetworkConfigs } from './network-merge.js';
import {
  InvalidVmStateError,
  parseVmState,
  type DiskConfig,
  type MigrationStatus,
  type NetworkInterface,
  type PowerState,
  type VMState,
} from './state.js';

/** Higher wins. running > paused > stopped > crashed. */
export const POWER_STATE_PRIORITY: Readonly<Record<PowerState, number>> = Object.freeze({
  running: 3,
  paused: 2,
  stopped: 1,
  crashed: 0,
});

/** Higher wins. migrating > pending > failed > completed > none. */
export const MIGRATION_STATUS_PRIORITY: Readonly<Record<MigrationStatus, number>> = Object.freeze({
  migrating: 4,
  pending: 3,
  failed: 2,
  completed: 1,
  none: 0,
});

/** The default rule of each known field (any other field: `last_write_wins`). */
/** Power states by their priority (index = {@link POWER_STATE_PRIORITY}). */
const POWER_STATES_BY_PRIORITY: readonly PowerState[] = ['crashed', 'stopped', 'paused', 'running'];

export const VM_FIELD_RULES: Readonly<Record<string, string>> = Object.freeze({
  id: 'identity',
  power_state: 'power_state_priority',
  host: 'follows_power_state',
  cpu_allocation: 'maximum',
  memory_mb: 'maximum',
  network_config: 'network_semantic_merge',
  disk_config: 'disk_union',
  snapshot_id: 'last_write_wins',
  migration_status: 'migration_priority',
});

const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(VM_FIELD_RULES));

export type VmMergeContext = FieldContext;

export interface VmMergeResult {
  /** The merged state; `null` when the delete won. */
  readonly state: VMState | null;
  /** The result version's data: the state, or the tombstone's data ({@link TombstoneData} or null). */
  readonly data: VMState | TombstoneData | null;
  readonly deleted: boolean;
  /** The hlc the result version carries (see the module comment on tombstones). */
  readonly hlc: Hlc;
  /** The origin the result version carries (the highest-priority node when a field uses highest_priority). */
  readonly origin: string;
  readonly fieldDecisions: readonly FieldDecision[];
  readonly notes: readonly string[];
}

/**
 * Merge concurrent versions of one VM's state by the field rules (module comment). `versions` in any
 * order; `ancestor` (optional) feeds three-way text merges of fields configured with
 * `operational_transform`. Throws {@link InvalidVmStateError} when a live version's data is not a valid
 * VM state or the versions disagree on the VM id, and {@link ResolutionError} when there is no version.
 */
export function mergeVmStates(
  versions: readonly MergeEntry[],
  ancestor: MergeEntry | undefined,
  ctx: VmMergeContext,
): VmMergeResult {
  if (versions.length === 0) {
    throw new ResolutionError('vm field rules: no versions to merge', { reason: 'no_versions' });
  }
  const sorted = versionOrder(versions);
  let tombstones: MergeEntry[] | undefined;
  let overridden: LiveEntry[] | undefined;
  const updates: LiveEntry[] = [];
  for (const e of sorted) {
    if (e.deleted) {
      (tombstones ??= []).push(e);
      const o = overriddenOf(e);
      if (o !== undefined) (overridden ??= []).push(o);
    } else {
      updates.push({ id: e.id, hlc: e.hlc, origin: e.origin, data: parseVmState(e.data, `version ${e.id}`), deleted: false });
    }
  }
  // The live merge's inputs: the updates and the states tombstones overrode, in version order.
  const live = overridden === undefined ? updates : [...updates, ...overridden].sort(compareEntries);
  const verdict = tombstones === undefined ? undefined : deleteVsUpdate(updates, tombstones, ctx);
  if (live.length === 0) {
    // Only plain tombstones: the deciding ones give the hlc and origin (all of them by default).
    const deciding = verdict!.deciding!;
    const newest = newestEntry(deciding);
    return {
      state: null,
      data: null,
      deleted: true,
      hlc: newest.hlc,
      origin: mergedOrigin(deciding, ctx),
      fieldDecisions: [{ field: '*', rule: 'tombstone', winner: newest.id, detail: 'every version is a tombstone' }],
      notes: [`vm field rules: all ${plural(sorted.length, 'version')} are tombstones`],
    };
  }
  const vmId = live[0]!.data.id;
  for (const e of live) {
    if (e.data.id !== vmId) {
      const ids = [...new Set(live.map((x) => x.data.id))].sort();
      throw new InvalidVmStateError(`versions disagree on the VM id (${ids.join(', ')}): they are not versions of one VM`, {
        field: 'id',
        ids,
      });
    }
  }
  const ancestorData = ancestor && !ancestor.deleted ? ancestor.data : undefined;
  const merged = mergeLive(live, ancestorData, ctx);
  const hlc = maxHlc(live);
  const origin = mergedOrigin(live, ctx);
  if (tombstones === undefined) return { state: merged.state, data: merged.state, fieldDecisions: merged.fieldDecisions, notes: merged.notes, deleted: false, hlc, origin };

  const tombs = tombstones.map((t) => t.id).join(', ');
  const kept = overridden === undefined ? '' : `, with the state of the ${plural(overridden.length, 'update')} earlier deletes overrode`;
  if (!verdict!.deleted) {
    return {
      state: merged.state,
      data: merged.state,
      deleted: false,
      hlc,
      origin,
      fieldDecisions: [
        {
          field: '*',
          rule: 'delete_vs_update',
          winner: live.length === 1 ? live[0]!.id : 'merged',
          detail: `${verdict!.why}, so it wins over the delete (${tombs})${kept}`,
        },
        ...merged.fieldDecisions,
      ],
      notes: [
        ...merged.notes,
        `delete vs update: ${verdict!.note}; it wins over ${plural(tombstones.length, 'tombstone')} (${tombs})${kept}`,
      ],
    };
  }
  // The hlc and origin: of the live merge and the deciding tombstones (module comment, point 1).
  const deciding = [...live, ...verdict!.deciding!];
  const tombstone: TombstoneData = { overridden: { state: merged.state, hlc, origin } };
  return {
    state: null,
    data: tombstone,
    deleted: true,
    hlc: maxHlc(deciding),
    origin: mergedOrigin(deciding, ctx),
    fieldDecisions: [
      {
        field: '*',
        rule: 'delete_vs_update',
        winner: verdict!.winner ?? newestEntry(tombstones).id,
        detail: `${verdict!.why}, so the delete (${tombs}) wins; the tombstone keeps the merged update`,
      },
    ],
    notes: [
      ...merged.notes,
      `delete vs update: ${verdict!.note}; the delete wins (the merged update of ${plural(live.length, 'version')} is kept in the tombstone)`,
    ],
  };
}

/** The data of a tombstone that won over updates (see the module comment). */
export interface TombstoneData {
  readonly overridden: { readonly state: VMState; readonly hlc: Hlc; readonly origin: string };
}

/**
 * The overridden state a tombstone carries, as a live merge input (its id is the tombstone's, marked),
 * or undefined for a plain tombstone (`data: null`). Throws {@link InvalidVmStateError} naming the field
 * when the data is neither.
 */
function overriddenOf(t: MergeEntry): LiveEntry | undefined {
  const d = t.data;
  if (d === null || d === undefined) return undefined;
  const where = `tombstone ${t.id}.data`;
  if (!isPlainObject(d) || Object.keys(d).length !== 1 || !isPlainObject(d.overridden)) {
    throw new InvalidVmStateError(`${where}: expected null or {overridden: {state, hlc, origin}}`, { field: where });
  }
  const o = d.overridden;
  try {
    assertHlc(o.hlc, `${where}.overridden.hlc`);
    assertNodeId(o.origin, `${where}.overridden.origin`);
  } catch (err) {
    if (err instanceof InvalidVmStateError || !(err instanceof DwcpError)) throw err;
    throw new InvalidVmStateError(err.message, { field: `${where}.overridden`, cause: err.code });
  }
  return {
    id: `${t.id}:overridden`,
    hlc: o.hlc,
    origin: o.origin,
    data: parseVmState(o.state, `${where}.overridden.state`),
    deleted: false,
  };
}

interface Verdict {
  readonly deleted: boolean;
  /**
   * When the delete wins: the tombstones of its class (the top key under the rule; every tombstone by
   * default). Only they give the result its hlc and origin: a tombstone that an update beat may be
   * forgotten by a pairwise merge, so it must not matter for the full set either.
   */
  readonly deciding?: readonly MergeEntry[];
  /** The deciding version, when one version decided (a rule other than the default). */
  readonly winner?: string;
  /** Why, for the decision detail and the note. */
  readonly why: string;
  readonly note: string;
}

/**
 * Does the delete win? (module comment, point 1). `updates` are the live versions (not the states
 * tombstones carry: those already lost to a tombstone that is among `tombstones`).
 */
function deleteVsUpdate(updates: readonly LiveEntry[], tombstones: readonly MergeEntry[], ctx: VmMergeContext): Verdict {
  const rule = ctx.fieldStrategies.power_state;
  if (rule === 'highest_priority' || rule === 'last_write_wins') {
    const better =
      rule === 'highest_priority'
        ? (a: MergeEntry, b: MergeEntry): number => compareNodes(ctx, a.origin, b.origin)
        : (a: MergeEntry, b: MergeEntry): number => compareHlc(a.hlc, b.hlc);
    const by = rule === 'highest_priority' ? 'highest-priority node' : 'newest write';
    let bestDelete = tombstones[0]!;
    for (const t of tombstones) if (better(t, bestDelete) > 0 || (better(t, bestDelete) === 0 && compareEntries(t, bestDelete) > 0)) bestDelete = t;
    let bestUpdate: LiveEntry | undefined;
    for (const u of updates) if (bestUpdate === undefined || better(u, bestUpdate) > 0 || (better(u, bestUpdate) === 0 && compareEntries(u, bestUpdate) > 0)) bestUpdate = u;
    if (bestUpdate === undefined || better(bestDelete, bestUpdate) >= 0) {
      const why = `power_state ${rule}: the ${by} is the delete ${bestDelete.id} (${bestDelete.origin})`;
      const deciding = tombstones.filter((t) => better(t, bestDelete) === 0);
      return { deleted: true, deciding, winner: bestDelete.id, why, note: why };
    }
    const why = `power_state ${rule}: the ${by} is the update ${bestUpdate.id} (${bestUpdate.origin})`;
    return { deleted: false, winner: bestUpdate.id, why, note: why };
  }
  for (const u of updates) {
    if (u.data.power_state === 'running') {
      return { deleted: false, why: 'the update leaves the VM running', note: 'the merged update is running' };
    }
  }
  const best = updates.length === 0 ? undefined : Math.max(...updates.map((u) => POWER_STATE_PRIORITY[u.data.power_state]));
  const state = best === undefined ? 'absent' : POWER_STATES_BY_PRIORITY[best]!;
  return {
    deleted: true,
    deciding: tombstones,
    why: updates.length === 0 ? 'no update besides states earlier deletes overrode' : `the merged update is ${state}, not running`,
    note: updates.length === 0 ? 'only tombstones' : `the merged update of ${plural(updates.length, 'version')} would be ${state}`,
  };
}

/** The versions in `compareEntries` order without repeated ids (the input itself when it already is). */
function versionOrder(versions: readonly MergeEntry[]): readonly MergeEntry[] {
  let ordered = true;
  for (let i = 1; i < versions.length; i++) {
    const a = versions[i - 1]!;
    const b = versions[i]!;
    if (a.id === b.id || compareEntries(a, b) >= 0) {
      ordered = false;
      break;
    }
  }
  if (ordered) return versions;
  return [...versions].sort(compareEntries).filter((v, i, all) => i === 0 || all[i - 1]!.id !== v.id);
}

/** A live version with its data parsed as a VM state. */
interface LiveEntry extends MergeEntry {
  readonly data: VMState;
}

interface LiveMerge {
  readonly state: VMState;
  readonly fieldDecisions: FieldDecision[];
  readonly notes: string[];
}

/** How a field's value is rendered in decision details. */
type Render = (x: Candidate | Picked) => string;

/** A (power_state, host) pair: `running on hv-01`. */
function renderPair(x: Candidate | Picked): string {
  const [power, on] = x.value as [PowerState, string];
  return `${power} on ${on}`;
}

const powerRank = (v: unknown): number => POWER_STATE_PRIORITY[(v as [PowerState, string])[0]];
const numberRank = (v: unknown): number => v as number;
const migrationRank = (v: unknown): number => MIGRATION_STATUS_PRIORITY[v as MigrationStatus];

type Getter = (e: LiveEntry) => unknown;
const pairOf: Getter = (e) => [e.data.power_state, e.data.host];
const hostOf: Getter = (e) => e.data.host;
const cpuOf: Getter = (e) => e.data.cpu_allocation;
const memoryOf: Getter = (e) => e.data.memory_mb;
const networkOf: Getter = (e) => e.data.network_config;
const disksOf: Getter = (e) => e.data.disk_config;
const snapshotOf: Getter = (e) => e.data.snapshot_id;
const migrationOf: Getter = (e) => e.data.migration_status;

/** The default rules of the known fields other than `id` and `host`. */
type DefaultRule = 'pair' | 'maximum' | 'network' | 'disks' | 'lww' | 'migration';

/** One merge of live versions: collects the field decisions and notes. */
class LiveMergeRun {
  readonly decisions: FieldDecision[] = [];
  readonly notes: string[] = [];

  constructor(
    readonly live: readonly LiveEntry[],
    readonly ctx: VmMergeContext,
  ) {}

  /** The configured per-field rule, when it can decide the field; `undefined` = the VM default. */
  override(field: string, allowText: boolean): FieldRule | undefined {
    const s = this.ctx.fieldStrategies[field];
    if (s === undefined || s === 'semantic_merge') return undefined;
    if (isFieldRule(s) && (s !== 'operational_transform' || allowText)) return s;
    this.notes.push(`field ${field}: strategy ${s} cannot decide this field; used the VM rule ${VM_FIELD_RULES[field] ?? 'last_write_wins'}`);
    return undefined;
  }

  /**
   * Decide one known field: unanimous (every value equal to the first; the last one is kept), else the
   * override, else the field's default rule. Returns the value.
   */
  decide(field: string, defaultRule: string, get: Getter, rule: FieldRule | undefined, byDefault: DefaultRule): unknown {
    const live = this.live;
    const n = live.length;
    const lastEntry = live[n - 1]!;
    if (byDefault === 'pair') {
      // (power_state, host) pairs of strings: equal when both strings are.
      const { power_state, host } = lastEntry.data;
      let same = true;
      for (let i = 0; i < n - 1 && same; i++) same = live[i]!.data.power_state === power_state && live[i]!.data.host === host;
      if (same) return this.unanimous(field, rule ?? defaultRule, lastEntry, [power_state, host], `${power_state} on ${host}`);
    } else {
      const last = get(lastEntry);
      if (n === 1) return this.unanimous(field, rule ?? defaultRule, lastEntry, last, show(last));
      const first = get(live[0]!);
      let same = true;
      for (let i = 1; i < n - 1 && same; i++) same = jsonEqual(get(live[i]!), first);
      if (same && jsonEqual(last, first)) return this.unanimous(field, rule ?? defaultRule, lastEntry, last, show(last));
    }
    return this.decideBetween(field, defaultRule, candidates(live, get as (e: MergeEntry) => unknown), rule, byDefault);
  }

  private unanimous(field: string, rule: string, last: LiveEntry, value: unknown, shown: string): unknown {
    this.decisions.push({ field, rule, winner: last.id, detail: `all versions agree: ${shown}` });
    return value;
  }

  /** Decide a field whose values differ. */
  private decideBetween(field: string, defaultRule: string, cands: readonly Candidate[], rule: FieldRule | undefined, byDefault: DefaultRule): unknown {
    const render: Render = byDefault === 'pair' ? renderPair : showOf;
    let value: unknown;
    let winner: string;
    let detail: string;
    if (rule === 'highest_priority') {
      const p = pickHighestPriority(cands, this.ctx);
      value = p.value;
      winner = p.winner.id;
      detail = `value of the highest-priority node ${p.winner.origin}: ${render(p)}${others(cands, value, render)}`;
    } else if (rule === 'last_write_wins') {
      const p = pickLww(cands);
      value = p.value;
      winner = p.winner.id;
      detail = `newest write (hlc, then value): ${render(p)}${others(cands, value, render)}`;
    } else {
      let p: Picked;
      let what: string;
      switch (byDefault) {
        case 'pair':
          p = pickRanked(cands, powerRank);
          what = 'wins (running > paused > stopped > crashed; the same state on two hosts: the greater host id)';
          break;
        case 'maximum':
          p = pickRanked(cands, numberRank);
          what = 'is the maximum';
          break;
        case 'lww':
          p = pickLww(cands);
          what = 'is the newest write (hlc, then value)';
          break;
        case 'migration':
          p = pickRanked(cands, migrationRank);
          what = 'wins (migrating > pending > failed > completed > none)';
          break;
        case 'network': {
          const m = mergeNetworkConfigs(cands);
          const nics = (m.value.interfaces as NetworkInterface[]).map((x) => x.name).join(', ');
          value = m.value;
          winner = mergedWinner(cands, value);
          detail = `union of interfaces by name: [${nics}]${m.conflicts.length ? `; ${m.conflicts.join('; ')}` : ''}`;
          this.decisions.push({ field, rule: rule ?? defaultRule, winner, detail });
          return value;
        }
        case 'disks': {
          const lists: DiskConfig[][] = new Array<DiskConfig[]>(cands.length);
          for (let i = 0; i < cands.length; i++) lists[i] = cands[i]!.value as DiskConfig[];
          const m = mergeDisks(lists);
          const paths = m.value.map((d) => `${d.path} (${d.size_gb} GB)`).join(', ');
          value = m.value;
          winner = mergedWinner(cands, value);
          detail = `union by path, larger size per path: [${paths}]${m.conflicts.length ? `; ${m.conflicts.join('; ')}` : ''}`;
          this.decisions.push({ field, rule: rule ?? defaultRule, winner, detail });
          return value;
        }
      }
      value = p.value;
      winner = p.winner.id;
      detail = `${render(p)} ${what}${others(cands, value, render)}`;
    }
    this.decisions.push({ field, rule: rule ?? defaultRule, winner, detail });
    return value;
  }
}

function mergeLive(live: readonly LiveEntry[], ancestorData: unknown, ctx: VmMergeContext): LiveMerge {
  const run = new LiveMergeRun(live, ctx);
  const { decisions, notes } = run;

  // id: equal everywhere (checked by the caller).
  const id = live[0]!.data.id;
  decisions.push({ field: 'id', rule: 'identity', winner: live[live.length - 1]!.id, detail: `every version is VM ${id}` });

  // power_state and host move together: the VM runs where the winning version ran it.
  const pair = run.decide('power_state', 'power_state_priority', pairOf, run.override('power_state', false), 'pair') as [PowerState, string];
  const power_state = pair[0];
  const pairWinner = decisions[decisions.length - 1]!.winner;
  let host = pair[1];
  const hostRule = run.override('host', false);
  if (hostRule) {
    host = run.decide('host', 'follows_power_state', hostOf, hostRule, 'lww') as string;
  } else {
    decisions.push({ field: 'host', rule: 'follows_power_state', winner: pairWinner, detail: `the host of the power_state winner: ${host}` });
  }

  const cpu_allocation = run.decide('cpu_allocation', 'maximum', cpuOf, run.override('cpu_allocation', false), 'maximum') as number;
  const memory_mb = run.decide('memory_mb', 'maximum', memoryOf, run.override('memory_mb', false), 'maximum') as number;
  const network_config = run.decide(
    'network_config',
    'network_semantic_merge',
    networkOf,
    run.override('network_config', false),
    'network',
  ) as VMState['network_config'];
  const disk_config = run.decide('disk_config', 'disk_union', disksOf, run.override('disk_config', false), 'disks') as DiskConfig[];
  const snapshot_id = run.decide('snapshot_id', 'last_write_wins', snapshotOf, run.override('snapshot_id', false), 'lww') as string | null;
  const migration_status = run.decide(
    'migration_status',
    'migration_priority',
    migrationOf,
    run.override('migration_status', false),
    'migration',
  ) as MigrationStatus;

  // The state's keys in the order `{...extra, id, host, ...}` would give them, where `extra` holds the
  // unknown fields in sorted order (assigned one by one, so a `__proto__` field is never an own key).
  // Built by assignment: much faster than spreading a freshly built object into a literal.
  const state = {} as Record<string, unknown>;
  let unknownFields: Set<string> | undefined;
  for (const e of live) for (const k of Object.keys(e.data)) if (!KNOWN_FIELDS.has(k)) (unknownFields ??= new Set()).add(k);
  if (unknownFields) {
    for (const field of [...unknownFields].sort()) {
      const rule = run.override(field, true) ?? 'last_write_wins';
      const d = decideObjectField(field, rule, live, fieldOf(ancestorData, field), ctx, notes);
      if (d.value !== ABSENT && field !== '__proto__') state[field] = d.value;
      decisions.push(d.decision);
    }
  }
  state.id = id;
  state.host = host;
  state.power_state = power_state;
  state.cpu_allocation = cpu_allocation;
  state.memory_mb = memory_mb;
  state.network_config = network_config;
  state.disk_config = disk_config;
  state.snapshot_id = snapshot_id;
  state.migration_status = migration_status;
  return { state: state as VMState, fieldDecisions: decisions, notes };
}

/** `, over X, Y`: the other values that lost. */
function others(cands: readonly Candidate[], winning: unknown, render: Render): string {
  let out = '';
  let rest: string[] | undefined;
  for (const c of cands) {
    if (jsonEqual(c.value, winning)) continue;
    const r = render(c);
    if (rest === undefined) {
      rest = [r];
      out = r;
    } else if (!rest.includes(r)) {
      rest.push(r);
      out += ', ' + r;
    }
  }
  return rest === undefined ? '' : ` (over ${out})`;
}

/** A combined value: won by the last input holding exactly that value, else `merged`. */
function mergedWinner(cands: readonly Candidate[], value: unknown): string {
  for (let i = cands.length - 1; i >= 0; i--) if (jsonEqual(cands[i]!.value, value)) return cands[i]!.entry.id;
  return 'merged';
}
