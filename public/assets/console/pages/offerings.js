import { api, ApiError } from '../api.js';
import {
  badge,
  clearFieldErrors,
  emptyState,
  field,
  h,
  messageArea,
  mount,
  pageHeader,
  reportError,
  splitList,
} from '../dom.js';

/** The template parts edited as one JSON object (the settled names; GET /api/v1/offerings/schema). */
const TEMPLATE_PARTS = [
  'authorizationParams',
  'scopeSeparator',
  'tokenRequest',
  'tokenResponse',
  'userDetails',
  'registrationRequests',
  'connectionConfig',
  'credentialFields',
  'proxyHeaders',
  'proxyQuery',
  'sensitiveKeys',
  'docsUrl',
  'callbackParams',
  'catalog',
];

const AUTH_MODES = [
  ['oauth2', 'oauth2 (authorization code)'],
  ['oauth2_client_credentials', 'oauth2_client_credentials (machine)'],
  ['bearer_token', 'bearer_token (pasted API key)'],
  ['basic', 'basic (two pasted fields)'],
];

const AUTH_MODE_LABELS = {
  oauth2: 'OAuth 2.0',
  oauth2_client_credentials: 'Client credentials',
  bearer_token: 'API key',
  basic: 'Basic',
};

/**
 * Up to two letters for a provider: the first letters of the display name's first two words
 * (what is in parentheses left out), or the first two letters of a single word.
 */
export function initialsOf(o) {
  const words = o.displayName
    .replace(/\([^)]*\)/g, ' ')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  if (!words.length) return o.provider.slice(0, 2).toUpperCase();
  const letters = words.length > 1 ? words[0][0] + words[1][0] : words[0].slice(0, 2);
  return letters.toUpperCase();
}

/** A colour class from the provider slug: the same provider always gets the same one. */
function avatarClass(provider) {
  let hash = 0;
  for (const c of provider) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return `avatar avatar-${hash % 8}`;
}

/** Whether an offering matches a search: key, provider or display name, case-insensitively. */
export function matches(o, query) {
  const q = query.trim().toLowerCase();
  return !q || [o.key, o.provider, o.displayName].some((v) => v.toLowerCase().includes(q));
}

/** The parts an offering has, as one object. */
function partsOf(o) {
  const parts = {};
  for (const k of TEMPLATE_PARTS) if (o[k] !== undefined) parts[k] = o[k];
  return parts;
}

/** An offering as a provider template (what the validate route and the schema describe). */
function templateOf(o) {
  const { id: _id, builtIn: _b, createdAt: _c, updatedAt: _u, ...template } = o;
  for (const [k, v] of Object.entries(template)) if (v === null) delete template[k];
  if (template.tokenEndpointAuthMethod === 'none') delete template.tokenEndpointAuthMethod;
  return template;
}

/** Problems at JSON Pointers, for a message area. */
function problemList(label, problems) {
  return h(
    'ul',
    { class: 'problems', 'aria-label': label },
    problems.map((p) =>
      h('li', { dataset: { path: p.path } }, h('code', {}, p.path || '/'), ' ', p.message),
    ),
  );
}

const OPTIONAL_URLS = [
  'issuer',
  'authorizationUrl',
  'tokenUrl',
  'revocationUrl',
  'introspectionUrl',
  'userinfoUrl',
];

