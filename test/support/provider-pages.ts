/**
 * Drives the interactive Salesforce test provider's sign-in and consent pages over plain HTTP,
 * as a browser would submit them.
 */

/** The `value` of the form field named `name` in a page, HTML entities decoded. */
export function fieldValue(html: string, name: string): string {
  const input = new RegExp(`<input[^>]*\\bname="${name}"[^>]*>`).exec(html)?.[0];
  const value = input && /\bvalue="([^"]*)"/.exec(input)?.[1];
  if (value === undefined) throw new Error(`no field ${name} in:\n${html}`);
  return value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

/** POSTs a form like a browser (no redirect following). */
export function postForm(url: string | URL, form: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
    redirect: 'manual',
  });
}

export interface ProviderLogin {
  username: string;
  password: string;
  decision: 'allow' | 'deny';
}

/**
 * Opens the authorization URL, signs in, answers the consent page and returns where the provider
 * redirects the browser (the callback with `code` or `error`).
 */
export async function signInAndConsent(
  authorizeUrl: string | URL,
  login: ProviderLogin,
): Promise<URL> {
  const signIn = await fetch(authorizeUrl, { redirect: 'manual' });
  if (signIn.status !== 200) throw new Error(`authorize: ${signIn.status} ${await signIn.text()}`);
  const origin = new URL(authorizeUrl).origin;
  const consent = await postForm(`${origin}/services/oauth2/authorize/sign-in`, {
    request: fieldValue(await signIn.text(), 'request'),
    username: login.username,
    password: login.password,
  });
  if (consent.status !== 200) throw new Error(`sign-in: ${consent.status} ${await consent.text()}`);
  const decided = await postForm(`${origin}/services/oauth2/authorize/consent`, {
    request: fieldValue(await consent.text(), 'request'),
    decision: login.decision,
  });
  if (decided.status !== 302) throw new Error(`consent: ${decided.status} ${await decided.text()}`);
  return new URL(decided.headers.get('location')!);
}
