/** A tiny typed event emitter that works the same in browsers and Node. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

export class Emitter<Events extends { [K in keyof Events]: Listener }> {
  private listeners = new Map<keyof Events, Set<Listener>>();

  /**
   * Adds a listener; returns a function that removes it.
   *
   * @example
   * const off = client.on('message', (m) => console.log(m.from, m.text));
   * off(); // stop listening
   */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /**
   * Adds a listener that runs at most once.
   *
   * @example
   * client.once('state', (s) => console.log('first state change', s.state));
   */
  once<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const wrapped = ((...args: unknown[]) => {
      off();
      listener(...args);
    }) as Events[K];
    const off = this.on(event, wrapped);
    return off;
  }

  /**
   * Removes a listener added with `on`.
   *
   * @example
   * client.off('message', onMessage);
   */
  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /**
   * Calls the listeners of `event`. A listener that throws does not stop the
   * others nor the SDK; its error is rethrown asynchronously so it is seen.
   */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /**
   * Number of listeners of `event` (for tests and diagnostics).
   *
   * @example
   * client.listenerCount('message'); // 2
   */
  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
