import { api } from '../api.js';
import {
  checkedValues,
  copyControl,
  emptyState,
  field,
  h,
  messageArea,
  mount,
  onSubmit,
  pageHeader,
  readonlyInput,
} from '../dom.js';
import { redirectUrisInput, redirectUrisValue, scopeGroup } from './integration-form.js';

/** Auth modes whose connections carry pasted credentials: their integrations need no client. */
const PASTED = new Set(['bearer_token', 'basic']);

/** A provider's name for people: an offering's display name without its parenthesised part. */
const providerName = (o) => o.displayName.replace(/\s*\([^)]*\)\s*/g, ' ').trim() || o.provider;

/** Enabled offerings as one <optgroup> per provider, in the API's order (provider, environment). */
function offeringOptions(offerings) {
  const groups = new Map();
  for (const o of offerings) {
    if (!groups.has(o.provider)) groups.set(o.provider, []);
    groups.get(o.provider).push(o);
  }
  return [...groups.values()].map((list) =>
    h(
      'optgroup',
      { label: providerName(list[0]), dataset: { provider: list[0].provider } },
      list.map((o) => h('option', { value: o.id }, o.displayName)),
    ),
  );
}

export async function render(main) {
  const offerings = (await api('GET', '/offerings?enabled=true')).data.data;
  if (!offerings.length) {
    mount(
      main,
      pageHeader('Add integration'),
      emptyState(
        'No offering is available',
        'An integration is made for an offering (a provider and environment). None is enabled: ask a platform admin to enable one.',
        h('a', { class: 'button button-secondary', href: '/oauth' }, 'Back to integrations'),
      ),
    );
    return;
  }

  const messages = messageArea();
  const name = h('input', {
    type: 'text',
    name: 'name',
    required: true,
    maxlength: '100',
    autocomplete: 'off',
    placeholder: 'Salesforce Production',
  });
  const offering = h('select', { name: 'offeringId', required: true }, offeringOptions(offerings));
  const clientId = h('input', {
    type: 'text',
    name: 'clientId',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    class: 'mono',
  });
  const clientSecret = h('input', {
    type: 'password',
    name: 'clientSecret',
    autocomplete: 'new-password',
    spellcheck: 'false',
  });
  const redirects = redirectUrisInput();
  const scopesSlot = h('div', {});
  const callback = readonlyInput(main.dataset.callbackUrl, {
    dataset: { copyName: 'callback URL' },
  });
  const submit = h('button', { type: 'submit', class: 'button-primary' }, 'Create Integration');

  // Where the developer registers their OAuth app, from the template's catalog notes.
  const registration = h('a', {
    class: 'registration-link',
    target: '_blank',
    rel: 'noopener',
    hidden: true,
  });
  const pastedNote = h('p', { class: 'notice', hidden: true });
  const clientFields = [
    field({
      label: 'Client ID',
      control: clientId,
      name: 'clientId',
      hint: "Your connected app's Consumer Key / client ID.",
    }),
    field({
      label: 'Client secret',
      control: clientSecret,
      name: 'clientSecret',
      hint: 'Stored encrypted and never shown again. Verified with the provider when you save.',
    }),
  ];
  const callbackField = h(
    'div',
    { class: 'field' },
    h('label', { for: callback.id || (callback.id = 'callback-url') }, 'Callback URL'),
    h(
      'p',
      { class: 'hint', id: 'callback-url-hint' },
      "Register exactly this URL in the provider's connected app.",
    ),
    copyControl(callback),
    registration,
  );

  const selected = () => offerings.find((o) => o.id === offering.value);
  /** What depends on the offering: its scopes, the client fields and the registration link. */
  const renderOffering = () => {
    const o = selected();
    scopesSlot.replaceChildren(scopeGroup(o));
    scopesSlot.hidden = !o.scopes.required.length && !o.scopes.optional.length;
    const pasted = PASTED.has(o.authMode);
    for (const f of clientFields) f.hidden = pasted;
    callbackField.hidden = pasted;
    pastedNote.hidden = !pasted;
    pastedNote.textContent = pasted
      ? `End users paste their own ${o.displayName} credentials when they connect: this integration needs no client ID or secret.`
      : '';
    // The API accepts only https here; the page does not rely on it for what becomes an href.
    const given = o.catalog?.appRegistrationUrl;
    const url = typeof given === 'string' && given.startsWith('https://') ? given : null;
    registration.hidden = !url || pasted;
    if (url) {
      registration.href = url;
      registration.textContent = `Where to create your OAuth app at ${providerName(o)} (opens in a new tab)`;
    } else {
      registration.removeAttribute('href');
      registration.textContent = '';
    }
  };
  offering.addEventListener('change', renderOffering);

  const form = h(
    'form',
    { class: 'stack card', novalidate: true },
    field({
      label: 'Integration name',
      control: name,
      name: 'name',
      hint: 'A label for you and your team.',
    }),
    field({
      label: 'Integration offering',
      control: offering,
      name: 'offeringId',
      hint: 'The provider and environment.',
    }),
    pastedNote,
    ...clientFields,
    scopesSlot,
    redirects,
    callbackField,
    messages.el,
    h(
      'div',
      { class: 'form-actions' },
      submit,
      h('a', { class: 'button button-quiet', href: '/oauth' }, 'Cancel'),
    ),
  );
  callback.setAttribute('aria-describedby', 'callback-url-hint');
  renderOffering();

  onSubmit(
    form,
    submit,
    messages,
    async () => {
      const body = {
        name: name.value.trim(),
        offeringId: offering.value,
        scopes: checkedValues(scopesSlot.querySelector('fieldset')),
        allowedRedirectUris: redirectUrisValue(redirects),
      };
      // Pasted-credential offerings take no client: none is sent, whatever the hidden fields hold.
      if (!PASTED.has(selected().authMode)) {
        body.clientId = clientId.value.trim();
        if (clientSecret.value) body.clientSecret = clientSecret.value;
      }
      // 201 also when the provider rejected the credentials: the detail page shows draft + why.
      const created = await api('POST', '/integrations', body);
      location.assign(`/oauth/${created.data.id}`);
    },
    { busyLabel: 'Creating…' },
  );

  mount(
    main,
    pageHeader('Add integration'),
    h(
      'p',
      { class: 'lead' },
      'Register your OAuth client at the provider, then enter its credentials here.',
    ),
    form,
  );
  name.focus();
}
