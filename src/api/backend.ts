import type { Metrics } from '../observe/metrics.js';
import type { RecoveryManager } from '../replica/recovery.js';
import type { Replica } from '../replica/replica.js';

/** What the API needs from the agent (the agent implements it; tests may use a partial one). */
export interface ApiBackend {
  readonly replica: Replica;
  readonly recovery: RecoveryManager;
  readonly metrics: Metrics;
  readonly crdts: CrdtService;
  readiness(): { ready: boolean; store: boolean; transport: boolean; reason?: string };
  status(): unknown;
  dashboard(): unknown;
  dashboardPage(): string;
}

export interface CrdtService {
  read(name: string): { name: string; type: string; value: unknown };
  apply(name: string, body: unknown): Promise<{ name: string; type: string; value: unknown }>;
}
