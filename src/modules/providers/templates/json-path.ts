/**
 * A safe subset of JSONPath for reading provider responses: `$`, `$.a.b`, `$.a[0].b`,
 * `$['weird-key']`. Parsed by hand into steps once; evaluation only walks own properties, so
 * nothing is evaluated as code and `$.constructor` finds nothing.
 */
import { TemplateError } from './template-errors.js';

export type JsonPathStep =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number };

export interface CompiledJsonPath {
  readonly source: string;
  readonly steps: readonly JsonPathStep[];
}

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[A-Za-z0-9_$]/;

function syntax(source: string, at: number, why: string): TemplateError {
  return new TemplateError(
    'template.syntax',
    'invalid',
    `Invalid JSON path at offset ${at}: ${why}. Use $, $.a.b, $.a[0] or $['key'].`,
    { path: source, offset: at },
  );
}

export function compileJsonPath(source: string): CompiledJsonPath {
  if (source[0] !== '$') throw syntax(source, 0, 'it must start with $');
  const steps: JsonPathStep[] = [];
  let i = 1;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '.') {
      const start = ++i;
      if (!IDENT_START.test(source[i] ?? '')) throw syntax(source, i, 'expected a name after "."');
      while (i < source.length && IDENT_PART.test(source[i])) i++;
      steps.push({ kind: 'key', key: source.slice(start, i) });
    } else if (ch === '[') {
      i++;
      const quote = source[i];
      if (quote === "'" || quote === '"') {
        let key = '';
        i++;
        for (;;) {
          if (i >= source.length) throw syntax(source, i, 'unclosed quoted name');
          const c = source[i];
          if (c === '\\') {
            const escaped = source[i + 1];
            if (escaped !== quote && escaped !== '\\') throw syntax(source, i, 'unknown escape');
            key += escaped;
            i += 2;
          } else if (c === quote) {
            i++;
            break;
          } else {
            key += c;
            i++;
          }
        }
        steps.push({ kind: 'key', key });
      } else {
        const start = i;
        while (i < source.length && source[i] >= '0' && source[i] <= '9') i++;
        const digits = source.slice(start, i);
        if (!digits || (digits.length > 1 && digits[0] === '0') || digits.length > 9)
          throw syntax(source, start, 'expected an array index or a quoted name');
        steps.push({ kind: 'index', index: Number(digits) });
      }
      if (source[i] !== ']') throw syntax(source, i, 'expected "]"');
      i++;
    } else {
      throw syntax(source, i, `unexpected "${ch}"`);
    }
  }
  return { source, steps };
}

/** The value at a path, or undefined when any step finds nothing. */
export function readJsonPath(path: CompiledJsonPath, body: unknown): unknown {
  let current: unknown = body;
  for (const step of path.steps) {
    if (step.kind === 'index') {
      if (!Array.isArray(current) || step.index >= current.length) return undefined;
      current = current[step.index];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current))
        return undefined;
      if (!Object.hasOwn(current, step.key)) return undefined;
      current = (current as Record<string, unknown>)[step.key];
    }
  }
  return current;
}

export interface MappingOptions {
  /** Keys that must be found (e.g. `uid`); missing is a `template.mapping_missing` error. */
  readonly required?: readonly string[];
  /** Keys whose numbers stay numbers (`expiresIn`); numeric strings become numbers there. */
  readonly numeric?: readonly string[];
}

export interface CompiledMapping {
  readonly entries: ReadonlyArray<{
    readonly key: string;
    readonly path: CompiledJsonPath;
    readonly required: boolean;
    readonly numeric: boolean;
  }>;
}

/** Parses a `{key: path}` mapping once. */
export function compileMapping(
  mapping: Readonly<Record<string, string>>,
  options: MappingOptions = {},
): CompiledMapping {
  const required = new Set(options.required ?? []);
  const numeric = new Set(options.numeric ?? []);
  return {
    entries: Object.entries(mapping).map(([key, path]) => ({
      key,
      path: compileJsonPath(path),
      required: required.has(key),
      numeric: numeric.has(key),
    })),
  };
}

export type MappedValues = Record<string, string | number>;

/**
 * Reads a mapping from a response body. Strings stay strings; numbers become strings except for
 * numeric keys. A path that finds nothing or null leaves the key out, or is a
 * `template.mapping_missing` error for a required key; objects, arrays and booleans are a
 * `template.mapping_type` error. Errors name the key and path, never the value.
 */
export function applyMapping(
  mapping: CompiledMapping | Readonly<Record<string, string>>,
  body: unknown,
  options?: MappingOptions,
): MappedValues {
  const compiled = isCompiled(mapping) ? mapping : compileMapping(mapping, options);
  const out: MappedValues = {};
  for (const entry of compiled.entries) {
    const found = readJsonPath(entry.path, body);
    if (found === undefined || found === null) {
      if (entry.required)
        throw new TemplateError(
          'template.mapping_missing',
          'unprocessable',
          `The response has no value at ${entry.path.source} (for ${entry.key}).`,
          { key: entry.key, path: entry.path.source },
        );
      continue;
    }
    out[entry.key] = coerce(entry, found);
  }
  return out;
}

function isCompiled(
  mapping: CompiledMapping | Readonly<Record<string, string>>,
): mapping is CompiledMapping {
  return Array.isArray((mapping as CompiledMapping).entries);
}

function coerce(entry: CompiledMapping['entries'][number], found: unknown): string | number {
  if (entry.numeric) {
    if (typeof found === 'number' && Number.isFinite(found)) return found;
    if (typeof found === 'string' && found.trim() !== '' && Number.isFinite(Number(found)))
      return Number(found);
  } else if (typeof found === 'string') return found;
  else if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  throw new TemplateError(
    'template.mapping_type',
    'unprocessable',
    `The response's value at ${entry.path.source} (for ${entry.key}) is not ${entry.numeric ? 'a number' : 'a string or a number'}.`,
    { key: entry.key, path: entry.path.source },
  );
}
