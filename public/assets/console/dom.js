// Small DOM helpers. Text always goes in as text (textContent / text nodes), never as markup.

import { ApiError } from './api.js';

const PROPERTIES = new Set([
  'value',
  'checked',
  'disabled',
  'hidden',
  'readOnly',
  'required',
  'selected',
  'multiple',
  'tabIndex',
  'rows',
  'type',
]);

/** `h('button', {class: 'x', onclick: fn, 'aria-label': 'Copy'}, 'Copy')` */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function')
      el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let sequence = 0;
/** A unique element id. */
export const uid = (prefix) => `${prefix}-${++sequence}`;

export function formatDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? '—'
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** <time> with the local date as text and the exact ISO instant as datetime/title. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, formatDate(iso));
}

const BADGE_LABELS = {
  configured: 'Configured',
  draft: 'Draft',
  active: 'Active',
  needs_reauth: 'Needs re-authorization',
  error: 'Error',
  revoked: 'Revoked',
  enabled: 'Enabled',
  disabled: 'Disabled',
  accepted: 'Accepted',
  rejected: 'Rejected',
  unreachable: 'Unreachable',
  pending: 'Pending',
  delivered: 'Delivered',
  failed: 'Failed',
};
export function badge(status) {
  return h('span', { class: `badge badge-${status}` }, BADGE_LABELS[status] ?? status);
}

/** A labelled form field with a hint and an error slot wired up through aria-describedby. */
export function field({ label, control, hint, name }) {
  const id = control.id || (control.id = uid(name || 'field'));
  if (name) control.dataset.field = name;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, control, errorEl);
}

/** A fieldset of checkboxes (scopes); `name` marks it for field errors. */
export function checkboxGroup({ legend, hint, name, items }) {
  const id = uid(name || 'group');
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const list = h(
    'div',
    { class: 'checks' },
    items.map((item) => {
      const box = h('input', {
        type: 'checkbox',
        id: uid(`${name}-opt`),
        value: item.value,
        checked: item.checked,
        disabled: item.locked,
      });
      if (item.locked) box.dataset.locked = 'true';
      return h(
        'label',
        { class: 'check', for: box.id },
        box,
        h('span', {}, item.label ?? item.value),
        item.tag ? h('span', { class: 'tag' }, item.tag) : null,
      );
    }),
  );
  const fieldset = h(
    'fieldset',
    { class: 'field', id, dataset: { field: name } },
    h('legend', {}, legend),
    hintEl,
    list,
    errorEl,
  );
  if (hintEl) fieldset.setAttribute('aria-describedby', hintEl.id);
  return fieldset;
}

/** Values of the ticked boxes of a checkboxGroup, locked ones included. */
export function checkedValues(fieldset) {
  return [...fieldset.querySelectorAll('input[type=checkbox]')]
    .filter((b) => b.checked)
    .map((b) => b.value);
}

/** Shows `validation.failed` field messages next to their controls; returns what found no control. */
export function showFieldErrors(form, fields) {
  const unmatched = [];
  let first = null;
  for (const [key, messages] of Object.entries(fields ?? {})) {
    const control = findField(form, key);
    if (!control) {
      unmatched.push(...messages);
      continue;
    }
    const error = form.querySelector(`#${CSS.escape(control.id)}-error`);
    if (!error) {
      unmatched.push(...messages);
      continue;
    }
    error.textContent = [error.textContent, ...messages.map((m) => readable(key, m))]
      .filter(Boolean)
      .join(' ');
    error.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    const described = new Set(
      (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean),
    );
    described.add(error.id);
    control.setAttribute('aria-describedby', [...described].join(' '));
    first ??= control;
  }
  return { unmatched, first };
}

