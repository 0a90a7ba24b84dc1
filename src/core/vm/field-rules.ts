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
 * Tombstones (ARCHITECTURE.md): the live versions are merged first; if the merged update leaves the VM
 * `running`, the update wins over the delete(s); otherwise the delete wins and the result is a
 * tombstone. When the update wins, the result's hlc is the newest *live* version's hlc (the content is
 * the updates', and LWW fields must stay ordered by the hlc of the writes they came from — this keeps
 * "running updates + a delete" associative); the clock still joins the tombstones' clocks. When the
 * delete wins, the tombstone carries the newest hlc of all inputs. The result's origin is the newest
 * input's (hlc, then node id), or the highest-priority node's when a field uses `highest_priority` —
 * over the live versions when the update wins, over all inputs otherwise. Known limit,
 * inherent in the rule: a delete that beat a stopped update forgets that update, so with a stopped
 * update, a running update and a delete, the pairwise merge order can matter (the result is still
 * commutative and the same for every order of the full set).
 */
import type { Hlc } from '../clock/hlc.js';
import type { JsonValue } from '../codec/canonical.js';
import {
  compareEntries,
  maxHlc,
  newestEntry,
  plural,
  type MergeEntry,
} from '../resolve/common.js';
import { ResolutionError } from '../resolve/errors.js';
import {
  ABSENT,
  candidates,
  decideField,
  fieldOf,
  isFieldRule,
  jsonEqual,
  mergedOrigin,
  pickHighestPriority,
  pickLww,
  pickRanked,
  show,
  unanimous,
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
  const sorted = [...versions].sort(compareEntries).filter((v, i, all) => i === 0 || all[i - 1]!.id !== v.id);
  const tombstones = sorted.filter((v) => v.deleted);
  const liveRaw = sorted.filter((v) => !v.deleted);
  const newestAll = newestEntry(sorted);
  if (liveRaw.length === 0) {
    return {
      state: null,
      deleted: true,
      hlc: newestAll.hlc,
      origin: mergedOrigin(sorted, ctx),
      fieldDecisions: [{ field: '*', rule: 'tombstone', winner: newestAll.id, detail: 'every version is a tombstone' }],
      notes: [`vm field rules: all ${plural(sorted.length, 'version')} are tombstones`],
    };
  }
  const live: MergeEntry[] = liveRaw.map((e) => ({ ...e, data: parseVmState(e.data, `version ${e.id}`) }));
  const ids = new Set(live.map((e) => (e.data as VMState).id));
  if (ids.size > 1) {
    throw new InvalidVmStateError(`versions disagree on the VM id (${[...ids].sort().join(', ')}): they are not versions of one VM`, {
      field: 'id',
      ids: [...ids].sort(),
    });
  }
  const ancestorData = ancestor && !ancestor.deleted ? ancestor.data : undefined;
  const merged = mergeLive(live, ancestorData, ctx);
  const hlc = maxHlc(live);
  const origin = mergedOrigin(live, ctx);
  if (tombstones.length === 0) return { ...merged, deleted: false, hlc, origin };

  const tombs = tombstones.map((t) => t.id).join(', ');
  if (merged.state.power_state === 'running') {
    return {
      state: merged.state,
      deleted: false,
      hlc,
      origin,
      fieldDecisions: [
        {
          field: '*',
          rule: 'delete_vs_update',
          winner: live.length === 1 ? live[0]!.id : 'merged',
          detail: `the update leaves the VM running, so it wins over the delete (${tombs})`,
        },
        ...merged.fieldDecisions,
      ],
      notes: [
        ...merged.notes,
        `delete vs update: the merged update is running; it wins over ${plural(tombstones.length, 'tombstone')} (${tombs})`,
      ],
    };
  }
  return {
    state: null,
    deleted: true,
    hlc: newestAll.hlc,
    origin: mergedOrigin(sorted, ctx),
    fieldDecisions: [
      {
        field: '*',
        rule: 'delete_vs_update',
        winner: newestEntry(tombstones).id,
        detail: `the merged update is ${merged.state.power_state}, not running, so the delete (${tombs}) wins`,
      },
    ],
    notes: [
      ...merged.notes,
      `delete vs update: the merged update of ${plural(live.length, 'version')} would be ${merged.state.power_state}; the delete wins`,
    ],
  };
}

