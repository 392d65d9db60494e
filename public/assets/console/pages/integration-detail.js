import { api, ApiError } from '../api.js';
import {
  badge,
  checkedValues,
  clear,
  copyControl,
  emptyState,
  field,
  h,
  messageArea,
  mount,
  onSubmit,
  readonlyInput,
  time,
} from '../dom.js';
import { redirectUrisInput, redirectUrisValue, scopeGroup } from './integration-form.js';

const TABS = ['settings', 'connections'];

export async function render(main) {
  const id = main.dataset.integrationId;
  let integration;
  try {
    integration = (await api('GET', `/integrations/${id}`)).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      mount(
        main,
        h('h1', {}, 'Integration not found'),
        h(
          'p',
          {},
          'It does not exist in this workspace, or it was deleted. ',
          h('a', { href: '/oauth' }, 'Back to integrations'),
        ),
      );
      return;
    }
    throw error;
  }
  const offering = (await api('GET', `/offerings/${integration.offeringId}`)).data;

  const heading = h('h1', {}, integration.name);
  const headerBadge = h('span', {}, badge(integration.status));
  const settings = h('div', {
    class: 'tab-panel',
    role: 'tabpanel',
    id: 'panel-settings',
    'aria-labelledby': 'tab-settings',
    tabindex: '0',
  });
  const connections = h('div', {
    class: 'tab-panel',
    role: 'tabpanel',
    id: 'panel-connections',
    'aria-labelledby': 'tab-connections',
    tabindex: '0',
  });
  const panels = { settings, connections };

  const update = (next) => {
    integration = next;
    heading.textContent = next.name;
    headerBadge.replaceChildren(badge(next.status));
    renderStatus();
  };

  // ---- tabs: a tablist with roving focus; the selection lives in the URL hash ----
  const tabs = TABS.map((name) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${name}`,
        'aria-controls': `panel-${name}`,
        onclick: () => select(name, { focus: false, push: true }),
      },
      name === 'settings' ? 'Settings' : 'Connections',
    ),
  );
  const tablist = h('div', { role: 'tablist', 'aria-label': 'Integration', class: 'tabs' }, tabs);
  tablist.addEventListener('keydown', (event) => {
    const current = TABS.indexOf(selected);
    const to = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: TABS.length - 1 }[
      event.key
    ];
    if (to === undefined) return;
    event.preventDefault();
    select(TABS[(to + TABS.length) % TABS.length], { focus: true, push: true });
  });
  let selected = null;
  let connectionsLoaded = false;
  function select(name, { focus, push }) {
    selected = name;
    tabs.forEach((tab, i) => {
      const on = TABS[i] === name;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      panels[TABS[i]].hidden = !on;
      if (on && focus) tab.focus();
    });
    if (push && location.hash !== `#${name}`)
      history.replaceState(null, '', name === 'settings' ? location.pathname : `#${name}`);
    if (name === 'connections' && !connectionsLoaded) {
      connectionsLoaded = true;
      void loadConnections();
    }
  }
  const fromHash = () => (location.hash === '#connections' ? 'connections' : 'settings');
  window.addEventListener('hashchange', () => select(fromHash(), { focus: false, push: false }));

  // ---- Settings: status and verification ----
  const statusBody = h('div', {});
  const statusMessages = messageArea();
  const verifyButton = h(
    'button',
    { type: 'button', class: 'button-secondary', onclick: verify },
    'Verify again',
  );
  const secretState = h('p', {});
  function renderStatus() {
    const v = integration.verification;
    secretState.textContent = integration.hasClientSecret
      ? 'A client secret is stored (encrypted). It is never shown.'
      : 'No client secret is stored yet.';
    statusBody.replaceChildren(
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Status'),
        h('dd', {}, badge(integration.status)),
        h('dt', {}, 'Verification'),
        h(
          'dd',
          {},
          v
            ? [badge(v.outcome), ' ', h('span', { class: 'verification-message' }, v.message)]
            : h(
                'span',
                { class: 'muted' },
                integration.hasClientSecret
                  ? 'Not checked yet.'
                  : 'No client secret yet: add one below to verify the credentials.',
              ),
        ),
        h('dt', {}, 'Checked'),
        h('dd', {}, v ? time(v.checkedAt) : '—'),
        h('dt', {}, 'Offering'),
        h('dd', {}, offering.displayName),
      ),
      ...(integration.status === 'draft'
        ? [
            h(
              'p',
              { class: 'notice' },
              'Draft integrations cannot start connections until the provider accepts their credentials.',
            ),
          ]
        : []),
    );
  }
  async function verify() {
    verifyButton.disabled = true;
    statusMessages.clear();
    try {
      update((await api('POST', `/integrations/${id}/verify`)).data);
      statusMessages.success(
        `Verification finished: ${integration.verification?.outcome ?? 'not checked'}. ${integration.verification?.message ?? ''}`.trim(),
      );
    } catch (error) {
      statusMessages.error(error.message).focus();
    } finally {
      verifyButton.disabled = false;
    }
  }
  renderStatus();

  // ---- Settings: callback URL ----
  const callback = readonlyInput(integration.callbackUrl, {
    id: 'callback-url',
    'aria-describedby': 'callback-url-hint',
    dataset: { copyName: 'callback URL' },
  });

  // ---- Settings: secret rotation (the field is never pre-filled: the secret is write-only) ----
  const secretMessages = messageArea();
  const newSecret = h('input', {
    type: 'password',
    autocomplete: 'new-password',
    spellcheck: 'false',
    required: true,
  });
  const rotateButton = h('button', { type: 'submit', class: 'button-secondary' }, 'Rotate secret');
  const rotateForm = h(
    'form',
    { class: 'stack', novalidate: true },
    field({
      label: 'New client secret',
      control: newSecret,
      name: 'clientSecret',
      hint: 'Verified with the provider first: a rejected secret changes nothing and the current one stays in use.',
    }),
    secretMessages.el,
    h('div', { class: 'form-actions' }, rotateButton),
  );
  onSubmit(rotateForm, rotateButton, secretMessages, async () => {
    update(
      (await api('PUT', `/integrations/${id}/secret`, { clientSecret: newSecret.value })).data,
    );
    newSecret.value = '';
    secretMessages.success('The new secret was accepted by the provider and is now in use.');
  });

  // ---- Settings: editable fields (PATCH) ----
  const editMessages = messageArea();
  const name = h('input', {
    type: 'text',
    value: integration.name,
    maxlength: '100',
    required: true,
    autocomplete: 'off',
  });
  const clientId = h('input', {
    type: 'text',
    value: integration.clientId,
    class: 'mono',
    spellcheck: 'false',
    autocomplete: 'off',
    required: true,
  });
  const scopes = scopeGroup(offering, integration.scopes);
  const redirects = redirectUrisInput(integration.allowedRedirectUris);
  const saveButton = h('button', { type: 'submit', class: 'button-primary' }, 'Save changes');
  const editForm = h(
    'form',
    { class: 'stack', novalidate: true },
    field({ label: 'Integration name', control: name, name: 'name' }),
    field({
      label: 'Client ID',
      control: clientId,
      name: 'clientId',
      hint: 'Changing it verifies the credentials again.',
    }),
    scopes,
    redirects,
    editMessages.el,
    h('div', { class: 'form-actions' }, saveButton),
  );
  onSubmit(editForm, saveButton, editMessages, async () => {
    update(
      (
        await api('PATCH', `/integrations/${id}`, {
          name: name.value.trim(),
          clientId: clientId.value.trim(),
          scopes: checkedValues(scopes),
          allowedRedirectUris: redirectUrisValue(redirects),
        })
      ).data,
    );
    editMessages.success('Changes saved.');
  });

  // ---- Settings: delete ----
  const deleteMessages = messageArea();
  const deleteButton = h(
    'button',
    { type: 'button', class: 'button-danger', onclick: () => remove(false) },
    'Delete integration',
  );
  async function remove(force) {
    const question = force
      ? 'Revoke every connection of this integration at the provider and delete it? This cannot be undone.'
      : `Delete the integration “${integration.name}”? This cannot be undone.`;
    if (!confirm(question)) return;
    deleteMessages.clear();
    try {
      await api('DELETE', `/integrations/${id}${force ? '?force=true' : ''}`);
      location.assign('/oauth');
    } catch (error) {
      if (error instanceof ApiError && error.code === 'integration.has_connections') {
        const count = error.details.connections ?? 'Some';
        deleteMessages
          .error(
            `${count} connection(s) still hold credentials, so the integration was not deleted.`,
            h(
              'p',
              {},
              'Delete those connections first (Connections tab), or revoke them all at the provider and delete the integration with them.',
            ),
            h(
              'button',
              { type: 'button', class: 'button-danger', onclick: () => remove(true) },
              `Revoke ${count} connection(s) and delete`,
            ),
          )
          .focus();
      } else {
        deleteMessages.error(error.message).focus();
      }
    }
  }

  settings.append(
    section(
      'Status',
      h('div', { class: 'section-actions' }, verifyButton),
      statusBody,
      statusMessages.el,
    ),
    section(
      'Callback URL',
      h(
        'p',
        { class: 'hint', id: 'callback-url-hint' },
        "Register exactly this URL in the provider's connected app; any difference makes the flow fail.",
      ),
      h('label', { for: 'callback-url', class: 'visually-hidden' }, 'Callback URL'),
      copyControl(callback),
    ),
    section('Client secret', secretState, rotateForm),
    section('Settings', editForm),
    section(
      'Delete',
      h('p', {}, 'Deleting removes the integration and its connect sessions.'),
      deleteMessages.el,
      deleteButton,
    ),
  );

  // ---- Connections ----
  async function loadConnections() {
    clear(connections).append(h('p', { class: 'loading' }, 'Loading connections…'));
    const messages = messageArea();
    let rows = [];
    let cursor = null;
    const tbody = h('tbody', {});
    const more = h(
      'button',
      { type: 'button', class: 'button-secondary', hidden: true, onclick: () => page() },
      'Load more',
    );
    async function page() {
      try {
        const res = await api(
          'GET',
          `/connections?integrationId=${id}&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        rows = rows.concat(res.data.data);
        cursor = res.data.nextCursor;
        more.hidden = !cursor;
        draw();
      } catch (error) {
        messages.error(error.message);
      }
    }
    function draw() {
      if (!rows.length) {
        connections.replaceChildren(
          emptyState(
            'No connections yet',
            'Connections appear here when end users authorize this integration through a connect session created by your backend (POST /api/v1/connect-sessions).',
          ),
          messages.el,
        );
        return;
      }
      tbody.replaceChildren(...rows.map(row));
      if (!tbody.isConnected) {
        connections.replaceChildren(
          messages.el,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              {},
              h('caption', { class: 'visually-hidden' }, 'Connections of this integration'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  [
                    'End user',
                    'Provider account',
                    'Status',
                    'Last refresh',
                    'Token expires',
                    'Actions',
                  ].map((c) => h('th', { scope: 'col' }, c)),
                ),
              ),
              tbody,
            ),
          ),
          more,
        );
      }
    }
    function row(c) {
      const who = c.endUser.displayName || c.endUser.email || c.endUser.id;
      const actions =
        c.status === 'revoked'
          ? h('span', { class: 'muted' }, '—')
          : h(
              'div',
              { class: 'row-actions' },
              h(
                'button',
                {
                  type: 'button',
                  class: 'button-secondary button-small',
                  'aria-label': `Refresh connection of ${who}`,
                  onclick: (e) => refresh(c, e.currentTarget),
                },
                'Refresh',
              ),
              h(
                'button',
                {
                  type: 'button',
                  class: 'button-danger button-small',
                  'aria-label': `Delete connection of ${who}`,
                  onclick: (e) => del(c, e.currentTarget),
                },
                'Delete',
              ),
            );
      return h(
        'tr',
        { dataset: { connectionId: c.id } },
        h(
          'th',
          { scope: 'row' },
          h('div', {}, who),
          c.endUser.id !== who ? h('div', { class: 'muted small mono' }, c.endUser.id) : null,
        ),
        h(
          'td',
          {},
          h('div', {}, c.provider.username || c.provider.displayName || c.provider.userId),
          c.provider.orgId ? h('div', { class: 'muted small' }, `Org ${c.provider.orgId}`) : null,
          bag('Configuration', c.configuration),
          bag('Metadata', c.metadata),
        ),
        h(
          'td',
          {},
          badge(c.status),
          c.lastError ? h('div', { class: 'muted small' }, c.lastError) : null,
        ),
        h('td', {}, time(c.lastRefreshedAt)),
        h('td', {}, time(c.accessTokenExpiresAt)),
        h('td', {}, actions),
      );
    }
    /** A connection's readable bag (configuration, metadata) as a collapsed list; text only. */
    function bag(title, values) {
      const entries = Object.entries(values ?? {});
      if (!entries.length) return null;
      return h(
        'details',
        { class: 'connection-bag small' },
        h('summary', {}, `${title} (${entries.length})`),
        h(
          'dl',
          {},
          entries.map(([key, value]) => [
            h('dt', { class: 'mono' }, key),
            h('dd', { class: 'mono' }, typeof value === 'string' ? value : JSON.stringify(value)),
          ]),
        ),
      );
    }
    function replace(updated) {
      rows = rows.map((r) => (r.id === updated.id ? updated : r));
      draw();
      // Keep keyboard focus on the row that changed.
      tbody
        .querySelector(
          `tr[data-connection-id="${updated.id}"] button, tr[data-connection-id="${updated.id}"] th`,
        )
        ?.focus();
    }
    async function refresh(c, button) {
      button.disabled = true;
      messages.clear();
      try {
        replace((await api('POST', `/connections/${c.id}/refresh`)).data);
        messages.success('Access token refreshed.');
      } catch (error) {
        button.disabled = false;
        messages.error(error.message);
        if (error instanceof ApiError && error.code === 'connection.needs_reauth') {
          replace((await api('GET', `/connections/${c.id}`)).data);
        }
      }
    }
    async function del(c, button) {
      const who = c.endUser.displayName || c.endUser.email || c.endUser.id;
      if (
        !confirm(
          `Delete the connection of ${who}? Its tokens are revoked at the provider and erased.`,
        )
      )
        return;
      button.disabled = true;
      messages.clear();
      try {
        await api('DELETE', `/connections/${c.id}`);
        replace((await api('GET', `/connections/${c.id}`)).data);
        messages.success(`The connection of ${who} was deleted.`);
      } catch (error) {
        button.disabled = false;
        messages.error(error.message);
      }
    }
    await page();
  }

  mount(
    main,
    h('p', { class: 'breadcrumb' }, h('a', { href: '/oauth' }, 'Integrations')),
    h('div', { class: 'page-header' }, h('div', { class: 'title-row' }, heading, headerBadge)),
    tablist,
    settings,
    connections,
  );
  select(fromHash(), { focus: false, push: false });
}

function section(title, ...content) {
  return h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), content);
}
