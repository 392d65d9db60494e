import { api } from '../api.js';
import { emptyState, field, h, messageArea, mount, pageHeader, time } from '../dom.js';

// The filters live in the page's query string, so a filtered view can be linked and reloaded.
const FILTERS = ['type', 'subjectId', 'actorId', 'since', 'until', 'scope'];

export async function render(main) {
  const isAdmin = main.dataset.admin === 'true';
  const params = new URLSearchParams(location.search);
  const messages = messageArea();
  const input = (name, props = {}) =>
    h('input', { name, autocomplete: 'off', value: params.get(name) ?? '', ...props });
  // datetime-local shows local time; the API takes ISO 8601, so the values are converted.
  const local = (name) => {
    const iso = params.get(name);
    const el = h('input', { name, type: 'datetime-local', step: '1' });
    if (iso && !Number.isNaN(Date.parse(iso))) {
      const d = new Date(iso);
      el.value = new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    }
    return el;
  };
  const controls = {
    type: input('type', { type: 'text', placeholder: 'connection.created' }),
    subjectId: input('subjectId', { type: 'text' }),
    actorId: input('actorId', { type: 'text' }),
    since: local('since'),
    until: local('until'),
  };
  const scope = h(
    'select',
    { name: 'scope' },
    h('option', { value: '' }, 'This workspace'),
    h('option', { value: 'platform', selected: params.get('scope') === 'platform' }, 'Platform'),
  );
  const form = h(
    'form',
    { class: 'card stack filters', method: 'get', 'aria-label': 'Filter events' },
    field({
      label: 'Type',
      control: controls.type,
      name: 'type',
      hint: 'Exact, e.g. token.handed_out',
    }),
    field({ label: 'Subject id', control: controls.subjectId, name: 'subjectId' }),
    field({ label: 'Actor id', control: controls.actorId, name: 'actorId' }),
    field({ label: 'Since', control: controls.since, name: 'since' }),
    field({ label: 'Until', control: controls.until, name: 'until' }),
    isAdmin ? field({ label: 'Events of', control: scope, name: 'scope' }) : '',
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'button-primary' }, 'Filter'),
      h('a', { class: 'button button-quiet', href: location.pathname }, 'Clear'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ['type', 'subjectId', 'actorId']) {
      const v = controls[name].value.trim();
      if (v) next.set(name, v);
    }
    for (const name of ['since', 'until']) {
      const v = controls[name].value;
      if (v) next.set(name, new Date(v).toISOString());
    }
    if (isAdmin && scope.value) next.set('scope', scope.value);
    location.search = next.toString();
  });

  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'button-quiet', hidden: true }, 'Load more');
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, 'Events, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Time', 'Type', 'Actor', 'Subject', 'Details'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      body,
    ),
  );
  const listSlot = h('div', {}, table, h('div', { class: 'form-actions' }, more));

  const query = new URLSearchParams({ limit: '50' });
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  let cursor = null;

  async function page() {
    if (cursor) query.set('cursor', cursor);
    const { data } = await api('GET', `/events?${query}`);
    for (const e of data.data) body.append(row(e));
    cursor = data.nextCursor;
    more.hidden = !cursor;
    return data.data.length;
  }
  more.addEventListener('click', () => {
    more.disabled = true;
    page()
      .catch((error) => messages.error(error.message))
      .finally(() => (more.disabled = false));
  });

  mount(
    main,
    pageHeader('Audit log'),
    h(
      'p',
      { class: 'lead' },
      'Everything that changed in this workspace, who did it and when — including every access-token handout. Events are kept for the configured retention, then purged.',
    ),
    form,
    messages.el,
  );
  try {
    if ((await page()) === 0)
      main.append(emptyState('No events', 'Nothing matches these filters yet.'));
    else main.append(listSlot);
  } catch (error) {
    messages.error(error.message);
  }
}

function row(e) {
  const party = (p) =>
    h('span', {}, h('span', { class: 'hint' }, `${p.kind} `), h('code', {}, p.id));
  const facts = Object.keys(e.data).length
    ? h(
        'details',
        {},
        h('summary', {}, Object.keys(e.data).slice(0, 3).join(', ')),
        h('pre', {}, JSON.stringify(e.data, null, 2)),
        e.requestId ? h('p', { class: 'hint' }, `Request ${e.requestId}`) : '',
      )
    : '—';
  return h(
    'tr',
    {},
    h('td', {}, time(e.occurredAt)),
    h('th', { scope: 'row' }, h('code', {}, e.type)),
    h('td', {}, party(e.actor)),
    h('td', {}, party(e.subject)),
    h('td', {}, facts),
  );
}
