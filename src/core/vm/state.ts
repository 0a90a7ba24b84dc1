import type { JsonValue } from '../codec/canonical.js';
import { MAX_DEPTH, canonicalJson, sortCodeUnits } from '../codec/canonical.js';
import { describeValue } from '../codec/describe.js';
import { DwcpError } from '../errors.js';

export const POWER_STATES = ['running', 'paused', 'stopped', 'crashed'] as const;
export type PowerState = (typeof POWER_STATES)[number];

export const MIGRATION_STATUSES = ['none', 'pending', 'migrating', 'completed', 'failed'] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

export interface NetworkInterface {
  name: string;
  mac?: string;
  ip?: string;
  [extra: string]: unknown;
}

export interface DiskConfig {
  path: string;
  size_gb: number;
  [extra: string]: unknown;
}

/**
 * A VM's replicated state (INTERFACE.md). Unknown fields are kept as they are (JSON values).
 * `host` is the node id of the hypervisor host the VM is placed on.
 */
export interface VMState {
  id: string;
  host: string;
  power_state: PowerState;
  cpu_allocation: number;
  memory_mb: number;
  network_config: { interfaces: NetworkInterface[]; [extra: string]: unknown };
  disk_config: DiskConfig[];
  snapshot_id: string | null;
  migration_status: MigrationStatus;
  [extra: string]: unknown;
}

/** A host's own announced record (`host/<node id>`), used for capacity invariants. */
export interface HostRecord {
  id: string;
  capacity: { cpu: number; memory_mb: number };
  labels: Record<string, string>;
  /** The host's configured priority (highest_priority strategy, split-brain keeper choice). */
  priority?: number;
}

/** A VM state or host record with a wrong type or value. `meta.field` is the dotted path. */
export class InvalidVmStateError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVALID_VM_STATE', message, meta);
  }
}

const VM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** The resource id of a VM. */
export function vmResourceId(vmId: string): string {
  return `vm/${vmId}`;
}

export function hostResourceId(nodeId: string): string {
  return `host/${nodeId}`;
}

export function assertVmId(id: unknown, field = 'id'): asserts id is string {
  if (typeof id !== 'string' || !VM_ID.test(id)) {
    throw new InvalidVmStateError(
      `${field} must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit, got ${describeValue(id)}`,
      { field },
    );
  }
}

/**
 * Validate an untrusted VM state and return it normalised: optional fields get their defaults
 * (`network_config: {interfaces: []}`, `disk_config: []`, `snapshot_id: null`, `migration_status: 'none'`);
 * unknown fields are kept (in the input's key order). Throws {@link InvalidVmStateError} naming the
 * field and what was expected.
 */
export function parseVmState(input: unknown, where = 'vm'): VMState {
  return parseVm(input, where);
}

/**
 * {@link parseVmState} with every object of the result (unknown fields' included) rebuilt with its
 * keys in code-unit order, the order of canonical JSON, and the result's canonical JSON text
 * (canonicalJson's), made by `JSON.stringify`: with every key in canonical order the two agree,
 * except that objects put integer-like keys ("7") first, in numeric order; a state with such a key
 * (rare: unknown fields only) is encoded by canonicalJson. The write path's encoder: several times
 * less garbage than canonicalJson's own.
 */
export function parseVmStateText(input: unknown, where = 'vm'): { readonly state: VMState; readonly text: string } {
  const draft = parseVm(input, where);
  const flags: CopyFlags = { integerKeys: false };
  const net = draft.network_config;
  const state = sortedMembers(
    draft,
    {
      disk_config: draft.disk_config.map((d) => sortedMembers(d, { path: d.path, size_gb: d.size_gb }, flags, 2)),
      network_config: sortedMembers(net, { interfaces: net.interfaces.map((nic) => sortedMembers(nic, { name: nic.name }, flags, 3)) }, flags, 1),
    },
    flags,
    0,
  ) as VMState;
  return { state, text: flags.integerKeys ? canonicalJson(state) : JSON.stringify(state) };
}

/** Whether an object key is one that objects order numerically before the others (an array index). */
function isIntegerKey(k: string): boolean {
  const c = k.charCodeAt(0);
  if (c < 0x30 || c > 0x39) return false;
  const n = Number(k);
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1 && String(n) === k;
}

/**
 * A new plain object with `src`'s members and `fixed`'s (which win), keys in code-unit order; members
 * not in `fixed` are copied by {@link sortedCopy}. `flags.integerKeys` is set if any key is integer-like.
 */
function sortedMembers(src: Record<string, unknown>, fixed: Record<string, unknown>, flags: CopyFlags, depth: number): Record<string, unknown> {
  // The keys go in a scratch list per depth (no array per object: this runs for every VM write).
  const keys = (keyScratch[depth] ??= []);
  keys.length = 0;
  for (const k in src) if (Object.hasOwn(src, k)) keys.push(k);
  for (const k in fixed) if (Object.hasOwn(fixed, k) && !Object.hasOwn(src, k)) keys.push(k);
  sortCodeUnits(keys);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = Object.hasOwn(fixed, k) ? fixed[k] : sortedCopy(src[k], flags, depth + 1);
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
    if (!flags.integerKeys && isIntegerKey(k)) flags.integerKeys = true;
  }
  return out;
}

