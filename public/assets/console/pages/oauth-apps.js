import { api } from '../api.js';
import {
  act,
  checkboxGroup,
  checkedValues,
  dataTable,
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

const ADMIN_ONLY = new Set(['offerings:write', 'workspaces:write']);

export async function render(main) {
  const held = (main.dataset.scopes ?? '').split(' ').filter(Boolean);
  const pageMessages = messageArea();
  const secretSlot = h('div', {});
  const listSlot = h('div', {});
  let apps = [];

  // ---- create ----
  const formMessages = messageArea();
  const description = h('input', {
    type: 'text',
    maxlength: '200',
    required: true,
    autocomplete: 'off',
    placeholder: 'Production backend',
  });
  const scopes = checkboxGroup({
    legend: 'Scopes',
    hint: 'What tokens of this app may do. Platform-admin scopes are not ticked by default.',
    name: 'scopes',
    items: held.map((s) => ({
      value: s,
      checked: !ADMIN_ONLY.has(s),
      tag: ADMIN_ONLY.has(s) ? 'admin' : undefined,
    })),
  });
  const name = h('input', {
    type: 'text',
    maxlength: '100',
    autocomplete: 'off',
    placeholder: 'Acme Reports',
  });
  const redirectUris = h('textarea', {
    rows: '3',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'https://reports.example.com/oauth/callback',
  });
  const create = h('button', { type: 'submit', class: 'button-primary' }, 'Create OAuth App');
  const form = h(
    'form',
    { class: 'card stack', novalidate: true, 'aria-labelledby': 'create-app-title' },
    h('h2', { id: 'create-app-title' }, 'Create an OAuth App'),
    h(
      'p',
      { class: 'hint' },
      'An OAuth App is a machine client of the Latchkey API: your backend exchanges its client ID and secret for short-lived tokens at POST /api/v1/oauth/token. With redirect URIs it is instead a third-party app that acts for the people who authorize it at /oauth/authorize.',
    ),
    field({
      label: 'Description',
      control: description,
      name: 'description',
      hint: 'What the app is for.',
    }),
    field({
      label: 'Name',
      control: name,
      name: 'name',
      hint: 'Shown to people on the consent page of a third-party app.',
    }),
    field({
      label: 'Redirect URIs',
      control: redirectUris,
      name: 'redirectUris',
      hint: 'Only for a third-party app that people authorize (one URI per line, up to 10, exact: https, or http on 127.0.0.1 or [::1] with any port). Leave empty for a machine client.',
    }),
    scopes,
    formMessages.el,
    h('div', { class: 'form-actions' }, create),
  );
  onSubmit(form, create, formMessages, async () => {
    const uris = redirectUris.value
      .split('\n')
      .map((u) => u.trim())
      .filter(Boolean);
    const app = (
      await api('POST', '/oauth-apps', {
        description: description.value.trim(),
        scopes: checkedValues(scopes),
        ...(name.value.trim() ? { name: name.value.trim() } : {}),
        ...(uris.length ? { redirectUris: uris } : {}),
      })
    ).data;
    description.value = '';
    name.value = '';
    redirectUris.value = '';
    await load();
    showSecret(app, 'created');
  });

  // ---- the secret, once: kept only in this panel's DOM, gone on "Done" or reload ----
  function showSecret(app, what) {
    showSecretOnce(secretSlot, {
      id: 'secret',
      title:
        what === 'created'
          ? 'OAuth App created: copy its secret now'
          : 'New secret generated: copy it now',
      warning: [
        'This is the only time the client secret is shown. Store it in your secret manager now: it cannot be retrieved again. ',
        what === 'created' ? '' : 'The old secret and every token issued with it no longer work.',
      ],
      fields: [
        { id: 'new-client-id', label: 'Client ID', value: app.clientId, copyName: 'client ID' },
        {
          id: 'new-client-secret',
          label: 'Client secret',
          value: app.clientSecret,
          copyName: 'client secret',
          secret: true,
        },
      ],
      onDone: () => description.focus(),
    });
  }

  // ---- list ----
  async function load() {
    apps = (await api('GET', '/oauth-apps')).data.data;
    if (!apps.length) {
      listSlot.replaceChildren(
        emptyState('No OAuth Apps yet', 'Create one to let your backend call the Latchkey API.'),
      );
      return;
    }
    listSlot.replaceChildren(
      dataTable({
        caption: 'OAuth Apps of this workspace',
        columns: ['App and client ID', 'Scopes', 'Created', 'Last used', 'State', 'Actions'],
        rows: apps.map(row),
      }),
    );
  }
  function row(app) {
    const state = app.revokedAt
      ? h(
          'span',
          {},
          h('span', { class: 'badge badge-revoked' }, 'Revoked'),
          ' ',
          time(app.revokedAt),
        )
      : h('span', { class: 'badge badge-active' }, 'Active');
    const actions = app.revokedAt
      ? h('span', { class: 'muted' }, '—')
      : app.isBootstrap
        ? h('span', { class: 'muted small' }, 'Managed by the environment')
        : h(
            'div',
            { class: 'row-actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'button-secondary button-small',
                'aria-label': `Regenerate secret of ${app.description}`,
                onclick: () => regenerate(app),
              },
              'Regenerate secret',
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'button-danger button-small',
                'aria-label': `Revoke ${app.description}`,
                onclick: () => revoke(app),
              },
              'Revoke',
            ),
          );
    return h(
      'tr',
      { dataset: { appId: app.id } },
      h(
        'th',
        { scope: 'row' },
        app.name ? h('span', { class: 'app-name' }, app.name) : null,
        app.description,
        h('span', { class: 'mono small app-client-id' }, app.clientId),
        app.redirectUris.length
          ? h(
              'span',
              { class: 'small app-redirects' },
              h('span', { class: 'badge badge-configured' }, 'Third-party'),
              ' Redirect URIs: ',
              h(
                'ul',
                { class: 'uri-list small mono' },
                app.redirectUris.map((u) => h('li', {}, u)),
              ),
            )
          : null,
      ),
      h('td', { class: 'small mono scopes-cell' }, app.scopes.join(', ')),
      h('td', {}, time(app.createdAt)),
      h('td', {}, time(app.lastUsedAt)),
      h('td', { class: 'state-cell' }, state),
      h('td', {}, actions),
    );
  }
  const regenerate = (app) =>
    act(
      pageMessages,
      async () => {
        const updated = (await api('POST', `/oauth-apps/${app.id}/secret`)).data;
        await load();
        showSecret(updated, 'regenerated');
      },
      {
        question: `Generate a new secret for “${app.description}”? The current secret and its tokens stop working at once.`,
      },
    );
  const revoke = (app) =>
    act(
      pageMessages,
      async () => {
        await api('DELETE', `/oauth-apps/${app.id}`);
        await load();
        pageMessages.success(`“${app.description}” was revoked.`);
        document.getElementById('main')?.focus();
      },
      {
        question: `Revoke “${app.description}”? Its tokens stop working at once. This cannot be undone.`,
      },
    );

  await load();
  mount(
    main,
    pageHeader('OAuth Apps'),
    h('p', { class: 'lead' }, 'Machine clients of the Latchkey API in this workspace.'),
    pageMessages.el,
    secretSlot,
    listSlot,
    form,
  );
}
