import { SCOPE_DESCRIPTIONS } from '../../common/auth/scopes.js';
import { html, type SafeHtml } from '../../common/html/html.js';
import { authDocument } from '../console/console-layout.js';
import type { AuthorizationRequest } from './authorization-request.js';
import type { WorkspaceOption } from './authorize.service.js';

export interface ConsentView {
  request: AuthorizationRequest;
  /** The workspace that registered the app; null for the built-in CLI. */
  publisher: string | null;
  email: string;
  options: WorkspaceOption[];
  /** The session's current workspace, preselected when it can be chosen. */
  currentWorkspaceId: string;
  csrf: string;
  /** Binds the decision to exactly these request parameters (see AuthorizeController). */
  consent: string;
  error?: string;
}

/**
 * The consent page: who asks, what it could do (one sentence per scope), where the browser goes
 * afterwards, and in which workspace. Workspaces the person's role cannot cover are shown, disabled,
 * with the reason.
 */
export function consentPage(view: ConsentView): string {
  const { request, options } = view;
  const client = request.client;
  const possible = options.filter((o) => o.missing.length === 0);
  const preselected =
    possible.find((o) => o.id === view.currentWorkspaceId)?.id ?? possible[0]?.id ?? null;
  const hidden = Object.entries(request.params).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  );
  const scopes = request.scopes.map(
    (s) => html`<li>${SCOPE_DESCRIPTIONS[s]} <code class="hint">${s}</code></li>`,
  );
  const radios = options.map((o, i) => {
    const id = `workspace-${i}`;
    const disabled = o.missing.length > 0;
    const why = !disabled
      ? html` <span class="hint">as ${o.role}</span>`
      : o.role
        ? html` <span class="hint" id="${id}-why">— not possible: your role there is ${o.role}, which cannot ${o.missing.join(', ')}</span>`
        : html` <span class="hint" id="${id}-why">— not possible: you are not a member of this workspace</span>`;
    return html`<label class="check consent-workspace" for="${id}"><input type="radio" name="workspace_id" value="${o.id}" id="${id}"${o.id === preselected ? html` checked` : ''}${disabled ? html` disabled aria-describedby="${id}-why"` : ''}><span>${o.name}${why}</span></label>`;
  });
  const host = new URL(request.redirectUri).host;
  const alert = view.error ? html`<p class="alert alert-error" role="alert">${view.error}</p>` : '';
  const workspaceChoice: SafeHtml = possible.length
    ? html`<fieldset class="field"><legend>Workspace it may act in</legend>${radios}</fieldset>`
    : html`<p class="alert alert-warning" role="alert">It can act in none of your workspaces: your role in each is too low for what it asks. Ask an admin of a workspace, or deny.</p>
${options.length ? html`<fieldset class="field" disabled><legend>Your workspaces</legend>${radios}</fieldset>` : ''}`;
  return authDocument(
    `Authorize ${client.name}`,
    html`<h1>Allow <strong>${client.name}</strong> to act for you?</h1>
${alert}
<p>${client.description}</p>
<p class="hint">${view.publisher ? html`Registered in the workspace <strong>${view.publisher}</strong>.` : 'Built into Latchkey.'} You are signed in as <strong>${view.email}</strong>.</p>
<h2 class="consent-heading">It will be able to</h2>
<ul class="consent-scopes">${scopes}</ul>
<p class="hint">Never more than your role allows in the workspace, now or later.</p>
<form method="post" action="/oauth/authorize" class="stack">
  <input type="hidden" name="_csrf" value="${view.csrf}">
  <input type="hidden" name="consent" value="${view.consent}">
  ${hidden}
  ${workspaceChoice}
  <p class="hint">Then you go back to <strong>${host}</strong>.</p>
  <div class="form-actions">
    ${possible.length ? html`<button type="submit" name="decision" value="allow" class="button-primary">Allow</button>` : ''}
    <button type="submit" name="decision" value="deny" class="button-secondary" formnovalidate>Deny</button>
  </div>
</form>`,
  );
}

/** An authorization request that cannot go back to the app: said here, never redirected. */
export function authorizeErrorPage(message: string): string {
  return authDocument(
    'Cannot authorize',
    html`<h1>This app cannot be authorized</h1>
<p class="alert alert-error" role="alert">${message}</p>
<p class="hint">Nothing was shared with the app. Go back to it and start again, or tell its makers.</p>`,
  );
}
