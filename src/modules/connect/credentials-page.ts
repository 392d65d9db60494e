import { html, page } from '../../common/html/html.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import type { ConnectPage } from './connect-flow.service.js';
import { inputFields } from './connect-inputs.js';
import { CONFIG_FIELD_PREFIX } from './connect-pages.js';
import { fieldsWith } from './form-fields.js';

/** Form field names of the credential fields: the prefix, then the input's key. */
export const CREDENTIAL_FIELD_PREFIX = 'credential.';

export interface CredentialsFormState {
  /** Why the last submit did not connect (the provider's refusal, a bad value). */
  error?: string;
  /** The submitted form (field name → value); non-secret values are shown again. */
  values?: Record<string, unknown>;
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
  state: CredentialsFormState = {},
): string {
  const t = compiledTemplateOf(p.offering);
  const provider = p.offering.displayName;
  const who = p.session.endUserDisplayName ?? p.session.endUserEmail ?? p.session.endUserId;
  const typed = (prefix: string) => ({ values: fieldsWith(state.values ?? {}, prefix) });
  return page(
    `Connect ${provider}`,
    html`<h1>Connect your ${provider} account</h1>
<p><strong>${p.integration.name}</strong> asks for your ${provider} credentials${who ? html` on behalf of <strong>${who}</strong>` : ''}.</p>
${state.error ? html`<p class="error" role="alert">${state.error}</p>` : ''}
<form method="post" action="/connect/${token}/credentials">
  <input type="hidden" name="display" value="${display}">
  ${inputFields(t.credentialFields, CREDENTIAL_FIELD_PREFIX, typed(CREDENTIAL_FIELD_PREFIX))}
  ${inputFields(p.inputs, CONFIG_FIELD_PREFIX, typed(CONFIG_FIELD_PREFIX))}
  <button type="submit">Connect ${provider}</button>
</form>
<p><small>Latchkey checks them with ${provider} before saving anything, then keeps them encrypted for ${p.integration.name}'s calls to ${provider}.</small></p>`,
    { brand: p.integration.name },
  );
}