const keyScratch: string[][] = [];

interface CopyFlags {
  integerKeys: boolean;
}

/**
 * A copy of an unknown field's value with every object's keys in code-unit order. Only values that
 * passed the encodability check (plain data, bounded depth) are copied; anything else is kept as it is.
 */
function sortedCopy(value: unknown, flags: CopyFlags, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((e) => sortedCopy(e, flags, depth + 1));
  return sortedMembers(value as Record<string, unknown>, NO_FIXED, flags, depth);
}

const NO_FIXED: Record<string, unknown> = Object.freeze({});

function parseVm(input: unknown, where: string): VMState {
  if (!isPlainObject(input)) throw bad(where, 'an object');
  const o = input;
  assertVmId(o.id, `${where}.id`);
  if (typeof o.host !== 'string' || o.host.length === 0 || o.host.length > 64) {
    throw bad(`${where}.host`, 'a host node id (non-empty string, at most 64 characters)', o.host);
  }
  if (!(POWER_STATES as readonly unknown[]).includes(o.power_state)) {
    throw bad(`${where}.power_state`, `one of ${POWER_STATES.join(', ')}`, o.power_state);
  }
  const cpu = o.cpu_allocation;
  if (typeof cpu !== 'number' || !Number.isInteger(cpu) || cpu < 0 || cpu > 1_000_000) {
    throw bad(`${where}.cpu_allocation`, 'a non-negative integer (vCPUs)', cpu);
  }
  const mem = o.memory_mb;
  if (typeof mem !== 'number' || !Number.isInteger(mem) || mem < 0 || mem > 2 ** 40) {
    throw bad(`${where}.memory_mb`, 'a non-negative integer (MiB)', mem);
  }
  const net = o.network_config === undefined ? { interfaces: [] } : o.network_config;
  if (!isPlainObject(net)) throw bad(`${where}.network_config`, 'an object {interfaces: [...]}', net);
  const ifaces = net.interfaces === undefined ? [] : net.interfaces;
  if (!Array.isArray(ifaces)) throw bad(`${where}.network_config.interfaces`, 'an array', ifaces);
  const interfaces = ifaces.map((nic, i) => parseInterface(nic, `${where}.network_config.interfaces[${i}]`));
  const disks = o.disk_config === undefined ? [] : o.disk_config;
  if (!Array.isArray(disks)) throw bad(`${where}.disk_config`, 'an array of {path, size_gb}', disks);
  const disk_config = disks.map((d, i) => parseDisk(d, `${where}.disk_config[${i}]`));
  const snap = o.snapshot_id === undefined ? null : o.snapshot_id;
  if (snap !== null && (typeof snap !== 'string' || snap.length > 256)) {
    throw bad(`${where}.snapshot_id`, 'a string or null', snap);
  }
  const mig = o.migration_status === undefined ? 'none' : o.migration_status;
  if (!(MIGRATION_STATUSES as readonly unknown[]).includes(mig)) {
    throw bad(`${where}.migration_status`, `one of ${MIGRATION_STATUSES.join(', ')}`, mig);
  }
  const out: VMState = {
    ...(o as Record<string, JsonValue>),
    id: o.id,
    host: o.host,
    power_state: o.power_state as PowerState,
    cpu_allocation: cpu,
    memory_mb: mem,
    network_config: { ...(net as Record<string, JsonValue>), interfaces },
    disk_config,
    snapshot_id: snap,
    migration_status: mig as MigrationStatus,
  };
  // Unknown fields are kept, so they must be replicable JSON too (finite numbers, not too deep). The
  // walk only checks; the encoder runs only to name what is wrong (it decides, and throws).
  if (!extrasEncodable(out)) {
    try {
      canonicalJson(out);
    } catch (err) {
      throw new InvalidVmStateError(`${where}: ${err instanceof Error ? err.message : 'not encodable'}`, { field: where, expected: 'plain JSON values' });
    }
  }
  return out;
}

const CHECKED_TOP: ReadonlySet<string> = new Set([
  'id',
  'host',
  'power_state',
  'cpu_allocation',
  'memory_mb',
  'network_config',
  'disk_config',
  'snapshot_id',
  'migration_status',
]);

/**
 * Whether the parts of a parsed state that parseVmState did not type-check — unknown keys at the top,
 * in `network_config`, in each interface and each disk — are encodable, at their nesting depth. The
 * checked parts are strings, finite numbers, null and fresh plain objects and arrays.
 */
