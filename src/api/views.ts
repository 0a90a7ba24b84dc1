/**
 * The JSON shapes of the admin API's answers (INTERFACE.md), shared by the server that builds them,
 * the CLI that prints them, and the scripts and tests that read them.
 */

export interface VersionView {
  id: string;
  clock: Record<string, number>;
  hlc: { wall: number; logical: number };
  origin: string;
  deleted?: boolean;
}

/** `GET /v1/vms/{id}`: the main version, its concurrent siblings, and an open conflict if any. */
export interface VmView {
  id: string;
  state: Record<string, unknown> | null;
  deleted: boolean;
  version: VersionView;
  siblings: Array<{ state: Record<string, unknown> | null; version: VersionView }>;
  conflictId: string | null;
}

/** `GET /v1/conflicts` (summary with its decision) and `GET /v1/conflicts/{id}` (also explanation and candidates). */
export interface ConflictView {
  id: string;
  resourceId: string;
  type: string;
  severity: string;
  complexity: number;
  strategy: string;
  status: string;
  detectedAt: string;
  resolvedAt: string | null;
  decision: unknown;
  explanation?: string;
  candidates?: ReadonlyArray<{ id: string; origin: string; data: unknown }>;
}

/** `GET /v1/status`. */
export interface StatusView {
  nodeId: string;
  peerId: string;
  addresses: string[];
  peers: Array<{ nodeId: string; peerId: string | null; state: string }>;
  quorum: { have: number; need: number; ok: boolean };
  health: { overall: string; score: number };
  policy: string;
  readOnly: string | null;
  metrics: {
    vms: number;
    conflictsDetected: number;
    pendingConflicts: number;
    successRate: number;
    manualInterventionRate: number;
    averageResolutionMs: number;
    detectionRate: number;
    splitBrains: number;
  };
}
