/** A minimal typed event emitter (listeners run synchronously; a throwing listener does not stop others). */
export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Array<(payload: never) => void>>();

  on<K extends keyof Events>(event: K, fn: (payload: Events[K]) => void): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(fn);
    this.listeners.set(event, list);
    return () => {
      const l = this.listeners.get(event);
      if (l) this.listeners.set(event, l.filter((x) => x !== fn));
    };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        (fn as (p: Events[K]) => void)(payload);
      } catch {
        // A listener's failure is its own; the replica's state machine must not depend on it.
      }
    }
  }
}
