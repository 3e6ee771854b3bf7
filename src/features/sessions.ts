/**
 * This node's live sessions by user: for user-level frames (your own status
 * on your other devices), kicks, per-user connection limits and shutdown.
 */
import type { Session } from '../session/session.js';
import type { StateSizes } from '../state-sizes.js';

export class SessionRegistry {
  private readonly byUser = new Map<string, Set<Session>>();
  private total = 0;

  add(session: Session): void {
    let set = this.byUser.get(session.user);
    if (!set) {
      set = new Set();
      this.byUser.set(session.user, set);
    }
    set.add(session);
    this.total++;
  }

  remove(session: Session): void {
    const set = this.byUser.get(session.user);
    if (!set || !set.delete(session)) return;
    this.total--;
    if (set.size === 0) this.byUser.delete(session.user);
  }

  ofUser(user: string): ReadonlySet<Session> {
    return this.byUser.get(user) ?? new Set();
  }

  countOf(user: string): number {
    return this.byUser.get(user)?.size ?? 0;
  }

  get size(): number {
    return this.total;
  }

  *all(): IterableIterator<Session> {
    for (const set of this.byUser.values()) yield* set;
  }

  /**
   * Sessions, users with one, and what the sessions hold: joined rooms and
   * live events held back while a join is answered (parley_state_entries).
   */
  stateSizes(): StateSizes {
    let rooms = 0;
    let held = 0;
    for (const s of this.all()) {
      rooms += s.rooms.size;
      for (const st of s.rooms.values()) held += st.buffer?.length ?? 0;
    }
    return {
      'sessions.connections': this.total,
      'sessions.users': this.byUser.size,
      'sessions.rooms': rooms,
      'sessions.heldEvents': held,
    };
  }
}
