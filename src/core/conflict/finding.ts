import type { Severity } from './types.js';

/** The conflict types a cluster-level check can find in a candidate VM state. */
export type FindingType = 'resource_contention' | 'invariant_violation' | 'semantic';

/** One problem the cluster index found in a candidate VM state (see cluster-index.ts). */
export interface Finding {
  readonly type: FindingType;
  readonly severity: Severity;
  /**
   * The candidate's field at fault, as a path in parseVmState's notation:
   * `network_config.interfaces[0].ip`, `disk_config[1].path`, `cpu_allocation`, `memory_mb`, `host`.
   */
  readonly field: string;
  /** What is contended or exceeded: the IP / MAC / disk path, the host id, or `cluster`. */
  readonly subject: string;
  /** In words, with the numbers. */
  readonly detail: string;
  /** Other VMs involved, sorted: those holding the same IP/MAC/disk, or active on the same host. */
  readonly otherVmIds: readonly string[];
}
