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
  const offering = h(
    'select',
    { name: 'offeringId', required: true },
    offerings.map((o) => h('option', { value: o.id }, o.displayName)),
  );
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

  const selected = () => offerings.find((o) => o.id === offering.value);
  const renderScopes = () => scopesSlot.replaceChildren(scopeGroup(selected()));
  offering.addEventListener('change', renderScopes);
  renderScopes();

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
    scopesSlot,
    redirects,
    h(
      'div',
      { class: 'field' },
      h('label', { for: callback.id || (callback.id = 'callback-url') }, 'Callback URL'),
      h(
        'p',
        { class: 'hint', id: 'callback-url-hint' },
        "Register exactly this URL in the provider's connected app.",
      ),
      copyControl(callback),
    ),
    messages.el,
    h(
      'div',
      { class: 'form-actions' },
      submit,
      h('a', { class: 'button button-quiet', href: '/oauth' }, 'Cancel'),
    ),
  );
  callback.setAttribute('aria-describedby', 'callback-url-hint');

  onSubmit(
    form,
    submit,
    messages,
    async () => {
      const body = {
        name: name.value.trim(),
        offeringId: offering.value,
        clientId: clientId.value.trim(),
        scopes: checkedValues(scopesSlot.querySelector('fieldset')),
        allowedRedirectUris: redirectUrisValue(redirects),
      };
      if (clientSecret.value) body.clientSecret = clientSecret.value;
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
