/**
 * URL templates: where a placeholder may stand in a URL, and how its value is encoded there.
 * A value can never change the scheme, the host (beyond one whole DNS label), the port or the
 * path structure. Positions are fixed when the template is compiled; rendering only encodes.
 */
import { isLoopbackHost } from '../../../config/config.js';
import {
  type CompiledString,
  compilePlaceholders,
  type PlaceholderSource,
  type PlaceholderValues,
  valueOf,
} from './placeholders.js';
import { TemplateError } from './template-errors.js';

/** Where a placeholder stands in a URL. */
export type UrlPosition = 'origin' | 'host_label' | 'path' | 'query';

export type UrlPart =
  | { readonly kind: 'literal'; readonly text: string; readonly inOrigin: boolean }
  /** `{{instance_url}}` as the whole origin. */
  | { readonly kind: 'origin'; readonly key: string }
  /** A whole DNS label of the host, from configuration (`https://{{subdomain}}.example.com`). */
  | { readonly kind: 'host_label'; readonly key: string }
  /**
   * Inside one path segment; `prefix` and `suffix` are the literal text around it in that
   * segment, so that the rendered segment can be checked for `.` and `..`.
   */
  | {
      readonly kind: 'path';
      readonly source: PlaceholderSource;
      readonly key: string;
      readonly prefix: string;
      readonly suffix: string;
    }
  | { readonly kind: 'query'; readonly source: PlaceholderSource; readonly key: string };

export interface CompiledUrl {
  readonly source: string;
  readonly parts: readonly UrlPart[];
  /** Placeholders with their positions, for validation. */
  readonly placeholders: ReadonlyArray<{
    kind: PlaceholderSource;
    key: string;
    position: UrlPosition;
  }>;
}

export interface RenderUrlOptions {
  /** http on loopback hosts for `{{instance_url}}` (LATCHKEY_ALLOW_INSECURE_PROVIDERS). */
  allowInsecure?: boolean;
}

/** The one system key that may stand for a whole origin. */
export const ORIGIN_KEY = 'instance_url';

type Zone = 'authority' | 'path' | 'query' | 'fragment';

function placement(source: string, message: string): TemplateError {
  return new TemplateError('template.placement', 'invalid', message, { template: source });
}

/**
 * Compiles a URL template. Placement rules: `{{instance_url}}` only as the whole origin at the
 * start; other placeholders in the host only as a whole label and only from configuration
 * (`{{key}}`, never a credential); anywhere inside the path or the query; nowhere in the scheme,
 * userinfo, port or fragment. Two placeholders in a row are refused (their boundary is unknown).
 */
