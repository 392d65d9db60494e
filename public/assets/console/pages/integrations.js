import { api } from '../api.js';
import { badge, emptyState, h, mount, pageHeader, time } from '../dom.js';

export async function render(main) {
  const [integrations, offerings] = await Promise.all([
    api('GET', '/integrations'),
    api('GET', '/offerings'),
  ]);
  const offeringName = new Map(offerings.data.data.map((o) => [o.id, o.displayName]));
  const add = h('a', { class: 'button button-primary', href: '/oauth/create' }, 'Add Integration');
  const list = integrations.data.data;

  if (!list.length) {
    mount(
      main,
      pageHeader('Integrations'),
      emptyState(
        'No integrations yet',
        'An integration holds your OAuth client (client ID and secret) at a provider such as Salesforce. ' +
          'Add one, register its callback URL at the provider, and your end users can start connecting.',
        add,
      ),
    );
    return;
  }

  const rows = list.map((i) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: `/oauth/${i.id}` }, i.name)),
      h('td', {}, offeringName.get(i.offeringId) ?? '—'),
      h('td', {}, badge(i.status)),
      h('td', {}, time(i.createdAt)),
    ),
  );
  mount(
    main,
    pageHeader('Integrations', add),
    h(
      'p',
      { class: 'lead' },
      'Only configured integrations — credentials verified with the provider — can start connections.',
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, 'Integrations in this workspace'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Offering', 'Status', 'Created'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h('tbody', {}, rows),
      ),
    ),
  );
}
