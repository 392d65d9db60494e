/**
 * Placeholders in provider templates: `[[key]]` reads the connection's credentials, then its
 * metadata (credentials win); `{{key}}` reads system values and the connection's configuration.
 * Template strings are parsed once into segments here; renderers only walk the segments.
 */
import { TemplateError } from './template-errors.js';

/** Keys of configuration inputs, credential fields and mappings. */
export const KEY_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{0,62}$/;

/** Where in an offering's life a template is rendered: decides which values exist there. */
export type TemplateContext = 'authorization' | 'token' | 'userDetails' | 'registration' | 'proxy';

export interface SystemKey {
  /** What the value is, for the schema's readers and the admin UI. */
  readonly description: string;
  /** Where the value exists; a system key used elsewhere is refused at save time. */
  readonly contexts: readonly TemplateContext[];
}

const EVERYWHERE: readonly TemplateContext[] = [
  'authorization',
  'token',
  'userDetails',
  'registration',
  'proxy',
];
const AFTER_TOKEN: readonly TemplateContext[] = ['userDetails', 'registration', 'proxy'];

/**
 * `{{key}}` values that Latchkey supplies itself. Connection configuration keys may not reuse
 * these names (a configuration value never overrides a system value). The client secret is not
 * here on purpose: `tokenRequest.clientAuthentication` places it, templates never see it.
 */
export const SYSTEM_KEYS: Readonly<Record<string, SystemKey>> = Object.freeze({
  client_id: { description: "The integration's OAuth client ID.", contexts: EVERYWHERE },
  redirect_uri: {
    description: "Latchkey's callback URL ({PUBLIC_URL}/oauth/callback), exactly as registered.",
    contexts: ['authorization', 'token'],
  },
  scope: {
    description: "The integration's scopes joined with the offering's scopeSeparator.",
    contexts: ['authorization', 'token'],
  },
  state: {
    description: 'The single-use state of this authorization request.',
    contexts: ['authorization'],
  },
  code_challenge: {
    description: 'The PKCE S256 challenge of this authorization request.',
    contexts: ['authorization'],
  },
  code_challenge_method: {
    description: 'The PKCE method, always S256 when the offering uses PKCE.',
    contexts: ['authorization'],
  },
  instance_url: {
    description:
      "The connection's API origin from the token response (Salesforce instance_url); in a URL only as its whole origin.",
    contexts: AFTER_TOKEN,
  },
  connection_id: {
    description: "Latchkey's id of the connection.",
    contexts: AFTER_TOKEN,
  },
  end_user_id: {
    description: "The developer's id of the end user who owns the connection.",
    contexts: AFTER_TOKEN,
  },
});

export function isSystemKey(key: string): boolean {
  return Object.hasOwn(SYSTEM_KEYS, key);
}

/** `[[key]]`: a credential or metadata value. `{{key}}`: a configuration or system value. */
export type PlaceholderSource = 'credential' | 'config';

export type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: PlaceholderSource; readonly key: string };

/** A template string parsed once: literal text and placeholders in order. */
export interface CompiledString {
  readonly source: string;
  readonly segments: readonly Segment[];
  /** No placeholders: renders to `source` itself. */
  readonly constant: boolean;
}

const OPENERS = {
  '[[': { close: ']]', kind: 'credential' },
  '{{': { close: '}}', kind: 'config' },
} as const;

/**
 * Parses `[[key]]` and `{{key}}` placeholders. Any other `[[` or `{{` (spaces inside, an
 * unclosed one, a bad key) is a syntax error rather than literal text, so that a typo never
 * reaches a provider as-is.
 */
export function compilePlaceholders(source: string): CompiledString {
  const segments: Segment[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const two = source.slice(i, i + 2);
    if (two !== '[[' && two !== '{{') {
      literal += source[i];
      i += 1;
      continue;
    }
    const { close, kind } = OPENERS[two];
    const end = source.indexOf(close, i + 2);
    const key = end === -1 ? '' : source.slice(i + 2, end);
    if (end === -1 || !KEY_PATTERN.test(key)) {
      throw new TemplateError(
        'template.syntax',
        'invalid',
        `Malformed placeholder at offset ${i}: write ${two}key${close} with a key of letters, digits and underscores.`,
        { offset: i },
      );
    }
    if (literal) segments.push({ kind: 'literal', text: literal });
    literal = '';
    segments.push({ kind, key });
    i = end + 2;
  }
  if (literal) segments.push({ kind: 'literal', text: literal });
  return {
    source,
    segments,
    constant: segments.every((s) => s.kind === 'literal'),
  };
}

/** The placeholders of a compiled string, in order. */
export function placeholdersOf(
  compiled: CompiledString,
): Array<{ kind: PlaceholderSource; key: string }> {
  return compiled.segments.filter(
    (s): s is { kind: PlaceholderSource; key: string } => s.kind !== 'literal',
  );
}

/** A value a placeholder may take. */
export type PlaceholderValue = string | number;

/** Everything placeholders can read while rendering. Build it with `placeholderValues`. */
export interface PlaceholderValues {
  /** `[[key]]`: the connection's credentials merged over its metadata. */
  readonly credential: Readonly<Record<string, PlaceholderValue | null | undefined>>;
  /** `{{key}}`: system values merged over the connection's configuration. */
  readonly config: Readonly<Record<string, PlaceholderValue | null | undefined>>;
}

type Bag = Readonly<Record<string, unknown>> | null | undefined;

/**
 * Merges the bags with the precedence of seed 004: credentials win over metadata, and system
 * values win over configuration. Only own string and number values are kept.
 */
export function placeholderValues(bags: {
  credentials?: Bag;
  metadata?: Bag;
  configuration?: Bag;
  system?: Bag;
}): PlaceholderValues {
  return {
    credential: Object.freeze({ ...usable(bags.metadata), ...usable(bags.credentials) }),
    config: Object.freeze({ ...usable(bags.configuration), ...usable(bags.system) }),
  };
}

function usable(bag: Bag): Record<string, PlaceholderValue> {
  const out: Record<string, PlaceholderValue> = Object.create(null) as Record<
    string,
    PlaceholderValue
  >;
  if (!bag) return out;
  for (const [key, value] of Object.entries(bag)) {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))
      out[key] = value;
  }
  return out;
}

/**
 * The value of one placeholder as a string. Own properties only (`{{constructor}}` is missing,
 * not a function); null, undefined and absent are a `template.missing_value` error.
 */
export function valueOf(values: PlaceholderValues, kind: PlaceholderSource, key: string): string {
  const bag = kind === 'credential' ? values.credential : values.config;
  const value = Object.hasOwn(bag, key) ? bag[key] : undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  const shown = kind === 'credential' ? `[[${key}]]` : `{{${key}}}`;
  throw new TemplateError('template.missing_value', 'unprocessable', `No value for ${shown}.`, {
    key,
    source: kind,
  });
}
