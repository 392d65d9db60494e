// Pieces shared by the create form and the detail page's settings form.
import { checkboxGroup, h, uid } from '../dom.js';

/** Scope checkboxes for an offering: required ones ticked and locked, the rest as chosen. */
export function scopeGroup(offering, selected) {
  const { required, optional } = offering.scopes;
  const chosen = new Set(selected ?? offering.scopes.default ?? required);
  return checkboxGroup({
    legend: 'OAuth scopes',
    hint: required.length
      ? `Required by ${offering.displayName}: ${required.join(', ')} (always requested).`
      : 'Choose what your integration may request.',
    name: 'scopes',
    items: [
      ...required.map((s) => ({ value: s, checked: true, locked: true, tag: 'required' })),
      ...optional.map((s) => ({ value: s, checked: chosen.has(s) })),
    ],
  });
}

const MAX_REDIRECT_URIS = 10;
const FIELD = 'allowedRedirectUris';

/**
 * The allowed redirect URIs as a list of one-URI rows: add, remove, or paste several at once
 * (one per line). Each row has its own error slot, so the API's `allowedRedirectUris[i]` message
 * shows under the URI it is about.
 */
export function redirectUrisInput(values = []) {
  const id = uid(FIELD);
  const hint = h(
    'p',
    { class: 'hint', id: `${id}-hint` },
    `Up to ${MAX_REDIRECT_URIS}: where your own app receives the end user after connecting. https, or http on localhost. Matched exactly.`,
  );
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const list = h('ol', { class: 'uri-list' });
  const add = h(
    'button',
    {
      type: 'button',
      class: 'button-secondary button-small',
      onclick: () => addRow('', list.lastElementChild)?.querySelector('input').focus(),
    },
    'Add a redirect URI',
  );
  const fieldset = h(
    'fieldset',
    { class: 'field', id, dataset: { field: FIELD }, 'aria-describedby': hint.id },
    h('legend', {}, 'Allowed redirect URIs'),
    hint,
    list,
    h('div', {}, add),
    error,
  );

  /** Row labels follow their position; no more rows than the API takes. */
  const renumber = () => {
    [...list.children].forEach((row, i) => {
      row.querySelector('input').setAttribute('aria-label', `Redirect URI ${i + 1}`);
      row.querySelector('button').setAttribute('aria-label', `Remove redirect URI ${i + 1}`);
    });
    add.disabled = list.children.length >= MAX_REDIRECT_URIS;
  };

  function addRow(value, after) {
    if (list.children.length >= MAX_REDIRECT_URIS) return null;
    const input = h('input', {
      type: 'text',
      inputmode: 'url',
      class: 'mono',
      spellcheck: 'false',
      autocomplete: 'off',
      value,
      id: uid('redirect-uri'),
      placeholder: 'https://app.example.com/connected',
    });
    const remove = h('button', { type: 'button', class: 'button-quiet button-small' }, 'Remove');
    const row = h(
      'li',
      { class: 'uri-row' },
      h('div', { class: 'uri-row-controls' }, input, remove),
      h('p', { class: 'field-error', id: `${input.id}-error`, hidden: true }),
    );
    remove.addEventListener('click', () => {
      const next = row.nextElementSibling ?? row.previousElementSibling;
      row.remove();
      if (!list.children.length) addRow('', null);
      renumber();
      (next ?? list.firstElementChild).querySelector('input').focus();
    });
    // Several URIs pasted at once (a list copied from elsewhere) fill a row each.
    input.addEventListener('paste', (event) => {
      const pasted = (event.clipboardData?.getData('text') ?? '').split(/\s+/).filter(Boolean);
      if (pasted.length < 2) return;
      event.preventDefault();
      input.value = pasted[0];
      let last = row;
      let left = 0;
      for (const uri of pasted.slice(1)) {
        const added = addRow(uri, last);
        if (added) last = added;
        else left++;
      }
      // Nothing pasted is dropped without a word.
      error.textContent = left
        ? `${left} more pasted URI${left > 1 ? 's' : ''} did not fit: at most ${MAX_REDIRECT_URIS}.`
        : '';
      error.hidden = !left;
    });
    if (after) after.after(row);
    else list.append(row);
    renumber();
    return row;
  }

  for (const value of values) addRow(value, list.lastElementChild);
  if (!values.length) addRow('', null);
  return fieldset;
}

/**
 * The non-empty URIs in order. Each row that is sent is marked with its index in the request, so
 * that a field error for `allowedRedirectUris[i]` finds its row.
 */
export function redirectUrisValue(fieldset) {
  const uris = [];
  for (const input of fieldset.querySelectorAll('.uri-row input')) {
    const uri = input.value.trim();
    if (uri) {
      input.dataset.field = `${FIELD}[${uris.length}]`;
      uris.push(uri);
    } else {
      delete input.dataset.field;
    }
  }
  return uris;
}
