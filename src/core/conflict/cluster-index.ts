/**
 * Cluster-level checks of a candidate VM state (a merged or incoming version) against the VMs and
 * hosts a replica currently knows: the conflict types that two versions alone cannot show.
 *
 * | finding | when | severity |
 * |---|---|---|
 * | `resource_contention` | another VM has the same IP, MAC (case-insensitive) or disk path | high if the candidate and one of those VMs are active (running/paused); medium otherwise |
 * | `invariant_violation` | the candidate is active and its host's active (running + paused) vCPUs or memory would exceed capacity × overcommit | critical |
 * | `invariant_violation` | the candidate is active and the cluster's active vCPUs or memory would exceed total capacity × overcommit (subject `cluster`) | critical |
 * | `semantic` | the candidate is active on a host that has announced no host record | high |
 *
 * The index keeps the VM states by reference (no copies), tables from IP, MAC and disk path to VM ids
 * (one id, or a list while several VMs share a key), each host's count of active VMs with their vCPU
 * and memory sums, and cluster totals, all maintained incrementally by upsert/remove. A check is
 * O(#interfaces + #disks) table lookups; only when it finds something does it list the VMs involved
 * (for a host over its capacity, by a scan of the indexed VMs).
 * The candidate replaces the indexed VM with the same id (if any) in every projection, so checking
 * an update of a VM does not count the VM twice.
 *
 * Until a host has announced its record (`host/<node id>`), VMs active on it are reported as
 * `semantic`, and count toward the cluster's usage but not its capacity: load host records first.
 * While no host record at all is known, the capacity and placement checks are skipped (there is
 * nothing to check against) and only contention is reported. A capacity of 0 in a record (the
 * default) means "not declared": that host's CPU (or memory) is not checked, and the cluster check of
 * that dimension counts only the hosts that declared it (their capacity and the usage on them, plus
 * the usage on hosts with no record).
 *
 * {@link ClusterIndex.check} judges one candidate (a merged result) from its side. For any incoming
 * VM version, {@link ClusterIndex.contentionOf} reports the IPs, MACs and disks it shares with other
 * VMs in a form that does not depend on which VM arrived last, so that every node flags the same pair
 * the same way.
 */
import { hashKey, moveSlots, newSlots, SlotKeys } from '../collections/slot-keys.js';
import { ResourceMismatchError } from '../errors.js';
import type { HostRecord, PowerState, VMState } from '../vm/state.js';
import { conflictId } from './conflict-id.js';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from './detector-config.js';
import { InvalidConflictInputError, InvalidDetectorConfigError } from './errors.js';
import type { Finding, FindingType } from './finding.js';
import { round3, type DetectedConflict } from './classify.js';
import { maxSeverity, severityRank, type Severity } from './types.js';
import { compareVersions, type Version } from './version.js';

/** Allowed allocation per unit of capacity: a host may run capacity × overcommit. Both > 0. */
export interface Overcommit {
  readonly cpu: number;
  readonly memory: number;
}

export const DEFAULT_OVERCOMMIT: Overcommit = Object.freeze({ cpu: 1, memory: 1 });

export interface ClusterIndexInit {
  readonly overcommit?: Overcommit;
}

/** Active (running + paused) allocation on one host, or in the whole cluster. */
export interface Usage {
  readonly cpu: number;
  readonly memory_mb: number;
  /** Number of active VMs. */
  readonly vms: number;
}

export type ContendedKey = 'ip' | 'mac' | 'disk';

/** The VMs holding one IP, MAC or disk path: one id (the usual case), or a set when several share it. */
export type Holders = string | Set<string>;

interface HostUsage {
  cpu: number;
  mem: number;
  /** Active VMs on the host. */
  vms: number;
}

/** Running and paused VMs hold their vCPUs and memory on their host. */
export function isActive(power: PowerState): boolean {
  return power === 'running' || power === 'paused';
}

const MAX_LISTED = 8;

