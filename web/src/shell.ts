/** The frame of the chat page: its three panes, the phone drawers and the toast. */
import { append, h, replace } from './dom.js';

export type Drawer = 'rooms' | 'people' | null;

export class Shell {
  readonly app = h('div', { className: 'app' });
  private readonly toastBox = h('div', { className: 'toast', role: 'alert', hidden: true });
  private toastTimer: ReturnType<typeof setTimeout> | undefined;

  /** Puts the parts together in `root`; a tap on the scrim closes drawers and `onScrim` closes popups. */
  mount(
    root: HTMLElement,
    parts: { banner: HTMLElement; rooms: HTMLElement; chat: HTMLElement; people: HTMLElement; picker: HTMLElement },
    onScrim: () => void,
  ): void {
    const scrim = h('div', { className: 'scrim' });
    scrim.addEventListener('click', () => {
      this.drawer(null);
      onScrim();
    });
    append(this.app, [
      parts.banner,
      h('div', { className: 'panes' }, parts.rooms, parts.chat, parts.people),
      scrim,
      parts.picker,
      this.toastBox,
    ]);
    replace(root, this.app);
  }

  /** Opens a side pane as a drawer (phones; CSS ignores it on wide screens), or closes it. */
  drawer(which: Drawer): void {
    if (which) this.app.dataset.drawer = which;
    else delete this.app.dataset.drawer;
  }

  toggleDrawer(which: Exclude<Drawer, null>): void {
    this.drawer(this.app.dataset.drawer === which ? null : which);
  }

  toast(text: string): void {
    const t = this.toastBox;
    t.textContent = text;
    t.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.hidden = true), 5000);
  }
}
