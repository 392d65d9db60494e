/**
 * The demo "developer app": a stand-in for the customer's own product. One page with a section per
 * demo integration (Connect Salesforce through OAuth, Connect Stripe with a pasted API key); its
 * backend creates connect sessions and calls the provider through Latchkey's proxy, with the app's
 * own Latchkey credentials, which never reach the browser. It talks to Latchkey through the Node
 * client (@latchkey/node), receives Latchkey's signed webhooks at /webhooks, verifies each with the
 * client's helper, and the page lists them beside each connection.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  LatchkeyApiError,
  unwrap,
  verifyWebhook,
  type LatchkeyClient,
  type LatchkeyEvent,
  type Schema,
} from '@latchkey/node';
import { demoClient, type LatchkeyCredentials } from './setup.js';

/** The Salesforce REST call behind "Call the API through the proxy". */
export const DEMO_PROXY_PATH = '/services/data/v62.0/chatter/users/me';
/** The Stripe call behind "Call the Stripe API through the proxy" (a list, empty at the fake). */
export const DEMO_STRIPE_PROXY_PATH = '/v1/customers';
export const DEMO_END_USER = {
  id: 'demo-user',
  displayName: 'Demo User',
  email: 'demo-user@example.com',
};
/** Where Latchkey sends the browser back in redirect mode (and the origin popups post to). */
export const DEMO_APP_REDIRECT_PATH = '/connected';
/** Where the app receives Latchkey's webhooks. */
export const DEMO_WEBHOOK_PATH = '/webhooks';
/** Names the demo's webhook endpoints at Latchkey (an earlier run's, on another port, is removed). */
export const DEMO_WEBHOOK_DESCRIPTION = 'Acme CRM (Latchkey demo app)';
/** What the demo subscribes to: its connections' lives. */
export const DEMO_WEBHOOK_EVENT_TYPES = [
  'connection.created',
  'connection.reconnected',
  'connection.needs_reauth',
  'connection.refresh_failed',
  'connection.recovered',
  'connection.revoked',
] as const;
/** How many received events the page shows (newest first). */
const MAX_EVENTS = 50;
const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

/** One section of the page: a Latchkey integration the end user connects, and one call to make. */
export interface DemoIntegration {
  /** Names the section in the page and in the app's requests, e.g. `salesforce`. */
  key: string;
  /** The provider on the Connect button: "Connect Salesforce". */
  label: string;
  heading: string;
  /** One sentence on what connecting looks like. */
  intro: string;
  integrationId: string;
  /** The provider API call behind the section's call button, through Latchkey's proxy. */
  proxyPath: string;
  callLabel: string;
  /** What Latchkey adds to the call: "the access token", "the API key". */
  credential: string;
}

/** The page's two sections, given the integrations setUpDemo made. */
export function demoIntegrations(ids: { salesforce: string; stripe: string }): DemoIntegration[] {
  return [
    {
      key: 'salesforce',
      label: 'Salesforce',
      heading: 'Connect your Salesforce account',
      intro:
        'Acme CRM syncs with Salesforce. Connecting opens Latchkey in a popup, then the demo Salesforce sign-in and consent pages.',
      integrationId: ids.salesforce,
      proxyPath: DEMO_PROXY_PATH,
      callLabel: 'Call the API through the proxy',
      credential: 'the access token',
    },
    {
      key: 'stripe',
      label: 'Stripe',
      heading: 'Connect Stripe (API key)',
      intro:
        'Acme CRM bills through Stripe. Connecting opens Latchkey in a popup, where you paste a Stripe secret key; Latchkey checks it with Stripe before keeping it.',
      integrationId: ids.stripe,
      proxyPath: DEMO_STRIPE_PROXY_PATH,
      callLabel: 'Call the Stripe API through the proxy',
      credential: 'the API key',
    },
  ];
}

export interface DemoAppOptions extends LatchkeyCredentials {
  integrations: DemoIntegration[];
  /** Port on 127.0.0.1. Default: any free port. */
  port?: number;
  /** Host name in the app's URL (and so in its redirect URI): `127.0.0.1` (default) or `localhost`. */
  hostname?: string;
}