interface LiveMerge {
  readonly state: VMState;
  readonly fieldDecisions: FieldDecision[];
  readonly notes: string[];
}

function mergeLive(live: readonly MergeEntry[], ancestorData: unknown, ctx: VmMergeContext): LiveMerge {
  const decisions: FieldDecision[] = [];
  const notes: string[] = [];
  const st = (e: MergeEntry): VMState => e.data as VMState;

  /** The configured per-field rule, when it can decide the field; `undefined` = the VM default. */
  const override = (field: string, allowText: boolean): FieldRule | undefined => {
    const s = ctx.fieldStrategies[field];
    if (s === undefined || s === 'semantic_merge') return undefined;
    if (isFieldRule(s) && (s !== 'operational_transform' || allowText)) return s;
    notes.push(`field ${field}: strategy ${s} cannot decide this field; used the VM rule ${VM_FIELD_RULES[field] ?? 'last_write_wins'}`);
    return undefined;
  };
  /** Decide one field: unanimous, else the override, else the field's default rule. */
  const decide = (
    field: string,
    defaultRule: string,
    cands: readonly Candidate[],
    rule: FieldRule | undefined,
    byDefault: () => Choice,
    render: (v: unknown, canonical?: string) => string = show,
  ): unknown => {
    let c: Choice;
    if (unanimous(cands)) {
      const last = cands[cands.length - 1]!;
      c = { value: last.value, winner: last.entry.id, detail: `all versions agree: ${render(last.value, last.canonical)}` };
    } else if (rule === 'highest_priority') {
      const p = pickHighestPriority(cands, ctx);
      c = { value: p.value, winner: p.winner.id, detail: `value of the highest-priority node ${p.winner.origin}: ${render(p.value, p.canonical)}${others(cands, p.value, render)}` };
    } else if (rule === 'last_write_wins') {
      const p = pickLww(cands);
      c = { value: p.value, winner: p.winner.id, detail: `newest write (hlc, then value): ${render(p.value, p.canonical)}${others(cands, p.value, render)}` };
    } else {
      c = byDefault();
    }
    decisions.push({ field, rule: rule ?? defaultRule, winner: c.winner, detail: c.detail });
    return c.value;
  };
  const picked = (cands: readonly Candidate[], p: Picked, what: string, render: (v: unknown, canonical?: string) => string = show): Choice => ({
    value: p.value,
    winner: p.winner.id,
    detail: `${render(p.value, p.canonical)} ${what}${others(cands, p.value, render)}`,
  });

  // id: equal everywhere (checked by the caller).
  const id = st(live[0]!).id;
  decisions.push({ field: 'id', rule: 'identity', winner: live[live.length - 1]!.id, detail: `every version is VM ${id}` });

  // power_state and host move together: the VM runs where the winning version ran it.
  const renderPair = (v: unknown): string => {
    const [power, on] = v as [PowerState, string];
    return `${power} on ${on}`;
  };
  const pairs = candidates(live, (e) => [st(e).power_state, st(e).host]);
  const pair = decide(
    'power_state',
    'power_state_priority',
    pairs,
    override('power_state', false),
    () =>
      picked(
        pairs,
        pickRanked(pairs, (v) => POWER_STATE_PRIORITY[(v as [PowerState, string])[0]]),
        'wins (running > paused > stopped > crashed; the same state on two hosts: the greater host id)',
        renderPair,
      ),
    renderPair,
  ) as [PowerState, string];
  const power_state = pair[0];
  const pairWinner = decisions[decisions.length - 1]!.winner;
  let host = pair[1];
  const hostRule = override('host', false);
  if (hostRule) {
    const hosts = candidates(live, (e) => st(e).host);
    host = decide('host', 'follows_power_state', hosts, hostRule, () => picked(hosts, pickLww(hosts), '')) as string;
  } else {
    decisions.push({ field: 'host', rule: 'follows_power_state', winner: pairWinner, detail: `the host of the power_state winner: ${host}` });
  }

  const numeric = (field: 'cpu_allocation' | 'memory_mb'): number => {
    const cands = candidates(live, (e) => st(e)[field]);
    return decide(field, 'maximum', cands, override(field, false), () =>
      picked(cands, pickRanked(cands, (v) => v as number), 'is the maximum'),
    ) as number;
  };
  const cpu_allocation = numeric('cpu_allocation');
  const memory_mb = numeric('memory_mb');

  const netCands = candidates(live, (e) => st(e).network_config);
  const network_config = decide('network_config', 'network_semantic_merge', netCands, override('network_config', false), () => {
    const m = mergeNetworkConfigs(netCands);
    const nics = (m.value.interfaces as NetworkInterface[]).map((n) => n.name).join(', ');
    return mergedChoice(netCands, m.value, `union of interfaces by name: [${nics}]${m.conflicts.length ? `; ${m.conflicts.join('; ')}` : ''}`);
  }) as VMState['network_config'];

  const diskCands = candidates(live, (e) => st(e).disk_config);
  const disk_config = decide('disk_config', 'disk_union', diskCands, override('disk_config', false), () => {
    const m = mergeDisks(diskCands.map((c) => c.value as DiskConfig[]));
    const paths = m.value.map((d) => `${d.path} (${d.size_gb} GB)`).join(', ');
    return mergedChoice(diskCands, m.value, `union by path, larger size per path: [${paths}]${m.conflicts.length ? `; ${m.conflicts.join('; ')}` : ''}`);
  }) as DiskConfig[];

  const snapCands = candidates(live, (e) => st(e).snapshot_id);
  const snapshot_id = decide('snapshot_id', 'last_write_wins', snapCands, override('snapshot_id', false), () =>
    picked(snapCands, pickLww(snapCands), 'is the newest write (hlc, then value)'),
  ) as string | null;

  const migCands = candidates(live, (e) => st(e).migration_status);
  const migration_status = decide('migration_status', 'migration_priority', migCands, override('migration_status', false), () =>
    picked(
      migCands,
      pickRanked(migCands, (v) => MIGRATION_STATUS_PRIORITY[v as MigrationStatus]),
      'wins (migrating > pending > failed > completed > none)',
    ),
  ) as MigrationStatus;

  const extra: Record<string, unknown> = {};
  const unknownFields = new Set<string>();
  for (const e of live) for (const k of Object.keys(st(e))) if (!KNOWN_FIELDS.has(k)) unknownFields.add(k);
  for (const field of [...unknownFields].sort()) {
    const rule = override(field, true) ?? 'last_write_wins';
    const d = decideField(field, rule, candidates(live, (e) => fieldOf(e.data, field)), fieldOf(ancestorData, field), ctx, notes);
    if (d.value !== ABSENT) extra[field] = d.value;
    decisions.push(d.decision);
  }

  const state: VMState = {
    ...(extra as Record<string, JsonValue>),
    id,
    host,
    power_state,
    cpu_allocation,
    memory_mb,
    network_config,
    disk_config,
    snapshot_id,
    migration_status,
  };
  return { state, fieldDecisions: decisions, notes };
}

interface Choice {
  readonly value: unknown;
  /** The version id whose value won, or `merged`. */
  readonly winner: string;
  readonly detail: string;
}

/** `, over X, Y`: the other values that lost. */
function others(cands: readonly Candidate[], winning: unknown, render: (v: unknown, canonical?: string) => string): string {
  const rest = [...new Set(cands.filter((c) => !jsonEqual(c.value, winning)).map((c) => render(c.value, c.canonical)))];
  return rest.length === 0 ? '' : ` (over ${rest.join(', ')})`;
}

/** A combined value: won by the last input holding exactly that value, else `merged`. */
function mergedChoice(cands: readonly Candidate[], value: unknown, detail: string): Choice {
  const same = cands.filter((c) => jsonEqual(c.value, value));
  const holder = same[same.length - 1];
  return { value, winner: holder ? holder.entry.id : 'merged', detail };
}