export class ClusterIndex {
  /**
   * The indexed VMs: the states themselves, by reference (never copied). Every other projection
   * (IP/MAC/disk maps, host usage) is derived from them, so nothing else is kept per VM.
   */
  private readonly vms = new StateTable();
  private readonly hosts = new Map<string, HostRecord>();
  private readonly byIp = new KeyTable();
  private readonly byMac = new KeyTable();
  private readonly byDisk = new KeyTable();
  private readonly perHost = new Map<string, HostUsage>();
  private usedCpu = 0;
  private usedMem = 0;
  private activeCount = 0;
  private capCpu = 0;
  private capMem = 0;
  /** Hosts whose record declares no CPU (capacity.cpu 0), resp. no memory: their usage is not judged. */
  private readonly noCpu = new Set<string>();
  private readonly noMem = new Set<string>();
  private over: Overcommit = DEFAULT_OVERCOMMIT;

  constructor(init: ClusterIndexInit = {}) {
    if (init.overcommit) this.setOvercommit(init.overcommit);
  }

  get overcommit(): Overcommit {
    return this.over;
  }

  /** Number of indexed VMs. */
  get vmCount(): number {
    return this.vms.size;
  }

  /** Number of known host records. */
  get hostCount(): number {
    return this.hosts.size;
  }

