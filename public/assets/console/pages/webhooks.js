import { api } from '../api.js';
import {
  act,
  badge,
  checkboxGroup,
  checkedValues,
  emptyState,
  field,
  h,
  messageArea,
  mount,
  onSubmit,
  pageHeader,
  showSecretOnce,
  time,
} from '../dom.js';

// The event types an endpoint may subscribe to (the API refuses any other).
const EVENT_TYPES = [
  'connection.created',
  'connection.reconnected',
  'connection.needs_reauth',
  'connection.refresh_failed',
  'connection.recovered',
  'connection.revoked',
  'integration.created',
  'integration.updated',
  'integration.status_changed',
  'integration.secret_rotated',
  'integration.deleted',
  'member.invited',
  'member.invitation_withdrawn',
  'member.joined',
  'member.role_changed',
  'member.removed',
  'oauth_app.created',
  'oauth_app.secret_regenerated',
  'oauth_app.updated',
  'oauth_app.revoked',
  'oauth_grant.created',
  'oauth_grant.revoked',
  'token.handed_out',
  'user.signed_in',
  'user.sign_in_failed',
  'user.disabled',
  'user.enabled',
  'webhook_endpoint.disabled',
  'workspace.updated',
];

export async function render(main) {
  const pageMessages = messageArea();
  const secretSlot = h('div', {});
  const listSlot = h('div', {});

  // ---- create ----
  const formMessages = messageArea();
  const url = h('input', {
    type: 'url',
    required: true,
    autocomplete: 'off',
    placeholder: 'https://api.example.com/latchkey/webhooks',
  });
  const description = h('input', { type: 'text', maxlength: '200', autocomplete: 'off' });
  const types = checkboxGroup({
    legend: 'Event types',
    hint: 'Tick none to receive every event type, including ones added later.',
    name: 'eventTypes',
    items: EVENT_TYPES.map((value) => ({ value, checked: false })),
  });
  const create = h('button', { type: 'submit', class: 'button-primary' }, 'Add endpoint');
  const form = h(
    'form',
    { class: 'card stack', novalidate: true, 'aria-labelledby': 'create-endpoint-title' },
    h('h2', { id: 'create-endpoint-title' }, 'Add a webhook endpoint'),
    h(
      'p',
      { class: 'hint' },
      'Latchkey POSTs each event to this URL, signed per the Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature headers), and retries failures for three days.',
    ),
    field({ label: 'URL', control: url, name: 'url', hint: 'An https URL your backend serves.' }),
    field({ label: 'Description', control: description, name: 'description' }),
    types,
    formMessages.el,
    h('div', { class: 'form-actions' }, create),
  );
  onSubmit(form, create, formMessages, async () => {
    const eventTypes = checkedValues(types);
    const endpoint = (
      await api('POST', '/webhook-endpoints', {
        url: url.value.trim(),
        ...(description.value.trim() ? { description: description.value.trim() } : {}),
        ...(eventTypes.length ? { eventTypes } : {}),
      })
    ).data;
    url.value = '';
    description.value = '';
    await load();
    showSecret(endpoint, 'created');
  });

  // ---- the secret, once: kept only in this panel's DOM, gone on "Done" or reload ----
  function showSecret(endpoint, what) {
    showSecretOnce(secretSlot, {
      id: 'webhook-secret',
      title:
        what === 'created'
          ? 'Endpoint added: copy its signing secret now'
          : 'New signing secret: copy it now',
      warning: [
        'This is the only time the signing secret is shown; it cannot be retrieved again. ',
        what === 'created'
          ? ''
          : endpoint.previousSecretExpiresAt
            ? `Until ${new Date(endpoint.previousSecretExpiresAt).toLocaleString()}, deliveries carry a signature with the old secret too: switch your receiver before then.`
            : 'The old secret no longer signs deliveries.',
      ],
      fields: [
        {
          id: 'new-webhook-secret',
          label: 'Signing secret',
          value: endpoint.secret,
          copyName: 'signing secret',
          secret: true,
        },
      ],
      onDone: () => url.focus(),
    });
  }

  // ---- list ----
  async function load() {
    const endpoints = (await api('GET', '/webhook-endpoints')).data.data;
    if (!endpoints.length) {
      listSlot.replaceChildren(
        emptyState(
          'No webhook endpoints yet',
          'Add one to have your backend told about connections as they change.',
        ),
      );
      return;
    }
    listSlot.replaceChildren(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', { class: 'visually-hidden' }, 'Webhook endpoints of this workspace'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Endpoint', 'Event types', 'Created', 'State', 'Actions'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          h('tbody', {}, endpoints.map(row)),
        ),
      ),
    );
  }
  function row(endpoint) {
    const name = endpoint.description || endpoint.url;
    const state = h(
      'span',
      {},
      badge(endpoint.enabled ? 'enabled' : 'disabled'),
      endpoint.disabledReason
        ? h('span', { class: 'small muted' }, ' ', endpoint.disabledReason)
        : null,
      endpoint.enabled && endpoint.failingSince
        ? h('span', { class: 'small muted' }, ' failing since ', time(endpoint.failingSince))
        : null,
    );
    const button = (label, cls, aria, onclick) =>
      h(
        'button',
        { type: 'button', class: `${cls} button-small`, 'aria-label': aria, onclick },
        label,
      );
    return h(
      'tr',
      { dataset: { endpointId: endpoint.id } },
      h(
        'th',
        { scope: 'row' },
        h('a', { href: `/settings/webhooks/${endpoint.id}` }, name),
        endpoint.description ? h('span', { class: 'mono small' }, ' ', endpoint.url) : null,
      ),
      h(
        'td',
        { class: 'small mono' },
        endpoint.eventTypes ? endpoint.eventTypes.join(', ') : 'All events',
      ),
      h('td', {}, time(endpoint.createdAt)),
      h('td', { class: 'state-cell' }, state),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'row-actions' },
          button(
            endpoint.enabled ? 'Disable' : 'Enable',
            'button-secondary',
            `${endpoint.enabled ? 'Disable' : 'Enable'} ${name}`,
            () => setEnabled(endpoint, !endpoint.enabled),
          ),
          button('Rotate secret', 'button-secondary', `Rotate the secret of ${name}`, () =>
            rotate(endpoint),
          ),
          button('Delete', 'button-danger', `Delete ${name}`, () => remove(endpoint)),
        ),
      ),
    );
  }
  const setEnabled = (endpoint, enabled) =>
    act(pageMessages, async () => {
      await api('PATCH', `/webhook-endpoints/${endpoint.id}`, { enabled });
      await load();
      pageMessages.success(enabled ? 'The endpoint is enabled.' : 'The endpoint is disabled.');
    });
  const rotate = (endpoint) =>
    act(
      pageMessages,
      async () => {
        const updated = (await api('POST', `/webhook-endpoints/${endpoint.id}/secret`)).data;
        await load();
        showSecret(updated, 'rotated');
      },
      {
        question:
          'Generate a new signing secret? The current one keeps signing beside it for a while, so your receiver can switch.',
      },
    );
  const remove = (endpoint) =>
    act(
      pageMessages,
      async () => {
        await api('DELETE', `/webhook-endpoints/${endpoint.id}`);
        await load();
        pageMessages.success('The endpoint was deleted.');
      },
      { question: `Delete the endpoint ${endpoint.url}? Its delivery log goes with it.` },
    );

  await load();
  mount(
    main,
    pageHeader('Webhooks'),
    h('p', { class: 'lead' }, 'Where Latchkey sends signed events of this workspace.'),
    pageMessages.el,
    secretSlot,
    listSlot,
    form,
  );
}
