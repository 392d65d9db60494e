import { html, page, type SafeHtml } from '../../common/html/html.js';
import type { ConnectPage } from './connect-flow.service.js';
import { describeScope } from './scope-descriptions.js';

export function connectPage(p: ConnectPage, token: string, display: string): string {
  const who = p.session.endUserDisplayName ?? p.session.endUserEmail ?? p.session.endUserId;
  return page(
    `Connect ${p.integration.name}`,
    html`<h1>Connect ${p.offering.displayName}</h1>
<p><strong>${p.integration.name}</strong> asks to connect your ${p.offering.displayName} account${who ? html` for <strong>${who}</strong>` : ''}.</p>
<p>It will be able to:</p>
<ul>${p.integration.scopes.map((s) => html`<li>${describeScope(s)}</li>`)}</ul>
<form method="post" action="/connect/${token}/start">
  <input type="hidden" name="display" value="${display}">
  <button type="submit" autofocus>Continue to ${p.offering.displayName}</button>
</form>
<p><small>You will sign in at ${p.offering.displayName}, not here. Latchkey never sees your password.</small></p>`,
  );
}

export function messagePage(title: string, detail: string, tone: 'error' | 'ok'): string {
  const body: SafeHtml = html`<h1>${title}</h1><p class="${tone === 'error' ? 'error' : ''}" role="${tone === 'error' ? 'alert' : 'status'}">${detail}</p>`;
  return page(title, body);
}

/** Posts the result to the opener at the redirect URI's origin only, then closes the popup. */
export function popupResultPage(targetOrigin: string, message: object, nonce: string): string {
  const ok = (message as { status?: string }).status === 'connected';
  // JSON inside a script element: escape "<" so no "</script>" can end it early.
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  const shell = page(
    ok ? 'Connected' : 'Connection failed',
    html`<h1>${ok ? 'Connected' : 'Connection failed'}</h1>
<p>${ok ? 'You can close this window.' : 'Return to the app to try again.'}</p>`,
  );
  const script = `<script nonce="${nonce}">
(function () {
  var message = ${json(message)};
  if (window.opener) { window.opener.postMessage(message, ${json(targetOrigin)}); }
  window.close();
})();
</script>`;
  return shell.replace('</body>', `${script}\n</body>`);
}