function extrasEncodable(vm: VMState): boolean {
  for (const k of Object.keys(vm)) if (!CHECKED_TOP.has(k) && !memberEncodable(vm[k], 1)) return false;
  const net = vm.network_config;
  for (const k of Object.keys(net)) if (k !== 'interfaces' && !memberEncodable(net[k], 2)) return false;
  // The lists are fresh arrays from map(), which keeps holes: a hole is an element the encoder refuses.
  const nics = net.interfaces;
  for (let i = 0; i < nics.length; i++) {
    const nic = nics[i];
    if (nic === undefined) return false;
    for (const k of Object.keys(nic)) if (k !== 'name' && k !== 'mac' && k !== 'ip' && !memberEncodable(nic[k], 4)) return false;
  }
  const disks = vm.disk_config;
  for (let i = 0; i < disks.length; i++) {
    const d = disks[i];
    if (d === undefined) return false;
    for (const k of Object.keys(d)) if (k !== 'path' && k !== 'size_gb' && !memberEncodable(d[k], 3)) return false;
  }
  return true;
}

/** An object member: `undefined` is skipped by the encoder. */
function memberEncodable(value: unknown, depth: number): boolean {
  return value === undefined || encodable(value, depth);
}

/**
 * Whether {@link canonicalJson} can encode `value` (at nesting `depth`), without encoding it: strings,
 * finite numbers, booleans, null, arrays, plain objects (`undefined` members skipped), at most
 * MAX_DEPTH levels. Never true where the encoder would throw.
 */
function encodable(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!encodable(value[i], depth + 1)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      const obj = value as Record<string, unknown>;
      for (const k of Object.keys(obj)) {
        const v = obj[k];
        if (v !== undefined && !encodable(v, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function parseInterface(nic: unknown, where: string): NetworkInterface {
  if (!isPlainObject(nic)) throw bad(where, 'an object {name, mac?, ip?}', nic);
  if (typeof nic.name !== 'string' || nic.name.length === 0 || nic.name.length > 64) {
    throw bad(`${where}.name`, 'a non-empty interface name', nic.name);
  }
  if (nic.mac !== undefined && (typeof nic.mac !== 'string' || !MAC.test(nic.mac))) {
    throw bad(`${where}.mac`, 'a MAC address like 52:54:00:12:34:56', nic.mac);
  }
  if (nic.ip !== undefined && (typeof nic.ip !== 'string' || nic.ip.length === 0 || nic.ip.length > 64)) {
    throw bad(`${where}.ip`, 'an IP address string', nic.ip);
  }
  const out = { ...(nic as Record<string, JsonValue>), name: nic.name } as NetworkInterface;
  if (typeof nic.mac === 'string') out.mac = nic.mac.toLowerCase();
  return out;
}

function parseDisk(d: unknown, where: string): DiskConfig {
  if (!isPlainObject(d)) throw bad(where, 'an object {path, size_gb}', d);
  if (typeof d.path !== 'string' || d.path.length === 0 || d.path.length > 4096) {
    throw bad(`${where}.path`, 'a non-empty path', d.path);
  }
  if (typeof d.size_gb !== 'number' || !Number.isFinite(d.size_gb) || d.size_gb < 0) {
    throw bad(`${where}.size_gb`, 'a non-negative number (GiB)', d.size_gb);
  }
  return { ...(d as Record<string, JsonValue>), path: d.path, size_gb: d.size_gb };
}

/** Validate a host record (`host/<id>`). */
export function parseHostRecord(input: unknown, where = 'host'): HostRecord {
  if (!isPlainObject(input)) throw bad(where, 'an object {id, capacity, labels}', input);
  if (typeof input.id !== 'string' || input.id.length === 0) throw bad(`${where}.id`, 'a node id', input.id);
  const cap = input.capacity;
  if (!isPlainObject(cap)) throw bad(`${where}.capacity`, 'an object {cpu, memory_mb}', cap);
  if (typeof cap.cpu !== 'number' || !Number.isInteger(cap.cpu) || cap.cpu < 0) {
    throw bad(`${where}.capacity.cpu`, 'a non-negative integer', cap.cpu);
  }
  if (typeof cap.memory_mb !== 'number' || !Number.isInteger(cap.memory_mb) || cap.memory_mb < 0) {
    throw bad(`${where}.capacity.memory_mb`, 'a non-negative integer', cap.memory_mb);
  }
  const labels = input.labels === undefined ? {} : input.labels;
  if (!isPlainObject(labels) || !Object.values(labels).every((v) => typeof v === 'string')) {
    throw bad(`${where}.labels`, 'an object of string values', labels);
  }
  const priority = input.priority;
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) {
    throw bad(`${where}.priority`, 'a number', priority);
  }
  const out: HostRecord = { id: input.id, capacity: { cpu: cap.cpu, memory_mb: cap.memory_mb }, labels: labels as Record<string, string> };
  if (priority !== undefined) out.priority = priority;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(field: string, expected: string, got?: unknown): InvalidVmStateError {
  const shown = got === undefined ? 'nothing' : describeValue(got);
  return new InvalidVmStateError(`${field}: expected ${expected}, got ${shown}`, { field, expected });
}
