import { html, type SafeHtml } from '../../common/html/html.js';
import type { TemplateInput } from '../providers/templates/template.schema.js';

/** What a re-rendered form shows: values that passed their checks, and problems by input key. */
export interface InputFormState {
  values?: Readonly<Record<string, string>>;
  errors?: Readonly<Record<string, string>>;
}

/**
 * Form fields for template inputs (connectionConfig, credentialFields), for a connect page's
 * form. Field names are `prefix + key`. Secret inputs are password fields and are never filled
 * back in; the server checks every value again (checkInputs), `pattern` only helps the browser.
 */
export function inputFields(
  inputs: readonly TemplateInput[],
  prefix: string,
  state: InputFormState = {},
): SafeHtml {
  return html`${inputs.map((input, i) => {
    const id = `${prefix.replace(/[^a-zA-Z0-9]/g, '-')}${i}`;
    const error = state.errors?.[input.key];
    const masked = input.secret || input.type === 'password';
    const value = masked ? undefined : state.values?.[input.key];
    return html`<label for="${id}">${input.label}
  <input type="${masked ? 'password' : input.type === 'url' ? 'url' : 'text'}" name="${prefix}${input.key}" id="${id}" required autocomplete="off" spellcheck="false"${input.pattern ? html` pattern="${input.pattern}"` : ''}${value ? html` value="${value}"` : ''}${error ? html` aria-invalid="true" aria-describedby="${id}-error"` : ''}>
</label>
${error ? html`<p class="error" id="${id}-error" role="alert">${input.label} ${error}.</p>` : ''}`;
  })}`;
}