  /** Set the overcommit ratios; each must be a finite number > 0 (InvalidDetectorConfigError otherwise). */
  setOvercommit(o: Overcommit): void {
    for (const k of ['cpu', 'memory'] as const) {
      const v = o[k];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new InvalidDetectorConfigError(`overcommit.${k}: expected a finite number > 0, got ${JSON.stringify(v)}`, {
          field: `overcommit.${k}`,
        });
      }
    }
    this.over = Object.freeze({ cpu: o.cpu, memory: o.memory });
  }

  /** Add or replace a VM (keyed by `vm.id`). The state is kept by reference: do not mutate it afterwards. */
  upsertVm(vm: VMState): void {
    const id = vm.id;
    const old = this.vms.get(id);
    if (old === undefined) {
      this.vms.set(id, vm);
      this.indexKeys(id, vm);
      this.addUsage(vm);
      return;
    }
    // An update usually keeps its IPs, MACs and disks (then the key tables are left alone) and its host.
    this.vms.set(id, vm);
    if (!sameKeys(old, vm)) {
      this.unindexKeys(id, old);
      this.indexKeys(id, vm);
    }
    if (isActive(old.power_state) && isActive(vm.power_state) && old.host === vm.host) {
      const u = this.perHost.get(vm.host);
      if (u) {
        u.cpu += vm.cpu_allocation - old.cpu_allocation;
        u.mem += vm.memory_mb - old.memory_mb;
      }
      this.usedCpu += vm.cpu_allocation - old.cpu_allocation;
      this.usedMem += vm.memory_mb - old.memory_mb;
    } else {
      this.removeUsage(old);
      this.addUsage(vm);
    }
  }

  /** Remove a VM (deleted, or tombstoned). Returns whether it was indexed. */
  removeVm(id: string): boolean {
    const old = this.vms.get(id);
    if (!old) return false;
    this.unindexKeys(id, old);
    this.removeUsage(old);
    this.vms.delete(id);
    return true;
  }

  getVm(id: string): VMState | undefined {
    return this.vms.get(id);
  }

  /** Add or replace a host's announced record. */
  upsertHost(host: HostRecord): void {
    const old = this.hosts.get(host.id);
    if (old) {
      this.capCpu -= old.capacity.cpu;
      this.capMem -= old.capacity.memory_mb;
    }
    this.hosts.set(host.id, host);
    this.capCpu += host.capacity.cpu;
    this.capMem += host.capacity.memory_mb;
    if (host.capacity.cpu === 0) this.noCpu.add(host.id);
    else this.noCpu.delete(host.id);
    if (host.capacity.memory_mb === 0) this.noMem.add(host.id);
    else this.noMem.delete(host.id);
  }

  removeHost(id: string): boolean {
    const old = this.hosts.get(id);
    if (!old) return false;
    this.capCpu -= old.capacity.cpu;
    this.capMem -= old.capacity.memory_mb;
    this.hosts.delete(id);
    this.noCpu.delete(id);
    this.noMem.delete(id);
    return true;
  }

  getHost(id: string): HostRecord | undefined {
    return this.hosts.get(id);
  }

  /** Active allocation on a host (zeros for a host with no active VM). */
  hostUsage(hostId: string): Usage {
    const u = this.perHost.get(hostId);
    return u ? { cpu: u.cpu, memory_mb: u.mem, vms: u.vms } : { cpu: 0, memory_mb: 0, vms: 0 };
  }

  /** Active allocation in the whole cluster, and the sum of the known hosts' capacities. */
  clusterUsage(): Usage & { readonly capacityCpu: number; readonly capacityMemoryMb: number } {
    return { cpu: this.usedCpu, memory_mb: this.usedMem, vms: this.activeCount, capacityCpu: this.capCpu, capacityMemoryMb: this.capMem };
  }

  /** Sorted ids of the VMs holding an IP, a MAC (any case) or a disk path. */
  vmsUsing(kind: ContendedKey, key: string): string[] {
    const map = kind === 'ip' ? this.byIp : kind === 'mac' ? this.byMac : this.byDisk;
    const holders = map.holdersOf(kind === 'mac' ? key.toLowerCase() : key);
    if (holders === undefined) return [];
    return typeof holders === 'string' ? [holders] : [...holders].sort();
  }

  /**
   * Check a candidate state of a VM against the rest of the cluster, as if it replaced the indexed VM
   * with the same id. Does not modify the index. Findings come in a fixed order: contention by
   * interface (IP, then MAC) and by disk, then host capacity (CPU, memory), then cluster capacity,
   * then semantic ones.
   */
  check(candidate: VMState): Finding[] {
    const out: Finding[] = [];
    const id = candidate.id;
    const active = isActive(candidate.power_state);
    const nics = candidate.network_config?.interfaces ?? [];
    for (let i = 0; i < nics.length; i++) {
      const nic = nics[i]!;
      if (typeof nic.ip === 'string') this.contention(out, this.byIp, nic.ip, id, active, `network_config.interfaces[${i}].ip`, 'IP');
      if (typeof nic.mac === 'string') {
        this.contention(out, this.byMac, nic.mac.toLowerCase(), id, active, `network_config.interfaces[${i}].mac`, 'MAC');
      }
    }
    const disks = candidate.disk_config ?? [];
    for (let i = 0; i < disks.length; i++) {
      const d = disks[i]!;
      if (typeof d.path === 'string') this.contention(out, this.byDisk, d.path, id, active, `disk_config[${i}].path`, 'disk');
    }
    if (!active) return out;

    const host = candidate.host;
    const old = this.vms.get(id);
    const cpu = candidate.cpu_allocation;
    const mem = candidate.memory_mb;
    const rec = this.hosts.get(host);
    if (rec) {
      const usage = this.perHost.get(host);
      const sameHostOld = old !== undefined && isActive(old.power_state) && old.host === host ? old : undefined;
      const othersCpu = (usage?.cpu ?? 0) - (sameHostOld?.cpu_allocation ?? 0);
      const othersMem = (usage?.mem ?? 0) - (sameHostOld?.memory_mb ?? 0);
      const cpuLimit = rec.capacity.cpu * this.over.cpu;
      const memLimit = rec.capacity.memory_mb * this.over.memory;
      // A capacity of 0 is the record's default: "not declared", not "holds nothing".
      const overCpu = rec.capacity.cpu > 0 && othersCpu + cpu > cpuLimit;
      const overMem = rec.capacity.memory_mb > 0 && othersMem + mem > memLimit;
      if (overCpu || overMem) {
        const others = usage ? this.activeOn(host, id) : [];
        if (overCpu) {
          out.push({
            type: 'invariant_violation',
            severity: 'critical',
            field: 'cpu_allocation',
            subject: host,
            detail: `host ${host} would have ${othersCpu + cpu} active vCPUs (this VM ${cpu}, others ${othersCpu}), over its limit ${cpuLimit} (capacity ${rec.capacity.cpu} × overcommit ${this.over.cpu})`,
            otherVmIds: others,
          });
        }
        if (overMem) {
          out.push({
            type: 'invariant_violation',
            severity: 'critical',
            field: 'memory_mb',
            subject: host,
            detail: `host ${host} would have ${othersMem + mem} MiB of active memory (this VM ${mem}, others ${othersMem}), over its limit ${memLimit} (capacity ${rec.capacity.memory_mb} × overcommit ${this.over.memory})`,
            otherVmIds: others,
          });
        }
      }
    }
    // Capacity and placement can only be judged once some host has announced its capacity: a
    // replica that knows no host records (a fresh node, a test without hosts) checks contention only.
    if (this.hosts.size === 0) return out;
    const activeOld = old !== undefined && isActive(old.power_state) ? old : undefined;
    // Per dimension, only hosts that declared it: their capacity against the usage on them (and on
    // hosts with no record at all, which count as usage only).
    const cpuHosts = this.hosts.size - this.noCpu.size;
    if (cpuHosts > 0) {
      const totalCpu =
        this.usedCpu -
        this.usageOn(this.noCpu, 'cpu') -
        (activeOld && !this.noCpu.has(activeOld.host) ? activeOld.cpu_allocation : 0) +
        (this.noCpu.has(host) ? 0 : cpu);
      const clusterCpuLimit = this.capCpu * this.over.cpu;
      if (totalCpu > clusterCpuLimit) {
        out.push({
          type: 'invariant_violation',
          severity: 'critical',
          field: 'cpu_allocation',
          subject: 'cluster',
          detail: `the cluster would have ${totalCpu} active vCPUs, over its limit ${clusterCpuLimit} (capacity ${this.capCpu} of ${cpuHosts} hosts × overcommit ${this.over.cpu})`,
          otherVmIds: [],
        });
      }
    }
    const memHosts = this.hosts.size - this.noMem.size;
    if (memHosts > 0) {
      const totalMem =
        this.usedMem -
        this.usageOn(this.noMem, 'mem') -
        (activeOld && !this.noMem.has(activeOld.host) ? activeOld.memory_mb : 0) +
        (this.noMem.has(host) ? 0 : mem);
      const clusterMemLimit = this.capMem * this.over.memory;
      if (totalMem > clusterMemLimit) {
        out.push({
          type: 'invariant_violation',
          severity: 'critical',
          field: 'memory_mb',
          subject: 'cluster',
          detail: `the cluster would have ${totalMem} MiB of active memory, over its limit ${clusterMemLimit} (capacity ${this.capMem} of ${memHosts} hosts × overcommit ${this.over.memory})`,
          otherVmIds: [],
        });
      }
    }
    if (!rec) {
      out.push({
        type: 'semantic',
        severity: 'high',
        field: 'host',
        subject: host,
        detail: `VM ${id} is ${candidate.power_state} on ${JSON.stringify(host)}, which is not a known host (no host record announced)`,
        otherVmIds: [],
      });
    }
    return out;
  }

  /**
   * The IPs, MACs and disk paths `vm` shares with OTHER indexed VMs, for any incoming or local version
   * of a VM (not only a merged conflict result): two VMs given the same IP on the two sides of a
   * partition are both fast-forwards, and only this check sees them meet. `vm` replaces the indexed
   * state with its id (checking before or after {@link upsertVm} gives the same answer).
   *
   * Each {@link Contention} depends only on the key and the states of the VMs holding it, not on which
   * of them is `vm`: a node that received vm-2 while holding vm-1 and a node that received vm-1 while
   * holding vm-2 report the same contention (same id, same VM, same finding) once they hold the same
   * states. Sorted by kind (ip, mac, disk), then key. O(#interfaces + #disks) lookups when nothing is
   * shared.
   */
  contentionOf(vm: VMState): Contention[] {
    // The usual case: no key of any kind is held by two VMs. If `vm` itself is what the index holds,
    // another VM holding one of its keys would make that key shared, so there is nothing to report.
    if (this.byIp.shared === 0 && this.byMac.shared === 0 && this.byDisk.shared === 0 && this.vms.get(vm.id) === vm) return [];
    let out: Contention[] | undefined;
    let seen: Set<string> | undefined;
    const one = (kind: ContendedKey, table: KeyTable, key: string): void => {
      const holders = table.holdersOf(key);
      if (holders === undefined || holders === vm.id) return;
      if (typeof holders !== 'string' && holders.length === 1 && holders[0] === vm.id) return;
      const tag = `${kind}:${key}`;
      if (seen?.has(tag)) return;
      (seen ??= new Set()).add(tag);
      const ids = new Set(typeof holders === 'string' ? [holders] : holders);
      ids.add(vm.id);
      const vmIds = [...ids].sort();
      const stateOf = (id: string): VMState | undefined => (id === vm.id ? vm : this.vms.get(id));
      let active = 0;
      for (const id of vmIds) {
        const st = stateOf(id);
        if (st !== undefined && isActive(st.power_state)) active++;
      }
      const severity = active >= 2 ? 'high' : 'medium';
      const owner = vmIds[vmIds.length - 1]!;
      const what = kind === 'ip' ? 'IP' : kind === 'mac' ? 'MAC' : 'disk';
      const detail = `${what} ${key} is assigned to ${vmIds.length} VMs: ${listed(vmIds)}${active >= 2 ? ` (${active} active)` : ''}`;
      (out ??= []).push({
        kind,
        key,
        vmIds,
        severity,
        vmId: owner,
        id: conflictId(`vm/${owner}`, vmIds, `contention:${kind}:${key}`),
        finding: {
          type: 'resource_contention',
          severity,
          field: fieldHolding(stateOf(owner), kind, key),
          subject: key,
          detail,
          otherVmIds: vmIds.filter((x) => x !== owner),
        },
      });
    };
    const nics = vm.network_config?.interfaces ?? NONE;
    for (const nic of nics) if (typeof nic.ip === 'string') one('ip', this.byIp, nic.ip);
    for (const nic of nics) if (typeof nic.mac === 'string') one('mac', this.byMac, lowerMac(nic.mac));
    for (const d of vm.disk_config ?? NONE) if (typeof d.path === 'string') one('disk', this.byDisk, d.path);
    if (out === undefined) return [];
    const rank = { ip: 0, mac: 1, disk: 2 } as const;
    return out.sort((a, b) => rank[a.kind] - rank[b.kind] || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Active usage on the given hosts (the hosts without a declared capacity: usually none). */
  private usageOn(hosts: ReadonlySet<string>, what: 'cpu' | 'mem'): number {
    let sum = 0;
    for (const h of hosts) sum += this.perHost.get(h)?.[what] ?? 0;
    return sum;
  }

  private contention(
    out: Finding[],
    map: KeyTable,
    key: string,
    id: string,
    active: boolean,
    field: string,
    what: string,
  ): void {
    const holders = map.holdersOf(key);
    if (holders === undefined || holders === id) return;
    const others = typeof holders === 'string' ? [holders] : sortedWithout(holders, id);
    if (others.length === 0) return;
    let anyActive = false;
    if (active) {
      for (const o of others) {
        const other = this.vms.get(o);
        if (other !== undefined && isActive(other.power_state)) {
          anyActive = true;
          break;
        }
      }
    }
    const shown = others.length <= MAX_LISTED ? others.join(', ') : `${others.slice(0, MAX_LISTED).join(', ')} and ${others.length - MAX_LISTED} more`;
    out.push({
      type: 'resource_contention',
      severity: anyActive ? 'high' : 'medium',
      field,
      subject: key,
      detail: `${what} ${key} of VM ${id} is also assigned to ${shown}${anyActive ? ' (both active)' : ''}`,
      otherVmIds: others,
    });
  }

  private indexKeys(id: string, vm: VMState): void {
    for (const nic of vm.network_config?.interfaces ?? NONE) {
      if (typeof nic.ip === 'string') this.byIp.add(nic.ip, id);
      if (typeof nic.mac === 'string') this.byMac.add(lowerMac(nic.mac), id);
    }
    for (const d of vm.disk_config ?? NONE) if (typeof d.path === 'string') this.byDisk.add(d.path, id);
  }

  private unindexKeys(id: string, vm: VMState): void {
    for (const nic of vm.network_config?.interfaces ?? NONE) {
      if (typeof nic.ip === 'string') this.byIp.remove(nic.ip, id);
      if (typeof nic.mac === 'string') this.byMac.remove(lowerMac(nic.mac), id);
    }
    for (const d of vm.disk_config ?? NONE) if (typeof d.path === 'string') this.byDisk.remove(d.path, id);
  }

  /** Sorted ids of the active VMs on a host, but `except` (a scan: only for reporting a finding). */
  private activeOn(host: string, except: string): string[] {
    const out: string[] = [];
    this.vms.forEach((id, vm) => {
      if (id !== except && vm.host === host && isActive(vm.power_state)) out.push(id);
    });
    return out.sort();
  }

  private addUsage(vm: VMState): void {
    if (!isActive(vm.power_state)) return;
    let u = this.perHost.get(vm.host);
    if (!u) {
      u = { cpu: 0, mem: 0, vms: 0 };
      this.perHost.set(vm.host, u);
    }
    u.cpu += vm.cpu_allocation;
    u.mem += vm.memory_mb;
    u.vms++;
    this.usedCpu += vm.cpu_allocation;
    this.usedMem += vm.memory_mb;
    this.activeCount++;
  }

  private removeUsage(vm: VMState): void {
    if (!isActive(vm.power_state)) return;
    const u = this.perHost.get(vm.host);
    if (u) {
      u.cpu -= vm.cpu_allocation;
      u.mem -= vm.memory_mb;
      u.vms--;
      if (u.vms === 0) this.perHost.delete(vm.host);
    }
    this.usedCpu -= vm.cpu_allocation;
    this.usedMem -= vm.memory_mb;
    this.activeCount--;
  }
}

const NONE: readonly never[] = [];

/**
 * One IP, MAC or disk path held by two or more VMs (see {@link ClusterIndex.contentionOf}), the same on
 * every node that holds the same VM states.
 */
export interface Contention {
  readonly kind: ContendedKey;
  /** The IP, the MAC in lower case, or the disk path. */
  readonly key: string;
  /** Every VM holding it, sorted (at least two). */
  readonly vmIds: readonly string[];
  /** `high` when two or more of them are active (running/paused), else `medium`. */
  readonly severity: 'high' | 'medium';
  /**
   * The VM it is reported on: the greatest id in `vmIds`, a choice every node makes alike (neither VM
   * came "first": the two sides of a partition assigned the key concurrently).
   */
  readonly vmId: string;
  /** `conflictId('vm/' + vmId, vmIds, 'contention:<kind>:<key>')`: the same on every node. */
  readonly id: string;
  /** As a finding of `vmId`'s state (its own field path), for {@link findingsToConflict} on `vm/<vmId>`. */
  readonly finding: Finding;
}

/** `a, b, c`, or the first {@link MAX_LISTED} and how many more. */
function listed(ids: readonly string[]): string {
  return ids.length <= MAX_LISTED ? ids.join(', ') : `${ids.slice(0, MAX_LISTED).join(', ')} and ${ids.length - MAX_LISTED} more`;
}

/** The path of the first field of `vm` holding `key` (parseVmState notation). */
function fieldHolding(vm: VMState | undefined, kind: ContendedKey, key: string): string {
  if (kind === 'disk') {
    const i = (vm?.disk_config ?? NONE).findIndex((d) => d.path === key);
    return `disk_config[${Math.max(i, 0)}].path`;
  }
  const i = (vm?.network_config?.interfaces ?? NONE).findIndex((n) => (kind === 'ip' ? n.ip === key : typeof n.mac === 'string' && lowerMac(n.mac) === key));
  return `network_config.interfaces[${Math.max(i, 0)}].${kind}`;
}

/** A MAC in lower case; the string itself when it already is (the usual case), so it is not copied. */
function lowerMac(mac: string): string {
  const lower = mac.toLowerCase();
  return lower === mac ? mac : lower;
}

/** Whether two states of a VM hold the same IPs, MACs and disk paths, in the same places. */
function sameKeys(a: VMState, b: VMState): boolean {
  const na = a.network_config?.interfaces ?? NONE;
  const nb = b.network_config?.interfaces ?? NONE;
  if (na.length !== nb.length) return false;
  for (let i = 0; i < na.length; i++) {
    const x = na[i]!;
    const y = nb[i]!;
    if (keyOf(x.ip) !== keyOf(y.ip)) return false;
    // Equal as they are (the usual case, and what a parsed state holds: lowercase) or ignoring case.
    if (x.mac !== y.mac && keyOf(x.mac)?.toLowerCase() !== keyOf(y.mac)?.toLowerCase()) return false;
  }
  const da = a.disk_config ?? NONE;
  const db = b.disk_config ?? NONE;
  if (da.length !== db.length) return false;
  for (let i = 0; i < da.length; i++) if (keyOf(da[i]!.path) !== keyOf(db[i]!.path)) return false;
  return true;
}

/** A field as an index key: only strings are indexed. */
function keyOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

const MIN_SLOTS = 16;
/** Most holders of one key kept in a list (lookups in it are linear); more go into a set. */
const MAX_HOLDER_LIST = 8;

/**
 * Which VMs hold each key of one kind (IP, MAC or disk path): an open-addressing table
 * ({@link SlotKeys}), each slot a key (the VM state's own string) and its holders: an id, or while
 * several VMs share the key a list of up to {@link MAX_HOLDER_LIST} ids (64 bytes for two, where a
 * Set costs about 150), then a set. About 16 bytes a slot, where a Map costs about 37 bytes a key.
 * Exported for its tests.
 */
export class KeyTable {
  private readonly keys: SlotKeys;
  private holders: Array<string | string[] | Set<string> | undefined> = newSlots(MIN_SLOTS);
  private sharedKeys = 0;

  /** How many keys two or more VMs hold. */
  get shared(): number {
    return this.sharedKeys;
  }

  /** `hash`: for tests. */
  constructor(hash: (key: string) => number = hashKey) {
    this.keys = new SlotKeys(MIN_SLOTS, hash);
  }

  get(key: string): Holders | undefined {
    const h = this.holdersOf(key);
    return h === undefined || typeof h === 'string' ? h : new Set(h);
  }

  /** The VMs holding `key`: one id, or a list of two or more (a copy only for a key held by many). */
  holdersOf(key: string): string | readonly string[] | undefined {
    const i = this.keys.find(key);
    if (i < 0) return undefined;
    const h = this.holders[i]!;
    return h instanceof Set ? [...h] : h;
  }

  add(key: string, id: string): void {
    const i = this.keys.find(key);
    if (i >= 0) {
      const cur = this.holders[i]!;
      if (typeof cur === 'string') {
        if (cur !== id) {
          this.holders[i] = [cur, id];
          this.sharedKeys++;
        }
      } else if (cur instanceof Set) {
        cur.add(id);
      } else if (!cur.includes(id)) {
        if (cur.length < MAX_HOLDER_LIST) cur.push(id);
        else this.holders[i] = new Set([...cur, id]);
      }
      return;
    }
    const slot = this.keys.insert(key, this.resize); // may replace this.holders: index it afterwards
    this.holders[slot] = id;
  }

  remove(key: string, id: string): void {
    const i = this.keys.find(key);
    if (i < 0) return;
    const cur = this.holders[i]!;
    if (typeof cur === 'string') {
      if (cur !== id) return;
      this.keys.removeAt(i);
      this.holders[i] = undefined;
      return;
    }
    if (cur instanceof Set) cur.delete(id);
    else {
      const at = cur.indexOf(id);
      if (at >= 0) cur.splice(at, 1);
    }
    const left = cur instanceof Set ? cur.size : cur.length;
    if (left === 1) {
      this.holders[i] = cur instanceof Set ? cur.values().next().value! : cur[0]!;
      this.sharedKeys--;
    }
  }

  private readonly resize = (size: number, moves: Int32Array): void => {
    this.holders = moveSlots(this.holders, size, moves);
  };
}

/**
 * The indexed VM states by id: an open-addressing table like {@link KeyTable}, ids and states by
 * slot (about 16 bytes a slot, where a Map costs about 37 bytes an entry).
 */
class StateTable {
  private readonly ids = new SlotKeys(MIN_SLOTS);
  private states: Array<VMState | undefined> = newSlots(MIN_SLOTS);

  get size(): number {
    return this.ids.size;
  }

  get(id: string): VMState | undefined {
    const i = this.ids.find(id);
    return i < 0 ? undefined : this.states[i];
  }

  set(id: string, vm: VMState): void {
    let i = this.ids.find(id);
    if (i < 0) i = this.ids.insert(id, this.resize); // may replace this.states: index it afterwards
    this.states[i] = vm;
  }

  delete(id: string): boolean {
    const i = this.ids.find(id);
    if (i < 0) return false;
    this.ids.removeAt(i);
    this.states[i] = undefined;
    return true;
  }

  /** Every id and state, in no particular order. */
  forEach(fn: (id: string, vm: VMState) => void): void {
    const { ids, states } = this;
    for (let i = 0; i < ids.slots; i++) {
      const k = ids.keyAt(i);
      if (k !== undefined) fn(k, states[i]!);
    }
  }

  private readonly resize = (size: number, moves: Int32Array): void => {
    this.states = moveSlots(this.states, size, moves);
  };
}

function sortedWithout(ids: Iterable<string>, id: string): string[] {
  const out: string[] = [];
  for (const v of ids) if (v !== id) out.push(v);
  return out.sort();
}

/** Which type names a findings conflict when several findings are equally severe. */
const TYPE_PRIORITY: Readonly<Record<FindingType, number>> = { invariant_violation: 2, semantic: 1, resource_contention: 0 };

/**
 * Turn the findings of {@link ClusterIndex.check} on a candidate into one conflict.
 *
 * - `versions`: the candidate's version, or the siblings it was merged from (≥ 1; sorted by
 *   compareVersions in the result; same id counted once). All must be versions of `resourceId`
 *   (ResourceMismatchError otherwise). `findings` must not be empty (InvalidConflictInputError).
 * - type: that of the most severe finding; ties go to invariant_violation, then semantic, then
 *   resource_contention. Severity: the most severe finding's.
 * - fields: the findings' fields, sorted and de-duplicated; reasons: one line per finding.
 * - complexity: `m / (m + findingsHalfSaturation)`, m = number of findings + distinct other VMs involved.
 * - id: `conflictId(resourceId, version ids, 'findings:' + type)`, so it never equals the id of the
 *   version conflict over the same versions. Findings depend on what a node's index holds, so two
 *   nodes agree on this id only when they found the same type.
 */
export function findingsToConflict(
  resourceId: string,
  versions: readonly Version[],
  findings: readonly Finding[],
  now: number,
  config: DetectorConfig = DEFAULT_DETECTOR_CONFIG,
): DetectedConflict {
  if (findings.length === 0) {
    throw new InvalidConflictInputError(`no findings to make a conflict of on ${resourceId}`, { resourceId, reason: 'no_findings' });
  }
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidConflictInputError(`detection time must be a finite number of ms, got ${String(now)}`, { now });
  }
  const byId = new Map<string, Version>();
  for (const v of versions) {
    if (v.resourceId !== resourceId) {
      throw new ResourceMismatchError(
        `version ${v.id} belongs to ${JSON.stringify(v.resourceId)}, not ${JSON.stringify(resourceId)}`,
        { resourceId, versionId: v.id, versionResourceId: v.resourceId },
      );
    }
    byId.set(v.id, v);
  }
  if (byId.size === 0) {
    throw new InvalidConflictInputError(`a conflict on ${resourceId} needs at least one version`, { resourceId, reason: 'too_few' });
  }
  const sorted = [...byId.values()].sort(compareVersions);

  let top = findings[0]!;
  let severity: Severity = top.severity;
  const fields = new Set<string>();
  const others = new Set<string>();
  for (const f of findings) {
    severity = maxSeverity(severity, f.severity);
    const r = severityRank(f.severity) - severityRank(top.severity);
    if (r > 0 || (r === 0 && TYPE_PRIORITY[f.type] > TYPE_PRIORITY[top.type])) top = f;
    fields.add(f.field);
    for (const o of f.otherVmIds) others.add(o);
  }
  const m = findings.length + others.size;
  const complexity = m / (m + config.findingsHalfSaturation);
  const reasons = [
    `cluster check of the candidate found ${findings.length} problem${findings.length === 1 ? '' : 's'}; the most severe is ${top.type} (${severity})`,
    ...findings.map((f) => `${f.type} (${f.severity}) at ${f.field}: ${f.detail}`),
    `complexity ${round3(complexity)}`,
  ];
  return {
    id: conflictId(
      resourceId,
      sorted.map((v) => v.id),
      `findings:${top.type}`,
    ),
    resourceId,
    versions: sorted,
    type: top.type,
    severity,
    complexity,
    detectedAt: now,
    fields: [...fields].sort(),
    reasons,
    findings: [...findings],
  };
}
