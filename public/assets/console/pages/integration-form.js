// Pieces shared by the create form and the detail page's settings form.
import { checkboxGroup, h } from '../dom.js';

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

export function redirectUrisInput(values = []) {
  return h('textarea', {
    rows: 3,
    class: 'mono',
    spellcheck: 'false',
    autocomplete: 'off',
    value: values.join('\n'),
  });
}

export function redirectUrisValue(textarea) {
  return textarea.value.split('\n').map((s) => s.trim()).filter(Boolean);
}

export const REDIRECT_HINT =
  'One per line, up to 10: where your own app receives the end user after connecting. https, or http on localhost. Matched exactly.';
