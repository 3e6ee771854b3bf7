/** The sign-in card: a display name (dev mode) or an access token. */
import { h, replace } from './dom.js';
import { DEFAULT_ROOM, deviceUserId, loadSession, type Session } from './state.js';

/**
 * Shows the sign-in card in `root`, with `error` above the button and the
 * fields filled from `prefill`; `startChat` resolves false when connecting failed.
 */
export function showSignIn(
  root: HTMLElement,
  startChat: (session: Session) => Promise<boolean>,
  error = '',
  prefill: Partial<Session> = {},
): void {
  document.title = 'Parley';
  let tokenMode = prefill.mode === 'token';
  const nameInput = h('input', {
    id: 'signin-name',
    name: 'name',
    autocomplete: 'nickname',
    maxlength: 64,
    placeholder: 'e.g. Ann Lee',
    value: prefill.name ?? '',
  });
  const tokenInput = h('textarea', {
    id: 'signin-token',
    name: 'token',
    rows: 3,
    placeholder: 'eyJhbGciOi…',
    spellcheck: 'false',
  });
  if (prefill.token) tokenInput.value = prefill.token;
  const modInput = h('input', { type: 'checkbox', id: 'signin-moderator', checked: prefill.moderator === true });
  const nameField = h(
    'div',
    { className: 'field-group' },
    h('label', { className: 'field' }, h('span', {}, 'Your name'), nameInput),
    h(
      'label',
      { className: 'check', title: 'Dev servers only: moderators may delete, mute and ban' },
      modInput,
      h('span', {}, 'Sign in as moderator (dev mode)'),
    ),
  );
  const tokenField = h('label', { className: 'field' }, h('span', {}, 'Access token'), tokenInput);
  const errorBox = h('p', { className: 'form-error', id: 'signin-error', role: 'alert' }, error);
  const submit = h('button', { className: 'primary wide', id: 'signin-submit', type: 'submit' }, 'Join the chat');
  const modeToggle = h('button', { className: 'link', type: 'button', id: 'signin-mode' });
  const applyMode = (): void => {
    nameField.hidden = tokenMode;
    tokenField.hidden = !tokenMode;
    modeToggle.textContent = tokenMode ? 'Sign in with a name instead' : 'Sign in with a token instead';
    (tokenMode ? tokenInput : nameInput).focus();
  };
  modeToggle.addEventListener('click', () => {
    tokenMode = !tokenMode;
    errorBox.textContent = '';
    applyMode();
  });

  const form = h(
    'form',
    { className: 'signin-card', novalidate: true },
    h('div', { className: 'brand' }, h('div', { className: 'logo' }, 'P'), h('h1', {}, 'Parley')),
    h('p', { className: 'muted tagline' }, 'Chat and presence, in real time.'),
    nameField,
    tokenField,
    errorBox,
    submit,
    modeToggle,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    errorBox.textContent = '';
    const previous = loadSession();
    const rooms = previous?.rooms ?? [DEFAULT_ROOM];
    const active = previous?.active ?? DEFAULT_ROOM;
    let session: Session;
    if (tokenMode) {
      const token = tokenInput.value.trim();
      if (!token) {
        errorBox.textContent = 'Paste the access token you were given.';
        return;
      }
      session = { mode: 'token', token, rooms, active };
    } else {
      // Any script is a name ("李雷", "Ελένη"); the id is this browser's own, so equal names stay two people.
      const name = nameInput.value.normalize('NFC').trim().replace(/\s+/g, ' ');
      if (!/[\p{L}\p{N}]/u.test(name)) {
        errorBox.textContent = 'Type a name with at least one letter or digit.';
        nameInput.focus();
        return;
      }
      session = { mode: 'dev', user: deviceUserId(), name, rooms, active };
      if (modInput.checked) session.moderator = true;
    }
    submit.disabled = true;
    submit.textContent = 'Connecting…';
    void startChat(session).then((ok) => {
      if (!ok) {
        submit.disabled = false;
        submit.textContent = 'Join the chat';
      }
    });
  });

  replace(
    root,
    h(
      'main',
      { className: 'signin' },
      form,
      h('p', { className: 'signin-foot muted' }, 'Your name is shown to everyone in the rooms you join.'),
    ),
  );
  applyMode();
}