export interface DemoApp {
  /** The page, e.g. http://localhost:4020 */
  url: string;
  /** `${url}/connected`, added to each integration's allowed redirect URIs at start. */
  redirectUri: string;
  /** The app's webhook endpoint at Latchkey: its id and URL (on 127.0.0.1). */
  webhook: { endpointId: string; url: string };
  /** The verified events received so far, newest first. */
  events(): readonly LatchkeyEvent[];
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_REDIRECT_URIS = 10;

type Connection = Schema<'ConnectionResponse'>;

export async function startDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const api = demoClient(options);
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.hostname ?? '127.0.0.1'}:${port}`;
  const redirectUri = `${url}${DEMO_APP_REDIRECT_PATH}`;
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  // Latchkey reaches the app on loopback (the demo runs it with LATCHKEY_ALLOW_INSECURE_PROVIDERS).
  const webhookUrl = `http://127.0.0.1:${port}${DEMO_WEBHOOK_PATH}`;
  let webhook: { endpointId: string; secret: string };
  try {
    for (const integration of options.integrations)
      await allowRedirectUri(api, integration.integrationId, redirectUri);
    webhook = await registerWebhookEndpoint(api, webhookUrl);
  } catch (error) {
    await close();
    throw error;
  }
  const handler = new DemoAppHandler(api, options, url, redirectUri, webhook.secret);
  server.on(
    'request',
    (req: IncomingMessage, res: ServerResponse) => void handler.handle(req, res),
  );
  return {
    url,
    redirectUri,
    webhook: { endpointId: webhook.endpointId, url: webhookUrl },
    events: () => handler.events,
    close,
  };
}

/**
 * The app's webhook endpoint at Latchkey, for `url`: made once, then found again on later runs. Its
 * signing secret is shown only when it is made or rotated, so an existing endpoint's is rotated now
 * (Latchkey signs with the old one too for a while: deliveries in flight still verify elsewhere).
 */
async function registerWebhookEndpoint(
  api: LatchkeyClient,
  url: string,
): Promise<{ endpointId: string; secret: string }> {
  const { data: endpoints } = unwrap(await api.GET('/api/v1/webhook-endpoints'));
  for (const stale of endpoints.filter(
    (e) => e.description === DEMO_WEBHOOK_DESCRIPTION && e.url !== url,
  )) {
    // An earlier run's server on another port: nobody answers there any more.
    unwrap(
      await api.DELETE('/api/v1/webhook-endpoints/{id}', { params: { path: { id: stale.id } } }),
    );
  }
  const settings = {
    description: DEMO_WEBHOOK_DESCRIPTION,
    eventTypes: [...DEMO_WEBHOOK_EVENT_TYPES],
    enabled: true,
  };
  const existing = endpoints.find((e) => e.url === url);
  if (!existing) {
    const created = unwrap(
      await api.POST('/api/v1/webhook-endpoints', { body: { url, ...settings } }),
    );
    return { endpointId: created.id, secret: created.secret };
  }
  const path = { id: existing.id };
  // Latchkey disables an endpoint that kept failing (the demo was stopped for days): enable it again.
  unwrap(await api.PATCH('/api/v1/webhook-endpoints/{id}', { params: { path }, body: settings }));
  const rotated = unwrap(
    await api.POST('/api/v1/webhook-endpoints/{id}/secret', { params: { path } }),
  );
  return { endpointId: existing.id, secret: rotated.secret };
}

/** A developer registers their app's redirect URI on the integration; the demo does it at start. */
async function allowRedirectUri(
  api: LatchkeyClient,
  integrationId: string,
  redirectUri: string,
): Promise<void> {
  const path = { id: integrationId };
  const integration = unwrap(await api.GET('/api/v1/integrations/{id}', { params: { path } }));
  if (integration.allowedRedirectUris.includes(redirectUri)) return;
  // Earlier runs on other ports leave their URIs behind: keep the newest ones under the limit.
  const kept = integration.allowedRedirectUris.slice(-(MAX_REDIRECT_URIS - 1));
  unwrap(
    await api.PATCH('/api/v1/integrations/{id}', {
      params: { path },
      body: { allowedRedirectUris: [...kept, redirectUri] },
    }),
  );
}

