/**
 * Sizes of the per-room and per-connection structures a component keeps in
 * memory (maps, sets, queues), read when /metrics is scraped and exported
 * as `parley_state_entries{map="<owner>.<name>"}`. A leak shows as a series
 * that keeps growing while the load stays flat (the soak benchmark checks
 * this). Components report; they do not count on their hot paths: a size
 * is a `.size` or `.length`, or a sum over a map the owner keeps anyway.
 *
 * This module imports nothing, so any layer may implement the interface.
 */

/** Entry counts by full series name, `<owner>.<name>` (e.g. `{ 'fanout.rooms': 3, 'fanout.members': 120 }`). */
export type StateSizes = Record<string, number>;

/** A component that can report the sizes of the state it keeps. */
export interface StateSizesSource {
  /** Current entry counts; cheap and side-effect free (called on every scrape). */
  stateSizes(): StateSizes;
}

/**
 * True when `x` reports state sizes (for parts typed by an interface that
 * does not promise it, e.g. an engine's presence store).
 *
 * @example
 * const sizes = hasStateSizes(engine.presence) ? engine.presence.stateSizes() : {};
 */
export function hasStateSizes(x: unknown): x is StateSizesSource {
  return typeof x === 'object' && x !== null && typeof (x as { stateSizes?: unknown }).stateSizes === 'function';
}

/**
 * The sizes of every part that reports them, merged (later parts win on a
 * name clash; names carry their owner, so there is none).
 *
 * @example
 * stateSizes() { return { ...mergeStateSizes([this.presence, this.memberships]), 'bus.rooms': this.rooms.size }; }
 */
export function mergeStateSizes(parts: Iterable<unknown>): StateSizes {
  const out: StateSizes = {};
  for (const p of parts) if (hasStateSizes(p)) Object.assign(out, p.stateSizes());
  return out;
}

/** Sum of `.size` (or `.length`) over the values of a map: entries of the inner collections. */
export function sumSizes(values: Iterable<{ readonly size: number } | { readonly length: number }>): number {
  let n = 0;
  for (const v of values) n += 'size' in v ? v.size : v.length;
  return n;
}

/** Sum of the numbers of a map (e.g. connections over a per-IP count map). */
export function sumValues(map: ReadonlyMap<unknown, number>): number {
  let n = 0;
  for (const v of map.values()) n += v;
  return n;
}
