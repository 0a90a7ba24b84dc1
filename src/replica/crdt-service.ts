import { NotFoundError } from './errors.js';
import { applyCrdtOp, CRDT_PREFIX, crdtValue, currentState, parseCrdtOp } from './crdt-resource.js';
import type { Replica } from './replica.js';

export interface CrdtView {
  readonly name: string;
  readonly type: string;
  readonly value: unknown;
}

/** Named, replicated CRDTs read and updated through the API (`/v1/crdts/{name}`). */
export class CrdtService {
  constructor(private readonly replica: Replica) {}

  read(name: string): CrdtView {
    const r = this.replica.get(CRDT_PREFIX + name);
    const cur = r ? currentState(r.versions) : undefined;
    if (!cur) throw new NotFoundError('CRDT', name);
    return { name, type: cur.type, value: crdtValue(cur.type, cur.state) };
  }

  /** Apply `{type, op, ...}`; resolves once the new state is durable (then it is gossiped). */
  async apply(name: string, body: unknown): Promise<CrdtView> {
    const op = parseCrdtOp(body);
    const rid = CRDT_PREFIX + name;
    const current = currentState(this.replica.versionsOf(rid));
    // The dot of this write is the counter its version will carry for this node (unique per node).
    const dotCounter = this.replica.contextOf(rid).get(this.replica.nodeId) + 1;
    const data = applyCrdtOp(name, current, op, this.replica.nodeId, dotCounter, this.replica.nextHlc());
    await this.replica.put(rid, data);
    return this.read(name);
  }
}