class DemoAppHandler {
  private readonly latchkeyOrigin: string;
  /** `state` of each connect session this app created → its section, for redirect-mode completions. */
  private readonly states = new Map<string, DemoIntegration>();
  /** Verified webhook events, newest first; a redelivery (same id) is not added again. */
  readonly events: LatchkeyEvent[] = [];

  constructor(
    private readonly api: LatchkeyClient,
    private readonly options: DemoAppOptions,
    private readonly url: string,
    private readonly redirectUri: string,
    private readonly webhookSecret: string,
  ) {
    this.latchkeyOrigin = new URL(api.baseUrl).origin;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const route = `${req.method} ${url.pathname}`;
    try {
      if (route === 'GET /')
        return this.send(
          res,
          200,
          'text/html',
          pageHtml(this.api.baseUrl, this.options.integrations),
          {
            'content-security-policy': this.csp(),
          },
        );
      if (route === 'GET /app.js') return this.send(res, 200, 'text/javascript', PAGE_SCRIPT);
      if (route === 'GET /app.css') return this.send(res, 200, 'text/css', PAGE_STYLE);
      // Browsers ask for it on their own; "no icon" rather than a 404 in the console.
      if (route === 'GET /favicon.ico') return this.send(res, 204, 'image/x-icon', '');
      if (route === `GET ${DEMO_APP_REDIRECT_PATH}`)
        return await this.completeRedirect(res, url.searchParams);
      if (route === 'POST /api/connect-session')
        return await this.guarded(req, res, (body) => this.createSession(body));
      if (route === 'POST /api/call')
        return await this.guarded(req, res, (body) => this.callApi(body));
      if (route === `POST ${DEMO_WEBHOOK_PATH}`) return await this.receiveWebhook(req, res);
      if (route === 'GET /api/events') return this.json(res, 200, { data: this.eventsView() });
      this.json(res, 404, { error: { code: 'not_found', message: 'Not found' } });
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      const known = error instanceof LatchkeyApiError;
      this.json(res, known ? 502 : 500, {
        error: {
          code: known ? error.code : 'internal',
          message: error instanceof Error ? error.message : 'failed',
        },
      });
    }
  }

