import type { Response } from 'express';
import { html, type SafeHtml } from '../../common/html/html.js';

/**
 * Console pages load only same-origin files: no inline script or style, no framing, no <base>,
 * forms post only to us. The browser code talks to /api/v1 on the same origin.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export interface ShellUser {
  email: string;
  isAdmin: boolean;
  /** What the header says this person is here: `platform admin`, or their role in this workspace. */
  roleLabel: string;
  workspaceId: string;
  workspaceName: string;
  /** Where the switcher may move this session (the current workspace included); none shown for one. */
  workspaces: ReadonlyArray<{ id: string; name: string }>;
  csrfToken: string;
  /** The scopes this user holds (what an OAuth App created from the console may get). */
  scopes: readonly string[];
}

export type ConsoleSection =
  | 'integrations'
  | 'oauth-apps'
  | 'members'
  | 'events'
  | 'webhooks'
  | 'authorized-apps'
  | 'offerings';

/** Sends a console page with its security and caching headers. */
export function sendConsoleHtml(
  res: Response,
  status: number,
  body: string,
  options: {
    referrerPolicy?: 'same-origin' | 'no-referrer';
    /**
     * A source a form on this page may also end up at: browsers apply `form-action` to the
     * redirects that follow a post (the consent page's redirect back to the app).
     */
    formActionSource?: string;
  } = {},
): void {
  res.setHeader(
    'Content-Security-Policy',
    options.formActionSource
      ? CONSOLE_CSP.replace("form-action 'self'", `form-action 'self' ${options.formActionSource}`)
      : CONSOLE_CSP,
  );
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', options.referrerPolicy ?? 'same-origin');
  res.status(status).type('html').send(body);
}

function documentShell(
  title: string,
  head: SafeHtml | string,
  bodyAttrs: SafeHtml | string,
  body: SafeHtml,
): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title} · Latchkey</title>
<link rel="stylesheet" href="/assets/console.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
${head}
</head>
<body ${bodyAttrs}>
${body}
</body>
</html>`.value;
}

/** Sign-in and other pages for someone not (yet) signed in: same look, no navigation. */
export function authDocument(title: string, body: SafeHtml): string {
  return documentShell(
    title,
    '',
    html`class="auth"`,
    html`<main class="auth-card" id="main">
<p class="brand brand-large"><span class="brand-mark" aria-hidden="true">⌁</span> Latchkey</p>
${body}
</main>`,
  );
}

const NAV: Array<{ section: ConsoleSection; href: string; label: string; adminOnly?: boolean }> = [
  { section: 'integrations', href: '/oauth', label: 'Integrations' },
  { section: 'oauth-apps', href: '/settings/oauth-apps', label: 'OAuth Apps' },
  { section: 'members', href: '/settings/members', label: 'Members' },
  { section: 'events', href: '/settings/events', label: 'Audit log' },
  { section: 'webhooks', href: '/settings/webhooks', label: 'Webhooks' },
  { section: 'authorized-apps', href: '/settings/authorized-apps', label: 'Authorized apps' },
  { section: 'offerings', href: '/admin/offerings', label: 'Offerings', adminOnly: true },
];

export interface ShellOptions {
  title: string;
  section: ConsoleSection;
  /** Which browser module renders the page (public/assets/console/pages/<page>.js); none for static pages. */
  page?: string;
  /** Extra `data-*` attributes on <main> for the page script. */
  data?: Record<string, string>;
  /** Server-rendered content of <main> (a heading and a loading placeholder, or a full static page). */
  main: SafeHtml;
}

/**
 * The current workspace; with more than one to choose from, a form that switches the session to
 * another (posted to /session/workspace; the console script submits it when the choice changes).
 */
function workspaceSwitcher(user: ShellUser): SafeHtml {
  if (user.workspaces.length < 2) {
    return html`<span class="workspace" title="Workspace">Workspace: <strong>${user.workspaceName}</strong></span>`;
  }
  const options = user.workspaces.map(
    (w) =>
      html`<option value="${w.id}"${w.id === user.workspaceId ? html` selected` : ''}>${w.name}</option>`,
  );
  return html`<form method="post" action="/session/workspace" class="workspace workspace-switch" data-workspace-switch>
      <input type="hidden" name="_csrf" value="${user.csrfToken}">
      <label for="workspace-switch">Workspace</label>
      <select id="workspace-switch" name="workspaceId">${options}</select>
      <button type="submit" class="button-quiet">Switch</button>
    </form>`;
}

/** The signed-in console: header with navigation, user, workspace and sign-out; one <main>. */
export function consoleDocument(user: ShellUser, options: ShellOptions): string {
  const dataAttrs = Object.entries(options.data ?? {}).map(
    ([k, v]) => html` data-${k.replace(/[^a-z0-9-]/g, '')}="${v}"`,
  );
  const nav = NAV.filter((n) => !n.adminOnly || user.isAdmin).map(
    (n) =>
      html`<li><a href="${n.href}"${n.section === options.section ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
  );
  return documentShell(
    options.title,
    html`<meta name="csrf-token" content="${user.csrfToken}">
${options.page ? html`<script type="module" src="/assets/console/app.js"></script>` : ''}`,
    html`class="console"`,
    html`<a class="skip-link" href="#main">Skip to content</a>
<header class="topbar">
  <a class="brand" href="/oauth"><span class="brand-mark" aria-hidden="true">⌁</span> Latchkey</a>
  <nav aria-label="Main"><ul>${nav}</ul></nav>
  <div class="account">
    <span class="who"><span class="who-email">${user.email}</span> <span class="who-role" title="Your role here">${user.roleLabel}</span></span>
    ${workspaceSwitcher(user)}
    <form method="post" action="/logout" class="signout">
      <input type="hidden" name="_csrf" value="${user.csrfToken}">
      <button type="submit" class="button-quiet">Sign out</button>
    </form>
  </div>
</header>
<main id="main" tabindex="-1"${options.page ? html` data-page="${options.page}"` : ''}${dataAttrs} data-scopes="${user.scopes.join(' ')}" data-admin="${user.isAdmin ? 'true' : 'false'}">
${options.main}
</main>`,
  );
}