/** "clientId must not contain whitespace" → "Must not contain whitespace." (shown under the field). */
function readable(key, message) {
  const names = [key, key.split('.').pop(), 'property ' + key];
  let text = String(message);
  for (const name of names) {
    if (text.startsWith(`${name} `)) {
      text = text.slice(name.length + 1);
      break;
    }
  }
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Once the user edits a field, its error no longer applies: clear it. */
function clearOne(control, form) {
  if (control.getAttribute('aria-invalid') !== 'true') return;
  const error = form.querySelector(`#${CSS.escape(control.id)}-error`);
  if (error) {
    error.textContent = '';
    error.hidden = true;
  }
  control.removeAttribute('aria-invalid');
  const described = (control.getAttribute('aria-describedby') ?? '')
    .split(' ')
    .filter((id) => id && !id.endsWith('-error'));
  if (described.length) control.setAttribute('aria-describedby', described.join(' '));
  else control.removeAttribute('aria-describedby');
}

/** `scopes.required.0` → the control marked `scopes.required`, else `scopes`. */
function findField(form, key) {
  const parts = key.split('.');
  while (parts.length) {
    const el = form.querySelector(`[data-field="${CSS.escape(parts.join('.'))}"]`);
    if (el) return el;
    parts.pop();
  }
  return null;
}

export function clearFieldErrors(form) {
  for (const error of form.querySelectorAll('.field-error')) {
    error.textContent = '';
    error.hidden = true;
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) {
    control.removeAttribute('aria-invalid');
    const described = (control.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((id) => id && !id.endsWith('-error'));
    if (described.length) control.setAttribute('aria-describedby', described.join(' '));
    else control.removeAttribute('aria-describedby');
  }
}

/**
 * A message area: `errors` is role=alert (read at once), `status` role=status (polite).
 * Both exist from the start so that screen readers pick up changes.
 */
export function messageArea() {
  const error = h('div', {
    class: 'alert alert-error',
    role: 'alert',
    hidden: true,
    tabindex: '-1',
  });
  const status = h('div', { class: 'alert alert-success', role: 'status' });
  status.hidden = true;
  const el = h('div', { class: 'messages' }, error, status);
  return {
    el,
    error(message, ...extra) {
      status.hidden = true;
      clear(error).append(h('p', {}, message), ...extra);
      error.hidden = false;
      return error;
    },
    success(message) {
      error.hidden = true;
      clear(status).append(h('p', {}, message));
      status.hidden = false;
    },
    clear() {
      error.hidden = true;
      status.hidden = true;
      clear(error);
      clear(status);
    },
  };
}

/** Reports an API error on a form: field messages inline, the rest in the alert; focuses the first problem. */
export function reportError(form, messages, error) {
  clearFieldErrors(form);
  const { unmatched, first } = showFieldErrors(form, error.fields);
  if (!form.dataset.clearsErrors) {
    form.dataset.clearsErrors = 'true';
    const onEdit = (event) => {
      const control = event.target.closest('[data-field]');
      if (control) clearOne(control, form);
    };
    form.addEventListener('input', onEdit);
    form.addEventListener('change', onEdit);
  }
  const summary = Object.keys(error.fields ?? {}).length
    ? `Please correct the highlighted field${Object.keys(error.fields).length > 1 ? 's' : ''}.`
    : error.message;
  const alert = messages.error(summary, ...unmatched.map((m) => h('p', {}, m)));
  (first ?? alert).focus();
}

/** A Copy button for a read-only input: clipboard API, else the text is selected for Ctrl+C. */
export function copyControl(input, label = 'Copy') {
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'button-secondary',
      'aria-label': `${label} ${input.dataset.copyName ?? ''}`.trim(),
      onclick: async () => {
        try {
          if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
          await navigator.clipboard.writeText(input.value);
          status.textContent = 'Copied';
        } catch {
          input.focus();
          input.select();
          status.textContent = 'Selected: press Ctrl+C (⌘C) to copy';
        }
        clearTimeout(button.resetTimer);
        button.resetTimer = setTimeout(() => (status.textContent = ''), 4000);
      },
    },
    label,
  );
  return h('div', { class: 'copy-row' }, input, button, status);
}

/**
 * Shows a secret once, with the values that go with it, in `slot`: a heading that takes the focus,
 * a warning, one copyable field per value and a Done button that empties the slot. The secret lives
 * only in this panel's DOM, so it is gone on Done or reload. Ids derive from `id`: `<id>-title`,
 * `<id>-warning` (which the secret fields point to with aria-describedby).
 *
 * @param {HTMLElement} slot
 * @param {{id: string, title: string, warning: Array<string|Node|null>,
 *   fields: Array<{id: string, label: string, value: string, copyName: string, secret?: boolean}>,
 *   doneLabel?: string, onDone?: () => void}} options
 */
export function showSecretOnce(slot, { id, title, warning, fields, doneLabel, onDone }) {
  const heading = h('h2', { tabindex: '-1', id: `${id}-title` }, title);
  const rows = fields.map((f) => {
    const input = readonlyInput(f.value, {
      id: f.id,
      dataset: { copyName: f.copyName },
      'aria-describedby': f.secret ? `${id}-warning` : undefined,
    });
    return h('div', { class: 'field' }, h('label', { for: f.id }, f.label), copyControl(input));
  });
  const done = () => {
    slot.replaceChildren();
    onDone?.();
  };
  slot.replaceChildren(
    h(
      'section',
      { class: 'card stack secret-panel', 'aria-labelledby': heading.id },
      heading,
      h('p', { class: 'alert alert-warning', id: `${id}-warning` }, warning),
      rows,
      h(
        'div',
        { class: 'form-actions' },
        h(
          'button',
          { type: 'button', class: 'button-primary', onclick: done },
          doneLabel ?? "Done — I've stored it",
        ),
      ),
    ),
  );
  heading.focus();
}

/** A read-only text input that selects itself on focus (for copying). */
export function readonlyInput(value, props = {}) {
  return h('input', {
    type: 'text',
    readOnly: true,
    value,
    class: 'mono',
    spellcheck: 'false',
    onfocus: (e) => e.target.select(),
    ...props,
  });
}

/**
 * Runs one action of a page (an API call and what follows it): clears `messages` first and shows
 * an error there, focused, if the action fails. With `question`, asks first; resolves false when
 * the person declined.
 */
export async function act(messages, work, { question } = {}) {
  if (question && !confirm(question)) return false;
  messages.clear();
  try {
    await work();
  } catch (error) {
    messages.error(error.message).focus();
  }
  return true;
}

/** A data table in its scrolling wrapper: a caption for screen readers, column headings, rows. */
export function dataTable({ caption, columns, rows }) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' }, h('h2', {}, title), h('p', {}, text), action ?? null);
}

/** Splits a comma/space/newline separated list. */
export function splitList(text) {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function pageHeader(title, ...actions) {
  return h(
    'div',
    { class: 'page-header' },
    h('h1', {}, title),
    actions.length ? h('div', { class: 'actions' }, actions) : null,
  );
}

/** Replaces the loading placeholder, keeping focus sensible for keyboard users. */
export function mount(main, ...children) {
  clear(main);
  append(main, children);
}

/**
 * Wires a form to one API action: on submit, clears earlier messages and field errors, disables
 * `button` (showing `busyLabel` if given) while `action()` runs, and reports an API error next to
 * the fields it names. Other errors propagate (the page's error handler shows them).
 */
export function onSubmit(form, button, messages, action, { busyLabel } = {}) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    messages.clear();
    const label = button.textContent;
    button.disabled = true;
    if (busyLabel) button.textContent = busyLabel;
    try {
      await action();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      reportError(form, messages, error);
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
}
