/**
 * The per-connection no-repeat rule for change events (edited, deleted,
 * reaction): events held during a join and late ones at or below the join
 * reply's change floor are dropped, later ones are sent, messages and
 * changes keep their arrival order.
 */
import { describe, expect, it } from 'vitest';
import { defaultLimits } from '../../src/config.js';
import { Session, type Conn, type PreparedFrame, type RoomState } from '../../src/session/session.js';
import { prepareFrame } from '../../src/transport/ws-frame.js';

function fakeSession(): { session: Session; sent: string[] } {
  const sent: string[] = [];
  const conn: Conn = {
    send: (d) => sent.push(d.toString()),
    sendPrepared: (f) => sent.push(f.payload.toString()),
    close: () => undefined,
    terminate: () => undefined,
    bufferedAmount: 0,
  };
  const session = new Session('c1', { user: 'ann' }, conn, defaultLimits, { onSlowConsumer: () => undefined });
  return { session, sent };
}

const frame = (text: string): PreparedFrame => prepareFrame(text);

describe('session: change events and the join floor', () => {
  it('drops held and late change events covered by a join since reply, sends the rest in order', () => {
    const { session, sent } = fakeSession();
    const st: RoomState = { buffer: [], floor: null, filtering: false, changeFloor: null, changeFiltering: false };
    session.rooms.set('r', st);
    // held while the join runs
    session.pushMessage(st, '10-0', frame('m10'));
    session.pushChange(st, '10-1', frame('c10-1'));
    session.pushMessage(st, '11-0', frame('m11'));
    session.pushChange(st, '11-5', frame('c11-5'));
    // the reply covered messages up to 10-0 and changes up to 10-1
    st.floor = '10-0';
    st.changeFloor = '10-1';
    session.flushRoom('r');
    expect(sent).toEqual(['m11', 'c11-5']);
    // nothing is held any more; a newer change is sent at once
    session.pushChange(st, '12-0', frame('c12'));
    expect(sent.at(-1)).toBe('c12');
  });

  it('drops a late change event at or below the floor until a newer one arrives', () => {
    const { session, sent } = fakeSession();
    const st: RoomState = { buffer: [], floor: null, filtering: false, changeFloor: '20-3', changeFiltering: false };
    session.rooms.set('r', st);
    session.flushRoom('r');
    session.pushChange(st, '20-2', frame('late'));
    session.pushChange(st, '20-3', frame('at floor'));
    session.pushChange(st, '20-4', frame('new'));
    expect(sent).toEqual(['new']);
  });

  it('sends every change event after a join without since (no change floor)', () => {
    const { session, sent } = fakeSession();
    const st: RoomState = { buffer: [], floor: '5-0', filtering: false, changeFloor: null, changeFiltering: false };
    session.rooms.set('r', st);
    session.pushChange(st, '1-0', frame('c1'));
    session.flushRoom('r');
    session.pushChange(st, '2-0', frame('c2'));
    expect(sent).toEqual(['c1', 'c2']);
  });
});
