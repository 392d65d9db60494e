import { api } from '../api.js';
import { badge, emptyState, h, messageArea, mount, pageHeader, time } from '../dom.js';

export async function render(main) {
  const id = main.dataset.endpointId;
  const messages = messageArea();
  const listSlot = h('div', {});
  const more = h(
    'button',
    { type: 'button', class: 'button-secondary', hidden: true },
    'Older deliveries',
  );
  let cursor = null;
  let rows = [];

  const endpoint = (await api('GET', `/webhook-endpoints/${id}`)).data;

  async function load(next) {
    const query = next ? `?cursor=${encodeURIComponent(next)}` : '';
    const page = (await api('GET', `/webhook-endpoints/${id}/deliveries${query}`)).data;
    rows = next ? rows.concat(page.data) : page.data;
    cursor = page.nextCursor;
    more.hidden = !cursor;
    render();
  }
  more.addEventListener('click', () => load(cursor).catch((e) => messages.error(e.message)));

  function render() {
    if (!rows.length) {
      listSlot.replaceChildren(
        emptyState('No deliveries yet', 'Events of the types this endpoint wants appear here.'),
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
          h('caption', { class: 'visually-hidden' }, 'Deliveries, newest first'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Event', 'Created', 'State', 'Attempts', 'Actions'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          h('tbody', {}, rows.map(row)),
        ),
      ),
    );
  }

  function row(d) {
    const attempts = h(
      'details',
      {},
      h('summary', {}, `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`),
      h(
        'ol',
        { class: 'small' },
        d.attemptLog.map((a) =>
          h(
            'li',
            {},
            time(a.attemptedAt),
            ' — ',
            a.statusCode === null ? (a.error ?? 'no answer') : `HTTP ${a.statusCode}`,
            ` in ${a.durationMs} ms`,
            a.responseExcerpt ? h('pre', { class: 'mono small' }, a.responseExcerpt) : null,
          ),
        ),
      ),
    );
    return h(
      'tr',
      { dataset: { deliveryId: d.id } },
      h('th', { scope: 'row' }, d.eventType, h('span', { class: 'mono small' }, ' ', d.eventId)),
      h('td', {}, time(d.createdAt)),
      h(
        'td',
        {},
        badge(d.status),
        d.status === 'pending' && d.nextAttemptAt
          ? h('span', { class: 'small muted' }, ' next ', time(d.nextAttemptAt))
          : null,
        d.lastError ? h('span', { class: 'small muted' }, ' ', d.lastError) : null,
      ),
      h('td', {}, attempts),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'button-secondary button-small',
            'aria-label': `Retry ${d.eventType} ${d.eventId}`,
            disabled: !endpoint.enabled,
            onclick: () => retry(d),
          },
          'Retry',
        ),
      ),
    );
  }

  async function retry(d) {
    messages.clear();
    try {
      await api('POST', `/webhook-endpoints/${id}/deliveries/${d.id}/retry`);
      messages.success('The delivery will be sent again in a moment.');
      await load();
    } catch (error) {
      messages.error(error.message).focus();
    }
  }

  await load();
  mount(
    main,
    pageHeader('Webhook deliveries'),
    h(
      'p',
      { class: 'lead' },
      'To ',
      h('span', { class: 'mono' }, endpoint.url),
      ' ',
      badge(endpoint.enabled ? 'enabled' : 'disabled'),
      ' · ',
      h('a', { href: '/settings/webhooks' }, 'All endpoints'),
    ),
    messages.el,
    listSlot,
    h('div', { class: 'form-actions' }, more),
  );
}
