import type { ServerResponse } from 'node:http';
import type { ConnectedApp, SalesforceUser } from './authorization-server.js';

/*
 * The HTML the authorization server shows: Salesforce's error page for requests it will not
 * redirect back, and (interactive mode) the sign-in and consent pages.
 */

/** Salesforce's page for requests it will not redirect back (bad client, unregistered callback). */
export function errorPage(res: ServerResponse, error: string, description: string): void {
  res
    .writeHead(400, { 'content-type': 'text/html;charset=UTF-8' })
    .end(
      `<!doctype html><title>Error</title><h1>OAuth Error</h1>` +
        `<p>error=${error}</p><p>error_description=${description}</p>`,
    );
}

/** Plain words for the consent page. */
const SCOPE_WORDS: Record<string, string> = {
  api: 'Access and manage your data',
  refresh_token: 'Perform requests on your behalf at any time',
  offline_access: 'Perform requests on your behalf at any time',
  id: 'Access your basic information',
  profile: 'Access your basic information',
  email: 'Access your email address',
  openid: 'Access unique user identifiers',
  web: 'Provide access to your data via the Web',
  full: 'Full access',
};

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function html(res: ServerResponse, status: number, body: string): void {
  res
    .writeHead(status, {
      'content-type': 'text/html;charset=UTF-8',
      'cache-control': 'no-store',
      // No form-action: browsers apply it to the redirect that follows the form, to the callback.
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer',
    })
    .end(body);
}

const PAGE_STYLE = `
  body { font-family: system-ui, sans-serif; background: #f3f3f3; color: #181818; margin: 0; }
  main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 2rem;
    border: 1px solid #ddd; border-radius: 0.5rem; }
  h1 { font-size: 1.4rem; margin-top: 0; }
  label { display: block; margin: 1rem 0 0.25rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: 0.5rem; font-size: 1rem; }
  button { margin-top: 1.25rem; padding: 0.6rem 1.2rem; font-size: 1rem; cursor: pointer;
    border: 1px solid #0b5cab; border-radius: 0.25rem; background: #fff; color: #0b5cab; }
  button.primary { background: #0b5cab; color: #fff; }
  .hint { background: #eef4ff; padding: 0.5rem 0.75rem; border-radius: 0.25rem; }
  .error { color: #ba0517; }
  .demo { font-size: 0.8rem; color: #666; text-transform: uppercase; letter-spacing: 0.05em; }`;

function page(title: string, content: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head>` +
    `<body><main><p class="demo">Salesforce test provider (demo)</p>${content}</main></body></html>`
  );
}

export function signInPage(options: {
  id: string;
  username: string;
  hint?: { username: string; password: string };
  error?: string;
}): string {
  const { id, username, hint, error } = options;
  return page(
    'Log in | Salesforce (demo)',
    `<h1>Log in to Salesforce</h1>` +
      (hint
        ? `<p class="hint">Demo login: username <strong>${escapeHtml(hint.username)}</strong>, ` +
          `password <strong>${escapeHtml(hint.password)}</strong></p>`
        : '') +
      (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '') +
      `<form method="post" action="/services/oauth2/authorize/sign-in">` +
      `<input type="hidden" name="request" value="${escapeHtml(id)}">` +
      `<label for="username">Username</label>` +
      `<input id="username" name="username" type="text" autocomplete="username" required ` +
      `value="${escapeHtml(username)}"${username ? '' : ' autofocus'}>` +
      `<label for="password">Password</label>` +
      `<input id="password" name="password" type="password" autocomplete="current-password" required` +
      `${username ? ' autofocus' : ''}>` +
      `<button type="submit" class="primary">Log In</button>` +
      `</form>`,
  );
}

export function consentPage(options: {
  id: string;
  app: ConnectedApp;
  user: SalesforceUser;
  scopes: string[];
}): string {
  const { id, app, user, scopes } = options;
  const items = scopes
    .map((s) => {
      const words = SCOPE_WORDS[s];
      return `<li>${escapeHtml(words ?? s)}${words ? ` <small>(${escapeHtml(s)})</small>` : ''}</li>`;
    })
    .join('');
  return page(
    `Allow access? | Salesforce (demo)`,
    `<h1>Allow access?</h1>` +
      `<p><strong>${escapeHtml(app.name)}</strong> is asking to:</p>` +
      `<ul aria-label="Requested permissions">${items}</ul>` +
      `<p>You are logged in as <strong>${escapeHtml(user.username)}</strong>.</p>` +
      `<form method="post" action="/services/oauth2/authorize/consent">` +
      `<input type="hidden" name="request" value="${escapeHtml(id)}">` +
      // Deny first: pressing Enter submits the first button, and refusing is the safe default.
      `<button type="submit" name="decision" value="deny">Deny</button> ` +
      `<button type="submit" name="decision" value="allow" class="primary">Allow</button>` +
      `</form>`,
  );
}

export function unknownRequestPage(res: ServerResponse): void {
  html(
    res,
    400,
    page(
      'Error | Salesforce (demo)',
      `<h1>This request is no longer valid</h1>` +
        `<p class="error" role="alert">The authorization request is unknown, has expired or was ` +
        `already used. Go back to the app and start again.</p>`,
    ),
  );
}
