import { html, page, type SafeHtml } from '../../common/html/html.js';
import type { ConnectPage } from './connect-flow.service.js';
import { inputFields, type InputFormState } from './connect-inputs.js';
import { describeScope } from './scope-descriptions.js';

/** Form field names of connectionConfig inputs on the start form: `config.<key>`. */
export const CONFIG_FIELD_PREFIX = 'config.';

/**
 * The end user's first page: who asks, for which account, what it will be able to do, and the
 * configuration inputs the developer left open (`state`: the form again, with its problems).
 */
export function connectPage(
  p: ConnectPage,
  token: string,
  display: string,
  state?: InputFormState,
): string {
  const who = p.session.endUserDisplayName ?? p.session.endUserEmail ?? p.session.endUserId;
  const provider = p.offering.displayName;
  return page(
    `Connect ${provider}`,
    html`<h1>Connect your ${provider} account</h1>
<p><strong>${p.integration.name}</strong> asks to connect to your ${provider} account${who ? html` on behalf of <strong>${who}</strong>` : ''}.</p>
<p>If you agree, it will be able to:</p>
<ul class="scopes">${p.integration.scopes.map((s) => html`<li>${describeScope(s)}<code>${s}</code></li>`)}</ul>
<form method="post" action="/connect/${token}/start">
  <input type="hidden" name="display" value="${display}">
  ${inputFields(p.inputs, CONFIG_FIELD_PREFIX, state)}
  <button type="submit"${p.inputs.length ? '' : html` autofocus`}>Continue to ${provider}</button>
</form>
<p><small>You will sign in at ${provider}, not here, and can review the request there. Latchkey never sees your password.</small></p>`,
    { brand: p.integration.name },
  );
}

/**
 * An autoStart session's page: a form that submits itself to /start (the one script, allowed by
 * `nonce`), and its button for browsers without scripts. Starting stays a POST so that a GET of
 * the link (a mail scanner, a prefetch) spends nothing.
 */
export function autoStartPage(
  p: ConnectPage,
  token: string,
  display: string,
  nonce: string,
): string {
  const provider = p.offering.displayName;
  const shell = page(
    `Connect ${provider}`,
    html`<h1>Continuing to ${provider}…</h1>
<form id="start" method="post" action="/connect/${token}/start">
  <input type="hidden" name="display" value="${display}">
  <button type="submit" autofocus>Continue to ${provider}</button>
</form>`,
    { brand: p.integration.name },
  );
  const script = `<script nonce="${nonce}">document.getElementById('start').submit();</script>`;
  return shell.replace('</body>', `${script}\n</body>`);
}

export interface Message {
  title: string;
  detail: string;
  /** Details for support (e.g. the provider's own error text), shown small. */
  technical?: string;
}

export function messagePage(m: Message, tone: 'error' | 'ok'): string {
  return page(m.title, messageBody(m, tone));
}

function messageBody(m: Message, tone: 'error' | 'ok'): SafeHtml {
  return html`<p class="status-icon" aria-hidden="true">${tone === 'ok' ? '✓' : '✕'}</p>
<h1>${m.title}</h1>
<p class="${tone === 'error' ? 'error' : 'ok'}" role="${tone === 'error' ? 'alert' : 'status'}">${m.detail}</p>
${m.technical ? html`<p><small>Details: ${m.technical}</small></p>` : ''}`;
}

/** Posts the result to the opener at the redirect URI's origin only, then closes the popup. */
export function popupResultPage(
  targetOrigin: string,
  message: object,
  shown: Message,
  nonce: string,
): string {
  const ok = (message as { status?: string }).status === 'connected';
  // JSON inside a script element: escape "<" so no "</script>" can end it early.
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  const shell = page(shown.title, messageBody(shown, ok ? 'ok' : 'error'));
  const script = `<script nonce="${nonce}">
(function () {
  var message = ${json(message)};
  if (window.opener) { window.opener.postMessage(message, ${json(targetOrigin)}); }
  window.close();
})();
</script>`;
  return shell.replace('</body>', `${script}\n</body>`);
}
