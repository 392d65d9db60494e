import { api } from '../api.js';
import { act, dataTable, emptyState, h, messageArea, mount, pageHeader, time } from '../dom.js';

/**
 * The apps the signed-in person authorized to act for them (third-party apps and the CLI), in
 * every workspace, with a way to end each authorization at once.
 */
export async function render(main) {
  const pageMessages = messageArea();
  const listSlot = h('div', {});
  let grants = [];

  async function load() {
    grants = (await api('GET', '/authorized-apps')).data.data;
    listSlot.replaceChildren(grants.length ? table() : none());
  }
  function none() {
    return emptyState(
      'No authorized apps',
      'When you allow an app or the Latchkey CLI to act for you, it is listed here until you revoke it.',
    );
  }
  function table() {
    return dataTable({
      caption: 'Apps you authorized',
      columns: ['App', 'Workspace', 'What it may do', 'Authorized', 'Last used', 'Actions'],
      rows: grants.map(row),
    });
  }
  function row(grant) {
    return h(
      'tr',
      { dataset: { grantId: grant.grantId } },
      h(
        'th',
        { scope: 'row' },
        h('span', { class: 'app-name' }, grant.name),
        grant.description && grant.description !== grant.name
          ? h('span', { class: 'small app-description' }, grant.description)
          : null,
        h('span', { class: 'mono small app-client-id' }, grant.clientId),
      ),
      h('td', {}, grant.workspaceName),
      h('td', { class: 'small mono scopes-cell' }, grant.scopes.join(', ')),
      h('td', {}, time(grant.createdAt)),
      h('td', {}, time(grant.lastUsedAt)),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'button-danger button-small',
            'aria-label': `Revoke ${grant.name} in ${grant.workspaceName}`,
            onclick: () => revoke(grant),
          },
          'Revoke',
        ),
      ),
    );
  }
  const revoke = (grant) =>
    act(
      pageMessages,
      async () => {
        await api('DELETE', `/authorized-apps/${grant.grantId}`);
        await load();
        pageMessages.success(`“${grant.name}” no longer acts for you in ${grant.workspaceName}.`);
        document.getElementById('main')?.focus();
      },
      {
        question: `Revoke “${grant.name}” in ${grant.workspaceName}? It stops acting for you at once; to use it again you authorize it anew.`,
      },
    );

  await load();
  mount(
    main,
    pageHeader('Authorized apps'),
    h(
      'p',
      { class: 'lead' },
      'Apps you allowed to act for you. Each acts only in the workspace you chose, never beyond your role there.',
    ),
    pageMessages.el,
    listSlot,
  );
}