export async function render(main) {
  const pageMessages = messageArea();
  const listSlot = h('div', {});
  const formSlot = h('div', {});
  const newButton = h(
    'button',
    { type: 'button', class: 'button-primary', onclick: () => openForm(null) },
    'New offering',
  );
  let offerings = [];

  async function load() {
    offerings = (await api('GET', '/offerings')).data.data;
    drawList();
  }

  const search = h('input', {
    type: 'search',
    name: 'search',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'salesforce, Google, quickbooks-sandbox…',
    oninput: () => drawList(),
  });
  const count = h('p', { class: 'catalog-count', 'aria-live': 'polite' });
  const toolbar = h(
    'div',
    { class: 'catalog-toolbar' },
    field({
      label: 'Search offerings',
      control: search,
      name: 'search',
      hint: 'By key, provider or display name.',
    }),
    count,
  );

  function drawList() {
    if (!offerings.length) {
      toolbar.hidden = true;
      listSlot.replaceChildren(
        emptyState(
          'No offerings',
          'Offerings are the providers and environments developers can build integrations for.',
        ),
      );
      return;
    }
    toolbar.hidden = false;
    const shown = offerings.filter((o) => matches(o, search.value));
    count.textContent =
      shown.length === offerings.length
        ? `${offerings.length} offerings`
        : `${shown.length} of ${offerings.length} offerings`;
    if (!shown.length) {
      listSlot.replaceChildren(
        emptyState(
          'No offering matches',
          `Nothing has “${search.value.trim()}” in its key, provider or name.`,
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
          h('caption', { class: 'visually-hidden' }, 'Offerings'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Offering', 'Key', 'Provider · environment', 'Auth mode', 'State', 'Actions'].map(
                (c) => h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            shown.map((o) =>
              h(
                'tr',
                { dataset: { offeringId: o.id } },
                h(
                  'th',
                  { scope: 'row' },
                  h(
                    'span',
                    { class: 'offering-name' },
                    h(
                      'span',
                      {
                        class: avatarClass(o.provider),
                        'aria-hidden': 'true',
                      },
                      initialsOf(o),
                    ),
                    h(
                      'span',
                      {},
                      o.displayName,
                      o.builtIn ? h('span', { class: 'tag' }, 'built-in') : null,
                    ),
                  ),
                ),
                h('td', { class: 'mono' }, o.key),
                h('td', {}, `${o.provider} · ${o.environment}`),
                h('td', { title: o.authMode }, AUTH_MODE_LABELS[o.authMode] ?? o.authMode),
                h('td', {}, badge(o.enabled ? 'enabled' : 'disabled')),
                h(
                  'td',
                  {},
                  h(
                    'div',
                    { class: 'row-actions' },
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'button-secondary button-small',
                        'aria-label': `${o.enabled ? 'Disable' : 'Enable'} ${o.displayName}`,
                        onclick: () => toggle(o),
                      },
                      o.enabled ? 'Disable' : 'Enable',
                    ),
                    o.builtIn
                      ? [
                          h(
                            'button',
                            {
                              type: 'button',
                              class: 'button-secondary button-small',
                              'aria-label': `View ${o.displayName}`,
                              onclick: () => openView(o),
                            },
                            'View',
                          ),
                          h(
                            'button',
                            {
                              type: 'button',
                              class: 'button-secondary button-small',
                              'aria-label': `Clone ${o.displayName}`,
                              onclick: () => openClone(o),
                            },
                            'Clone',
                          ),
                        ]
                      : h(
                          'button',
                          {
                            type: 'button',
                            class: 'button-secondary button-small',
                            'aria-label': `Edit ${o.displayName}`,
                            onclick: () => openForm(o),
                          },
                          'Edit',
                        ),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  /** A built-in copied under a new key into an editable offering (POST /offerings/{id}/clone). */
  function openClone(o) {
    const close = () => {
      formSlot.replaceChildren();
      newButton.focus();
    };
    formSlot.replaceChildren(
      cloneForm(
        o,
        async (saved) => {
          formSlot.replaceChildren();
          search.value = '';
          await load();
          pageMessages.success(
            `${saved.displayName} was created from ${o.displayName}: edit it as you need.`,
          );
          listSlot
            .querySelector(`tr[data-offering-id="${saved.id}"] button[aria-label^="Edit"]`)
            ?.focus();
        },
        close,
      ),
    );
    formSlot.querySelector('h2')?.focus();
  }

  async function toggle(o) {
    pageMessages.clear();
    try {
      await api('PATCH', `/offerings/${o.id}`, { enabled: !o.enabled });
      await load();
      pageMessages.success(
        `${o.displayName} is now ${o.enabled ? 'disabled: it accepts no new integrations or connect sessions' : 'enabled'}.`,
      );
      listSlot.querySelector(`tr[data-offering-id="${o.id}"] button`)?.focus();
    } catch (error) {
      pageMessages.error(error.message).focus();
    }
  }

  /** A built-in's template, read-only: the catalog file owns it. */
  function openView(o) {
    const close = () => {
      formSlot.replaceChildren();
      newButton.focus();
    };
    formSlot.replaceChildren(
      h(
        'section',
        { class: 'card stack', 'aria-label': `Template of ${o.displayName}` },
        h('h2', { tabindex: '-1' }, `${o.displayName} (built-in)`),
        h(
          'p',
          {},
          'Built-in offerings come from the catalog files shipped with Latchkey: they can be enabled or disabled, not edited.',
        ),
        h(
          'textarea',
          {
            readonly: true,
            rows: '20',
            class: 'mono',
            spellcheck: 'false',
            'aria-label': `Template of ${o.displayName} (JSON, read-only)`,
          },
          JSON.stringify(templateOf(o), null, 2),
        ),
        h(
          'div',
          { class: 'form-actions' },
          h('button', { type: 'button', class: 'button-quiet', onclick: close }, 'Close'),
        ),
      ),
    );
    formSlot.querySelector('h2')?.focus();
  }

  function openForm(existing) {
    formSlot.replaceChildren(
      offeringForm(
        existing,
        async (saved) => {
          formSlot.replaceChildren();
          await load();
          pageMessages.success(`${saved.displayName} was ${existing ? 'updated' : 'created'}.`);
          newButton.focus();
        },
        () => {
          formSlot.replaceChildren();
          newButton.focus();
        },
      ),
    );
    formSlot.querySelector('h2')?.focus();
  }

  await load();
  mount(
    main,
    pageHeader('Offerings', newButton),
    h(
      'p',
      { class: 'lead' },
      'Providers and environments developers can create integrations for. A disabled offering keeps its integrations working but accepts no new ones.',
    ),
    pageMessages.el,
    formSlot,
    toolbar,
    listSlot,
  );
}

function cloneForm(source, onSaved, onCancel) {
  const messages = messageArea();
  const key = h('input', {
    type: 'text',
    name: 'key',
    class: 'mono',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    value: `${source.key}-copy`,
  });
  const displayName = h('input', {
    type: 'text',
    name: 'displayName',
    required: true,
    autocomplete: 'off',
    value: `${source.displayName} (copy)`,
  });
  const submit = h('button', { type: 'submit', class: 'button-primary' }, 'Clone offering');
  const label = `Clone ${source.displayName}`;
  const form = h(
    'form',
    { class: 'card stack', novalidate: true, 'aria-label': label },
    h('h2', { tabindex: '-1' }, label),
    h(
      'p',
      {},
      'The copy gets the whole template under a new key, and is not built-in: you can edit it, and the catalog file leaves it alone.',
    ),
    h(
      'div',
      { class: 'grid-3' },
      field({
        label: 'New key',
        control: key,
        name: 'key',
        hint: 'Unique slug, e.g. salesforce-eu.',
      }),
      field({ label: 'Display name', control: displayName, name: 'displayName' }),
    ),
    messages.el,
    h(
      'div',
      { class: 'form-actions' },
      submit,
      h('button', { type: 'button', class: 'button-quiet', onclick: onCancel }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    messages.clear();
    clearFieldErrors(form);
    submit.disabled = true;
    try {
      const body = { key: key.value.trim() };
      if (displayName.value.trim()) body.displayName = displayName.value.trim();
      onSaved((await api('POST', `/offerings/${source.id}/clone`, body)).data);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      reportError(form, messages, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function offeringForm(existing, onSaved, onCancel) {
  const o = existing ?? {};
  const messages = messageArea();
  const input = (name, props = {}) =>
    h('input', {
      type: 'text',
      name,
      autocomplete: 'off',
      spellcheck: 'false',
      value: o[name] ?? '',
      ...props,
    });
  const select = (name, options, value) =>
    h(
      'select',
      { name },
      options.map(([v, label]) => h('option', { value: v, selected: v === (value ?? '') }, label)),
    );
  const controls = {
    key: input('key', { class: 'mono', disabled: Boolean(existing), required: true }),
    provider: input('provider', { class: 'mono', disabled: Boolean(existing), required: true }),
    environment: input('environment', {
      class: 'mono',
      disabled: Boolean(existing),
      required: true,
    }),
    displayName: input('displayName', { required: true }),
    authMode: h(
      'select',
      { name: 'authMode', disabled: Boolean(existing) },
      AUTH_MODES.map(([v, label]) =>
        h('option', { value: v, selected: v === (o.authMode ?? 'oauth2') }, label),
      ),
    ),
    template: h(
      'textarea',
      { name: 'template', class: 'mono', rows: '12', spellcheck: 'false', autocomplete: 'off' },
      JSON.stringify(partsOf(o), null, 2),
    ),
    issuer: input('issuer', { type: 'url', class: 'mono' }),
    authorizationUrl: input('authorizationUrl', { type: 'url', class: 'mono' }),
    tokenUrl: input('tokenUrl', { type: 'url', class: 'mono' }),
    revocationUrl: input('revocationUrl', { type: 'url', class: 'mono' }),
    introspectionUrl: input('introspectionUrl', { type: 'url', class: 'mono' }),
    userinfoUrl: input('userinfoUrl', { type: 'url', class: 'mono' }),
    tokenEndpointAuthMethod: select(
      'tokenEndpointAuthMethod',
      [
        ['', 'Default (from discovery, else client_secret_post)'],
        ['client_secret_post', 'client_secret_post'],
        ['client_secret_basic', 'client_secret_basic'],
      ],
      o.tokenEndpointAuthMethod,
    ),
    'scopes.required': input('scopes.required', {
      class: 'mono',
      value: (o.scopes?.required ?? []).join(' '),
    }),
    'scopes.optional': input('scopes.optional', {
      class: 'mono',
      value: (o.scopes?.optional ?? []).join(' '),
    }),
    'scopes.default': input('scopes.default', {
      class: 'mono',
      value: (o.scopes?.default ?? []).join(' '),
    }),
    pkce: select(
      'pkce',
      [
        ['S256', 'S256 (recommended)'],
        ['none', 'none'],
      ],
      o.pkce ?? 'S256',
    ),
    tokenResponseStyle: select(
      'tokenResponseStyle',
      [
        ['standard', 'standard'],
        ['salesforce', 'salesforce'],
      ],
      o.tokenResponseStyle ?? 'standard',
    ),
    defaultAccessTokenTtlSeconds: input('defaultAccessTokenTtlSeconds', {
      type: 'number',
      min: '60',
      max: '2592000',
      value: String(o.defaultAccessTokenTtlSeconds ?? 3600),
    }),
    apiBaseUrl: input('apiBaseUrl', { class: 'mono' }),
    allowedApiHosts: input('allowedApiHosts', {
      class: 'mono',
      value: (o.allowedApiHosts ?? []).join(' '),
    }),
  };
  const enabled = h('input', {
    type: 'checkbox',
    checked: existing ? o.enabled : true,
    id: `offering-enabled-${existing?.id ?? 'new'}`,
  });
  const f = (label, name, hint) => field({ label, control: controls[name], name, hint });
  const title = h('h2', { tabindex: '-1' }, existing ? `Edit ${o.displayName}` : 'New offering');
  const submit = h(
    'button',
    { type: 'submit', class: 'button-primary' },
    existing ? 'Save offering' : 'Create offering',
  );
  const validateButton = h(
    'button',
    { type: 'button', class: 'button-secondary', onclick: () => validate() },
    'Validate',
  );

  const form = h(
    'form',
    {
      class: 'card stack',
      novalidate: true,
      'aria-label': existing ? `Edit ${o.displayName}` : 'New offering',
    },
    title,
    h(
      'div',
      { class: 'grid-3' },
      f('Key', 'key', existing ? 'Fixed after creation.' : 'Unique slug, e.g. salesforce-eu.'),
      f('Provider', 'provider', 'Slug, e.g. salesforce.'),
      f('Environment', 'environment', 'Slug, e.g. production.'),
    ),
    f('Display name', 'displayName'),
    f(
      'Authentication',
      'authMode',
      existing
        ? 'Fixed after creation.'
        : 'oauth2 needs endpoints; bearer_token and basic ask for credentialFields instead.',
    ),
    h(
      'label',
      { class: 'check', for: enabled.id },
      enabled,
      h('span', {}, 'Enabled (developers can create integrations for it)'),
    ),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, 'Endpoints'),
      f(
        'Issuer',
        'issuer',
        'Optional. Endpoints and scopes you leave empty are discovered from it.',
      ),
      f('Authorization URL', 'authorizationUrl'),
      f('Token URL', 'tokenUrl'),
      f('Revocation URL', 'revocationUrl', 'Optional (RFC 7009).'),
      f(
        'Introspection URL',
        'introspectionUrl',
        'Optional: gives token expiry when the provider sends none.',
      ),
      f('Userinfo URL', 'userinfoUrl', 'Optional identity endpoint.'),
      f('Token endpoint authentication', 'tokenEndpointAuthMethod'),
    ),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, 'Scopes (separate with spaces or commas)'),
      h(
        'div',
        { class: 'grid-3' },
        f('Required scopes', 'scopes.required'),
        f('Optional scopes', 'scopes.optional'),
        f('Default scopes', 'scopes.default', 'Pre-selected; empty means the required ones.'),
      ),
    ),
    h(
      'div',
      { class: 'grid-3' },
      f('PKCE', 'pkce'),
      f('Token response style', 'tokenResponseStyle'),
      f(
        'Default access-token lifetime (seconds)',
        'defaultAccessTokenTtlSeconds',
        'Used when the provider sends no expires_in.',
      ),
    ),
    f(
      'API base URL',
      'apiBaseUrl',
      'A fixed https URL, or {{instance_url}} optionally followed by a path. Empty: no proxy.',
    ),
    f(
      'Allowed API hosts',
      'allowedApiHosts',
      'Hosts the proxy may reach; *.example.com for subdomains, optional :port.',
    ),
    f(
      'Template parts (JSON)',
      'template',
      'One object with any of: ' +
        TEMPLATE_PARTS.join(', ') +
        '. Leave out a part to remove it. The rules: GET /api/v1/offerings/schema.',
    ),
    messages.el,
    h(
      'div',
      { class: 'form-actions' },
      submit,
      validateButton,
      h('button', { type: 'button', class: 'button-quiet', onclick: onCancel }, 'Cancel'),
    ),
  );

  /** The parts from the textarea; throws an ApiError-like problem for bad JSON. */
  function readParts() {
    let parts;
    try {
      parts = JSON.parse(controls.template.value.trim() || '{}');
    } catch (error) {
      throw new ApiError(400, {
        code: 'validation.failed',
        message: 'The template parts are not valid JSON.',
        details: { fields: { template: [`is not valid JSON (${error.message})`] } },
      });
    }
    if (parts === null || typeof parts !== 'object' || Array.isArray(parts)) {
      throw new ApiError(400, {
        code: 'validation.failed',
        message: 'The template parts must be one JSON object.',
        details: { fields: { template: ['must be one JSON object'] } },
      });
    }
    return parts;
  }

  /** Problems whose field is a template part are marked on the textarea, with their path. */
  function report(error) {
    const problems = error.details?.problems ?? [];
    if (problems.length) {
      const fields = { ...error.fields };
      for (const part of TEMPLATE_PARTS) {
        if (!fields[part]) continue;
        fields.template = [
          ...(fields.template ?? []),
          ...problems
            .filter((p) => p.path === `/${part}` || p.path.startsWith(`/${part}/`))
            .map((p) => `${p.path} ${p.message}`),
        ];
        delete fields[part];
      }
      error.fields = fields;
    }
    reportError(form, messages, error);
    if (problems.length)
      messages.el.querySelector('[role=alert]')?.append(problemList('Problems', problems));
  }

  async function validate() {
    clearMessages();
    validateButton.disabled = true;
    try {
      const body = buildBody();
      for (const [k, v] of Object.entries(body)) if (v === null) delete body[k];
      const template = existing
        ? {
            key: o.key,
            provider: o.provider,
            environment: o.environment,
            authMode: o.authMode,
            ...body,
          }
        : body;
      const result = (await api('POST', '/offerings/validate', template)).data;
      if (result.valid) {
        messages.success(
          result.warnings.length
            ? `Valid, with ${result.warnings.length} warning${result.warnings.length > 1 ? 's' : ''}: ${result.warnings.map((w) => `${w.path} ${w.message}`).join('; ')}.`
            : 'Valid: nothing to correct.',
        );
      } else {
        const fields = {};
        for (const p of result.errors) {
          const top = p.path.split('/')[1] || 'offering';
          (fields[top] ??= []).push(p.path === `/${top}` ? p.message : `${p.path} ${p.message}`);
        }
        report(
          new ApiError(400, {
            code: 'validation.failed',
            message: 'The offering is not valid.',
            details: { fields, problems: result.errors },
          }),
        );
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      report(error);
    } finally {
      validateButton.disabled = false;
    }
  }

  function clearMessages() {
    messages.clear();
    clearFieldErrors(form);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    submit.disabled = true;
    try {
      const body = buildBody();
      const saved = existing
        ? (await api('PATCH', `/offerings/${existing.id}`, body)).data
        : (await api('POST', '/offerings', body)).data;
      onSaved(saved);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      report(error);
    } finally {
      submit.disabled = false;
    }
  });

  function buildBody() {
    const body = {
      displayName: controls.displayName.value.trim(),
      enabled: enabled.checked,
      pkce: controls.pkce.value,
      tokenResponseStyle: controls.tokenResponseStyle.value,
      defaultAccessTokenTtlSeconds: Number(controls.defaultAccessTokenTtlSeconds.value),
      allowedApiHosts: splitList(controls.allowedApiHosts.value),
    };
    if (!existing) {
      body.key = controls.key.value.trim();
      body.provider = controls.provider.value.trim();
      body.environment = controls.environment.value.trim();
    }
    for (const name of [...OPTIONAL_URLS, 'apiBaseUrl', 'tokenEndpointAuthMethod']) {
      const value = controls[name].value.trim();
      if (value) body[name] = value;
      else if (existing && existing[name]) body[name] = null; // clear what was set
    }
    if (!body.allowedApiHosts.length && !existing) delete body.allowedApiHosts;
    const required = splitList(controls['scopes.required'].value);
    const optional = splitList(controls['scopes.optional'].value);
    const defaults = splitList(controls['scopes.default'].value);
    if (required.length || optional.length || defaults.length || existing) {
      body.scopes = { required, optional, ...(defaults.length ? { default: defaults } : {}) };
    }
    if (!existing) body.authMode = controls.authMode.value;
    const parts = readParts();
    for (const [k, v] of Object.entries(parts)) body[k] = v;
    if (existing)
      for (const k of TEMPLATE_PARTS)
        if (existing[k] !== undefined && !(k in parts)) body[k] = null;
    return body;
  }
  return form;
}
