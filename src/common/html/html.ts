/** HTML-escaped text. Every interpolation in `html` is escaped unless it is already SafeHtml. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Part = SafeHtml | string | number | boolean | null | undefined | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof SafeHtml) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new SafeHtml(out);
}

/**
 * A small centred card page (sign-in, the end-user connect pages). No external assets and no
 * script: works on networks without internet and under a `default-src 'none'` CSP.
 */
export function page(title: string, body: SafeHtml, options: { brand?: string } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${options.brand ?? 'Latchkey'}</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2433; --muted: #5b6475; --bg: #f4f6fa; --card: #fff; --line: #d9dee8;
    --accent: #2f5bd3; --accent-fg: #fff; --bad: #b42318; --good: #067647; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e9f0; --muted: #a3abbd; --bg: #12151c; --card: #1b2029; --line: #303746;
    --accent: #7c9cff; --accent-fg: #0b1020; --bad: #ff8a80; --good: #6ee7a8; } }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--fg); line-height: 1.5; padding: 1.5rem 1rem; }
  main { width: 100%; max-width: 28rem; background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1.75rem; box-shadow: 0 1px 3px #0001; }
  .brand { margin: 0 0 1rem; font-size: .8rem; letter-spacing: .08em; text-transform: uppercase; color: var(--muted); font-weight: 600; }
  h1 { font-size: 1.35rem; margin: 0 0 .75rem; line-height: 1.3; }
  p { margin: .5rem 0; }
  ul.scopes { margin: .5rem 0 1rem; padding: 0; list-style: none; display: grid; gap: .4rem; }
  ul.scopes li { padding: .5rem .75rem; border: 1px solid var(--line); border-radius: .5rem; }
  ul.scopes code { color: var(--muted); font-size: .8rem; margin-left: .25rem; }
  form { display: grid; gap: .75rem; margin-top: 1rem; }
  label { display: grid; gap: .25rem; font-weight: 600; }
  input { font: inherit; padding: .55rem .6rem; border: 1px solid var(--line); border-radius: .375rem; background: transparent; color: inherit; }
  button { font: inherit; font-weight: 600; padding: .6rem 1rem; border-radius: .375rem; border: 0; background: var(--accent); color: var(--accent-fg); cursor: pointer; }
  button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .error { color: var(--bad); font-weight: 600; }
  .ok { color: var(--good); font-weight: 600; }
  .muted, small { color: var(--muted); }
  .status-icon { font-size: 2rem; line-height: 1; margin: 0 0 .5rem; }
</style>
</head>
<body>
<main>
<p class="brand">${options.brand ?? 'Latchkey'}</p>
${body}
</main>
</body>
</html>`.value;
}