export function compileUrl(source: string | CompiledString): CompiledUrl {
  const compiled = typeof source === 'string' ? compilePlaceholders(source) : source;
  const text = compiled.source;
  const segs = compiled.segments;
  const parts: UrlPart[] = [];
  const placeholders: Array<{ kind: PlaceholderSource; key: string; position: UrlPosition }> = [];
  let zone: Zone = 'authority';
  let start = 0;

  const first = segs[0];
  if (first?.kind === 'config' && first.key === ORIGIN_KEY) {
    parts.push({ kind: 'origin', key: ORIGIN_KEY });
    placeholders.push({ kind: 'config', key: ORIGIN_KEY, position: 'origin' });
    const next = segs[1];
    if (next && (next.kind !== 'literal' || !/^[/?]/.test(next.text)))
      throw placement(text, `{{${ORIGIN_KEY}}} must be followed by "/", "?" or nothing.`);
    zone = 'path';
    start = 1;
  } else {
    const scheme = first?.kind === 'literal' ? /^https?:\/\//i.exec(first.text) : null;
    if (!scheme) throw placement(text, 'A URL must start with https:// (or {{instance_url}}).');
  }

  for (let i = start; i < segs.length; i++) {
    const seg = segs[i];
    if (seg.kind === 'literal') {
      const inOrigin = zone === 'authority';
      const body = i === 0 ? seg.text.replace(/^https?:\/\//i, '') : seg.text;
      for (const ch of body) {
        if (zone === 'authority') {
          if (ch === '@') throw placement(text, 'A URL template must not contain userinfo ("@").');
          if (ch === '/') zone = 'path';
          else if (ch === '?') zone = 'query';
          else if (ch === '#') zone = 'fragment';
        } else if (zone === 'path') {
          if (ch === '?') zone = 'query';
          else if (ch === '#') zone = 'fragment';
        } else if (zone === 'query' && ch === '#') zone = 'fragment';
      }
      parts.push({ kind: 'literal', text: seg.text, inOrigin });
      continue;
    }
    const shown = seg.kind === 'credential' ? `[[${seg.key}]]` : `{{${seg.key}}}`;
    const before = segs[i - 1];
    const after = segs[i + 1];
    if (before?.kind !== 'literal' || (after && after.kind !== 'literal'))
      throw placement(text, `${shown} must be separated from other placeholders by literal text.`);
    if (seg.kind === 'config' && seg.key === ORIGIN_KEY)
      throw placement(text, `{{${ORIGIN_KEY}}} may only stand for the whole origin, at the start.`);
    const prevChar = before.text.at(-1);
    const nextText = after?.text ?? '';
    switch (zone) {
      case 'authority': {
        if (seg.kind === 'credential')
          throw placement(
            text,
            `${shown} cannot stand in a host: only {{configuration}} values can.`,
          );
        const nextChar = nextText[0];
        const labelStart = prevChar === '.' || before.text.endsWith('://');
        const labelEnd = nextChar === undefined || '.:/?'.includes(nextChar);
        if (!labelStart || !labelEnd)
          throw placement(text, `${shown} in a host must be a whole label, between dots.`);
        parts.push({ kind: 'host_label', key: seg.key });
        placeholders.push({ kind: seg.kind, key: seg.key, position: 'host_label' });
        break;
      }
      case 'path': {
        const prefix = before.text.slice(before.text.lastIndexOf('/') + 1);
        const cut = nextText.search(/[/?#]/);
        const suffix = cut === -1 ? nextText : nextText.slice(0, cut);
        parts.push({ kind: 'path', source: seg.kind, key: seg.key, prefix, suffix });
        placeholders.push({ kind: seg.kind, key: seg.key, position: 'path' });
        break;
      }
      case 'query':
        parts.push({ kind: 'query', source: seg.kind, key: seg.key });
        placeholders.push({ kind: seg.kind, key: seg.key, position: 'query' });
        break;
      case 'fragment':
        throw placement(text, `${shown} cannot stand in a URL fragment.`);
    }
  }
  return { source: text, parts, placeholders };
}

/**
 * Renders a compiled URL. Host labels must be DNS labels; `{{instance_url}}` must be an https
 * origin; path values are encoded as one segment (and may not make it `.`, `..` or empty);
 * query values are encoded as a query component. As a last guard the rendered URL must keep
 * the origin that the template and its host values spell.
 */
export function renderUrl(
  compiled: CompiledUrl,
  values: PlaceholderValues,
  options: RenderUrlOptions = {},
): string {
  let origin = '';
  let rest = '';
  for (const part of compiled.parts) {
    switch (part.kind) {
      case 'literal':
        if (part.inOrigin) origin += part.text;
        else rest += part.text;
        break;
      case 'origin':
        origin += originValue(valueOf(values, 'config', part.key), options);
        break;
      case 'host_label': {
        const value = valueOf(values, 'config', part.key);
        if (!isDnsLabel(value)) throw unsafe(part.key, 'config', 'host_label', 'a DNS label');
        origin += value.toLowerCase();
        break;
      }
      case 'path': {
        const value = valueOf(values, part.source, part.key);
        const encoded = encodeURIComponent(value);
        const segment = part.prefix + encoded + part.suffix;
        if (segment === '' || segment === '.' || segment === '..')
          throw unsafe(part.key, part.source, 'path', 'a path segment other than "", "." or ".."');
        rest += encoded;
        break;
      }
      case 'query':
        rest += encodeURIComponent(valueOf(values, part.source, part.key));
        break;
    }
  }
  const rendered = origin + rest;
  // Defense in depth: literal text is checked at save time, but nothing may move the origin.
  let parsed: URL;
  try {
    parsed = new URL(rendered);
  } catch {
    throw new TemplateError(
      'template.unsafe_value',
      'invalid',
      'The rendered URL is not a valid URL.',
    );
  }
  let expected = '';
  try {
    expected = new URL(origin).origin;
  } catch {
    // An origin that does not parse cannot match.
  }
  if (parsed.origin !== expected || parsed.username || parsed.password)
    throw new TemplateError(
      'template.unsafe_value',
      'invalid',
      'A value would change the origin of the rendered URL.',
    );
  return rendered;
}

/** `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`, case-insensitive, without a regex per call. */
export function isDnsLabel(value: string): boolean {
  if (value.length < 1 || value.length > 63) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const innerHyphen = c === 0x2d && i > 0 && i < value.length - 1;
    if (!alnum && !innerHyphen) return false;
  }
  return true;
}

function originValue(value: string, options: RenderUrlOptions): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x5c)
      throw unsafe(ORIGIN_KEY, 'config', 'origin', 'an absolute https URL');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw unsafe(ORIGIN_KEY, 'config', 'origin', 'an absolute https URL');
  }
  const secure =
    url.protocol === 'https:' ||
    (url.protocol === 'http:' && options.allowInsecure === true && isLoopbackHost(url.hostname));
  if (!secure || url.username || url.password || url.search || url.hash || url.pathname !== '/')
    throw unsafe(
      ORIGIN_KEY,
      'config',
      'origin',
      'an https origin without userinfo, path, query or fragment',
    );
  return url.origin;
}

function unsafe(
  key: string,
  source: PlaceholderSource,
  position: UrlPosition | 'header',
  expected: string,
): TemplateError {
  const shown = source === 'credential' ? `[[${key}]]` : `{{${key}}}`;
  return new TemplateError(
    'template.unsafe_value',
    'invalid',
    `The value of ${shown} is not allowed in the ${position.replace('_', ' ')}: it must be ${expected}.`,
    { key, source, position },
  );
}

export { unsafe as unsafeValueError };
