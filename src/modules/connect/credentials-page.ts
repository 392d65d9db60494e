import { html, page } from '../../common/html/html.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import type { TemplateInput } from '../providers/templates/index.js';
import type { ConnectPage } from './connect-flow.service.js';

/** Form field names: a prefix per bag, then the input's key (keys never hold a colon). */
export const CREDENTIAL_FIELD_PREFIX = 'credential:';
export const CONFIGURATION_FIELD_PREFIX = 'configuration:';

export interface CredentialsFormState {
  /** Why the last submit did not connect (the provider's refusal, a bad value). */
  error?: string;
  /** What the end user typed into non-secret inputs, shown again; secret ones never are. */
  values?: Record<string, string>;
}

/**
 * The connect page of a bearer_token / basic offering: the credential fields (secret ones as
 * password inputs) and the configuration inputs the developer did not fix. It posts to
 * `/connect/{token}/credentials`; no script, like every connect page.
 */
export function credentialsPage(
  p: ConnectPage,
  token: string,
  display: string,
  fixedConfiguration: ReadonlySet<string>,
  state: CredentialsFormState = {},
): string {
  const t = compiledTemplateOf(p.offering);
  const provider = p.offering.displayName;
  const who = p.session.endUserDisplayName ?? p.session.endUserEmail ?? p.session.endUserId;
  const config = (t.template.connectionConfig ?? []).filter((f) => !fixedConfiguration.has(f.key));
  const input = (prefix: string, field: TemplateInput) => {
    const secret = field.secret === true || field.type === 'password';
    const name = `${prefix}${field.key}`;
    const value = secret ? undefined : state.values?.[name];
    return html`<label>${field.label}
  <input type="${secret ? 'password' : field.type === 'url' ? 'url' : 'text'}" name="${name}" required autocomplete="off" spellcheck="false"${value ? html` value="${value}"` : ''}>
</label>`;
  };
  return page(
    `Connect ${provider}`,
    html`<h1>Connect your ${provider} account</h1>
<p><strong>${p.integration.name}</strong> asks for your ${provider} credentials${who ? html` on behalf of <strong>${who}</strong>` : ''}.</p>
${state.error ? html`<p class="error" role="alert">${state.error}</p>` : ''}
<form method="post" action="/connect/${token}/credentials">
  <input type="hidden" name="display" value="${display}">
  ${t.credentialFields.map((f) => input(CREDENTIAL_FIELD_PREFIX, f))}
  ${config.map((f) => input(CONFIGURATION_FIELD_PREFIX, f))}
  <button type="submit">Connect ${provider}</button>
</form>
<p><small>Latchkey checks them with ${provider} before saving anything, then keeps them encrypted for ${p.integration.name}'s calls to ${provider}.</small></p>`,
    { brand: p.integration.name },
  );
}