  /** Scripts only from this app and Latchkey (its connect.js); nothing inline. */
  private csp(): string {
    return [
      "default-src 'none'",
      `script-src 'self' ${this.latchkeyOrigin}`,
      "style-src 'self'",
      `connect-src 'self' ${this.latchkeyOrigin}`,
      "img-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; ');
  }

  /** JSON POSTs from this app's own page only (a cross-site form cannot send JSON). */
  private async guarded(
    req: IncomingMessage,
    res: ServerResponse,
    action: (body: Record<string, unknown>) => Promise<[number, unknown]>,
  ) {
    const origin = req.headers.origin;
    if (
      !/^application\/json\b/i.test(req.headers['content-type'] ?? '') ||
      (origin !== undefined && origin !== new URL(this.url).origin)
    ) {
      return this.json(res, 403, {
        error: { code: 'forbidden', message: 'JSON requests from this app only' },
      });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = chunks.length
        ? JSON.parse(Buffer.concat(chunks).toString('utf8'))
        : {};
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      return this.json(res, 400, { error: { code: 'bad_request', message: 'Body is not JSON' } });
    }
    const [status, answer] = await action(body);
    this.json(res, status, answer);
  }

  /** A connect session for the section `body.integration` names. */
  private async createSession(body: Record<string, unknown>): Promise<[number, unknown]> {
    const integration = this.options.integrations.find((i) => i.key === body.integration);
    if (!integration) {
      return [404, { error: { code: 'integration.not_found', message: 'No such integration' } }];
    }
    const state = randomBytes(16).toString('base64url');
    this.states.set(state, integration);
    const session = unwrap(
      await this.api.POST('/api/v1/connect-sessions', {
        body: {
          integrationId: integration.integrationId,
          endUser: DEMO_END_USER,
          redirectUri: this.redirectUri,
          state,
        },
      }),
    );
    return [200, { connectUrl: session.connectUrl, expiresAt: session.expiresAt }];
  }

  /** Calls the provider through Latchkey's proxy, for connections of this app's end user only. */
  private async callApi(body: Record<string, unknown>): Promise<[number, unknown]> {
    const connectionId = typeof body.connectionId === 'string' ? body.connectionId : '';
    const connection = UUID.test(connectionId) ? await this.ownConnection(connectionId) : undefined;
    const integration = this.options.integrations.find(
      (i) => i.integrationId === connection?.integrationId,
    );
    if (!integration) {
      return [
        404,
        { error: { code: 'connection.not_found', message: 'No such connection of this user' } },
      ];
    }
    const { proxyPath } = integration;
    // The proxy passes the provider's answer through as it is: a plain request with the app's token.
    const res = await fetch(`${this.api.baseUrl}/api/v1/proxy/${connectionId}${proxyPath}`, {
      headers: { authorization: `Bearer ${await this.api.tokens.token()}` },
    });
    const text = await res.text();
    let answer: unknown = text;
    try {
      answer = JSON.parse(text);
    } catch {
      // not JSON: show the text
    }
    return [200, { status: res.status, path: proxyPath, body: answer }];
  }

  private async ownConnection(id: string): Promise<Connection | undefined> {
    const result = await this.api.GET('/api/v1/connections/{id}', { params: { path: { id } } });
    if (result.response.status === 404) return undefined;
    const connection = unwrap(result);
    return connection.endUser.id === DEMO_END_USER.id ? connection : undefined;
  }

  /**
   * A delivery from Latchkey: verified against the endpoint's signing secret on the exact bytes
   * received, before anything else is done with it. Deliveries are at least once: the event id
   * tells a redelivery apart.
   */
  private async receiveWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_WEBHOOK_BODY_BYTES)
        return this.json(res, 413, { error: { code: 'webhook.too_large', message: 'Too large' } });
      chunks.push(chunk as Buffer);
    }
    let event: LatchkeyEvent;
    try {
      event = verifyWebhook(req.headers, Buffer.concat(chunks), this.webhookSecret);
    } catch {
      return this.json(res, 400, {
        error: { code: 'webhook.invalid_signature', message: 'The signature does not verify' },
      });
    }
    if (!this.events.some((e) => e.id === event.id)) {
      this.events.unshift(event);
      this.events.length = Math.min(this.events.length, MAX_EVENTS);
    }
    res.writeHead(204).end();
  }

  /** What the page shows of each event: its type, time and subject, and which section it is of. */
  private eventsView() {
    return this.events.map((e) => ({
      id: e.id,
      type: e.type,
      occurredAt: e.occurredAt,
      subject: e.subject,
      integration:
        this.options.integrations.find((i) => i.integrationId === e.data.integrationId)?.key ??
        null,
    }));
  }

  /** Redirect-mode completion (no popup): exchange the one-time code, then show the page. */
  private async completeRedirect(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const state = query.get('state') ?? '';
    const integration = this.states.get(state);
    this.states.delete(state);
    const back = (params: Record<string, string>) => {
      if (integration) params = { integration: integration.key, ...params };
      res
        .writeHead(303, {
          location: `/?${new URLSearchParams(params)}`,
          'cache-control': 'no-store',
        })
        .end();
    };
    if (!integration) return back({ error: 'state_mismatch' });
    const error = query.get('error');
    if (error) return back({ error });
    try {
      const { connection } = unwrap(
        await this.api.POST('/api/v1/connect-sessions/exchange', {
          body: { code: query.get('code') ?? '' },
        }),
      );
      back({ connectionId: connection.id });
    } catch (failure) {
      back({ error: failure instanceof LatchkeyApiError ? failure.code : 'exchange_failed' });
    }
  }

  private send(
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    headers: Record<string, string> = {},
  ) {
    res
      .writeHead(status, {
        'content-type': `${type};charset=utf-8`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        ...headers,
      })
      .end(body);
  }

  private json(res: ServerResponse, status: number, body: unknown) {
    this.send(res, status, 'application/json', JSON.stringify(body));
  }
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pageHtml(latchkeyUrl: string, integrations: DemoIntegration[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme CRM · Latchkey demo app</title>
<link rel="stylesheet" href="/app.css">
<script src="${escapeHtml(latchkeyUrl)}/sdk/connect.js" defer></script>
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <p class="tag">Latchkey demo · your product</p>
  <h1>Acme CRM</h1>
</header>
<main>
${integrations.map(sectionHtml).join('')}</main>
</body>
</html>
`;
}

/** One integration's section; the page script finds its parts by their `data-part`. */
function sectionHtml(i: DemoIntegration): string {
  const key = escapeHtml(i.key);
  const label = escapeHtml(i.label);
  return `<section data-integration="${key}" aria-labelledby="${key}-heading">
  <h2 id="${key}-heading">${escapeHtml(i.heading)}</h2>
  <p>${escapeHtml(i.intro)}</p>
  <button type="button" id="${key}-connect" data-part="connect">Connect ${label}</button>
  <p role="status" aria-label="${label} connection status" data-part="status">Not connected</p>
  <p role="alert" data-part="alert" hidden>Failed: <code data-part="error-code"></code></p>
  <div data-part="connected" hidden>
    <h3>Use the connection</h3>
    <p>Connection ID: <output aria-label="${label} connection ID" data-part="connection-id"></output></p>
    <button type="button" id="${key}-call" data-part="call">${escapeHtml(i.callLabel)}</button>
    <p>The backend calls <code>GET /api/v1/proxy/{connectionId}${escapeHtml(i.proxyPath)}</code>; Latchkey adds ${escapeHtml(i.credential)}.</p>
    <pre role="region" aria-label="${label} API response" tabindex="0" data-part="response"></pre>
  </div>
  <h3>Signed webhooks from Latchkey</h3>
  <p>Latchkey posts each change of this app's ${label} connections to <code>${DEMO_WEBHOOK_PATH}</code>; the backend verifies the signature with <code>verifyWebhook</code> from @latchkey/node.</p>
  <ol aria-label="${label} webhook events" data-part="events"><li>None yet</li></ol>
</section>
`;
}

const PAGE_STYLE = `
body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
.tag { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em; color: #666; margin: 0; }
h1 { margin-top: 0.2rem; }
button { font-size: 1rem; padding: 0.6rem 1.2rem; border-radius: 0.3rem; border: 1px solid #0b5cab; background: #0b5cab; color: #fff; cursor: pointer; }
button:disabled { opacity: 0.6; cursor: wait; }
[role="alert"] { color: #ba0517; }
output, code { font-family: ui-monospace, monospace; }
section { margin-bottom: 2.5rem; }
ol[data-part="events"] { font-family: ui-monospace, monospace; font-size: 0.9rem; padding-left: 1.5rem; }
pre { background: #f4f4f4; padding: 1rem; overflow: auto; border-radius: 0.3rem; min-height: 2rem; }
`;

/**
 * The page's script: plain DOM, textContent only, one controller per section. `Latchkey.connect`
 * comes from Latchkey's connect.js.
 */
const PAGE_SCRIPT = `'use strict';
(function () {
  function postJson(path, body) {
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) {
            var error = new Error((data.error && data.error.message) || res.statusText);
            error.code = (data.error && data.error.code) || 'http_' + res.status;
            throw error;
          }
          return data;
        });
      });
  }

  function setUp(section) {
    var integration = section.getAttribute('data-integration');
    var part = function (name) { return section.querySelector('[data-part="' + name + '"]'); };
    var connectButton = part('connect');
    var callButton = part('call');
    var status = part('status');
    var alertBox = part('alert');
    var errorCode = part('error-code');
    var connectionIdBox = part('connection-id');
    var connectedPart = part('connected');
    var responseBox = part('response');
    var connectionId = null;
    // Connect sessions are made ahead of the click, so the popup opens within the click itself
    // (browsers block popups opened after a slow await). A session lives 30 minutes; 25 is safe.
    var session = null;

    function showError(code) { errorCode.textContent = code; alertBox.hidden = false; }
    function clearError() { alertBox.hidden = true; errorCode.textContent = ''; }
    function showConnection(id) {
      connectionId = id;
      connectionIdBox.textContent = id;
      connectedPart.hidden = false;
      status.textContent = 'Connected';
    }
    function prepare() {
      var request = postJson('/api/connect-session', { integration: integration }).then(function (data) {
        return { connectUrl: data.connectUrl, madeAt: Date.now() };
      });
      request.catch(function () { session = null; });
      session = request;
      return request;
    }
    function freshSession() {
      return (session || prepare()).then(function (s) {
        return Date.now() - s.madeAt < 25 * 60 * 1000 ? s : prepare();
      });
    }

    connectButton.addEventListener('click', function () {
      clearError();
      connectButton.disabled = true;
      status.textContent = 'Connecting…';
      var used = freshSession();
      session = null;
      used.then(function (s) {
        if (!window.Latchkey || typeof window.Latchkey.connect !== 'function') {
          // Without Latchkey's connect.js: the same flow in this window (redirect mode).
          window.location.assign(s.connectUrl);
          return;
        }
        return window.Latchkey.connect(s.connectUrl).then(function (result) {
          showConnection(result.connectionId);
        });
      }).catch(function (error) {
        status.textContent = connectionId ? 'Connected' : 'Not connected';
        showError((error && error.code) || 'error');
      }).then(function () {
        connectButton.disabled = false;
        prepare();
      });
    });

    callButton.addEventListener('click', function () {
      clearError();
      callButton.disabled = true;
      responseBox.textContent = 'Calling…';
      postJson('/api/call', { connectionId: connectionId }).then(function (data) {
        responseBox.textContent = 'HTTP ' + data.status + ' from GET ' + data.path + '\\n' + JSON.stringify(data.body, null, 2);
        if (data.status >= 400) {
          var body = data.body || {};
          showError((body.error && body.error.code) || (Array.isArray(body) && body[0] && body[0].errorCode) || 'http_' + data.status);
        }
      }).catch(function (error) {
        responseBox.textContent = '';
        showError((error && error.code) || 'error');
      }).then(function () { callButton.disabled = false; });
    });

    prepare();
    return { integration: integration, showConnection: showConnection, showError: showError };
  }

  var sections = Array.prototype.map.call(document.querySelectorAll('section[data-integration]'), setUp);

  // The signed events the backend received, polled: each section lists its integration's.
  function showEvents() {
    fetch('/api/events').then(function (res) { return res.json(); }).then(function (body) {
      Array.prototype.forEach.call(document.querySelectorAll('section[data-integration]'), function (section) {
        var list = section.querySelector('[data-part="events"]');
        var mine = body.data.filter(function (e) { return e.integration === section.getAttribute('data-integration'); });
        var items = mine.map(function (e) {
          var item = document.createElement('li');
          item.textContent = new Date(e.occurredAt).toLocaleTimeString() + '  ' + e.type + '  ' + e.subject.kind + ' ' + e.subject.id;
          return item;
        });
        if (!items.length) {
          items = [document.createElement('li')];
          items[0].textContent = 'None yet';
        }
        list.replaceChildren.apply(list, items);
      });
    }).catch(function () { /* the next poll tries again */ });
  }
  showEvents();
  setInterval(showEvents, 2000);

  // Back from a redirect-mode flow: /connected sent the browser here with the outcome.
  var params = new URLSearchParams(window.location.search);
  var target = sections.filter(function (s) { return s.integration === params.get('integration'); })[0] || sections[0];
  if (target && params.get('connectionId')) target.showConnection(params.get('connectionId'));
  else if (target && params.get('error')) target.showError(params.get('error'));
  if (params.toString()) window.history.replaceState(null, '', '/');
})();
`;
