/**
 * Rendering of compiled header values, query parameters and request bodies. Values are never
 * spliced into raw text that a receiver re-parses: headers refuse control characters, query and
 * form values go through URLSearchParams, JSON values become JSON strings.
 */
import {
  type CompiledString,
  compilePlaceholders,
  type PlaceholderValues,
  valueOf,
} from './placeholders.js';
import { TemplateError } from './template-errors.js';

export type BodyFormat = 'form' | 'json';

/** A JSON body template: strings may hold placeholders; other values are sent as they are. */
export type BodyTemplate = { [key: string]: BodyTemplateValue };
export type BodyTemplateValue =
  string | number | boolean | null | BodyTemplateValue[] | { [key: string]: BodyTemplateValue };

export type CompiledBodyNode =
  | { readonly kind: 'string'; readonly value: CompiledString }
  | { readonly kind: 'constant'; readonly value: number | boolean | null }
  | { readonly kind: 'array'; readonly items: readonly CompiledBodyNode[] }
  | {
      readonly kind: 'object';
      readonly entries: ReadonlyArray<readonly [string, CompiledBodyNode]>;
    };

/** A body template parsed once. The top level is always an object. */
export type CompiledBody = Extract<CompiledBodyNode, { kind: 'object' }>;

/** Ordered name → template pairs: request headers, query parameters. */
export type CompiledPairs = ReadonlyArray<readonly [string, CompiledString]>;

export function compilePairs(pairs: Readonly<Record<string, string>> | undefined): CompiledPairs {
  return Object.entries(pairs ?? {}).map(([name, value]) => [name, compilePlaceholders(value)]);
}

export function compileBody(body: BodyTemplate | undefined): CompiledBody {
  return compileNode(body ?? {}) as CompiledBody;
}

function compileNode(value: BodyTemplateValue): CompiledBodyNode {
  if (typeof value === 'string') return { kind: 'string', value: compilePlaceholders(value) };
  if (Array.isArray(value)) return { kind: 'array', items: value.map(compileNode) };
  if (value !== null && typeof value === 'object')
    return {
      kind: 'object',
      entries: Object.entries(value).map(([k, v]) => [k, compileNode(v)] as const),
    };
  return { kind: 'constant', value };
}

/** Renders a compiled string as plain text (no position rules: callers encode the result). */
export function renderText(compiled: CompiledString, values: PlaceholderValues): string {
  if (compiled.constant) return compiled.source;
  let out = '';
  for (const seg of compiled.segments) {
    out += seg.kind === 'literal' ? seg.text : valueOf(values, seg.kind, seg.key);
  }
  return out;
}

/**
 * Renders a header value. A value holding a control character (CR, LF, NUL, …) or a character
 * beyond Latin-1 is refused, so no value can end the header or start another.
 */
export function renderHeader(compiled: CompiledString, values: PlaceholderValues): string {
  if (compiled.constant) return compiled.source;
  let out = '';
  for (const seg of compiled.segments) {
    if (seg.kind === 'literal') {
      out += seg.text;
      continue;
    }
    const value = valueOf(values, seg.kind, seg.key);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c === 0x7f || c > 0xff) {
        const shown = seg.kind === 'credential' ? `[[${seg.key}]]` : `{{${seg.key}}}`;
        throw new TemplateError(
          'template.unsafe_value',
          'invalid',
          `The value of ${shown} is not allowed in a header: it holds a control or non-Latin-1 character.`,
          { key: seg.key, source: seg.kind, position: 'header' },
        );
      }
    }
    out += value;
  }
  return out;
}

/** Renders header pairs into a plain object (names as written in the template). */
export function renderHeaders(
  pairs: CompiledPairs,
  values: PlaceholderValues,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) out[name] = renderHeader(value, values);
  return out;
}

/** Renders query pairs, each value encoded as a query component; `''` when there are none. */
export function renderQuery(pairs: CompiledPairs, values: PlaceholderValues): string {
  const params = new URLSearchParams();
  for (const [name, value] of pairs) params.append(name, renderText(value, values));
  return params.toString();
}

/**
 * Renders a body. `form`: a flat object of strings, numbers and booleans, encoded by
 * URLSearchParams. `json`: the template's structure with each string rendered and the whole
 * serialized by JSON.stringify, so a value is always one JSON string.
 */
export function renderBody(
  compiled: CompiledBody,
  values: PlaceholderValues,
  format: BodyFormat,
): string {
  switch (format) {
    case 'json':
      return JSON.stringify(renderNode(compiled, values));
    case 'form': {
      const params = new URLSearchParams();
      for (const [name, node] of compiled.entries) {
        if (node.kind === 'string') params.append(name, renderText(node.value, values));
        else if (node.kind === 'constant' && node.value !== null)
          params.append(name, String(node.value));
        else
          throw new TemplateError(
            'template.syntax',
            'invalid',
            `Form bodies are flat: "${name}" must be a string, a number or a boolean.`,
            { field: name },
          );
      }
      return params.toString();
    }
  }
}

function renderNode(node: CompiledBodyNode, values: PlaceholderValues): unknown {
  switch (node.kind) {
    case 'string':
      return renderText(node.value, values);
    case 'constant':
      return node.value;
    case 'array':
      return node.items.map((item) => renderNode(item, values));
    case 'object':
      return Object.fromEntries(node.entries.map(([k, v]) => [k, renderNode(v, values)]));
  }
}

/** Every compiled string in a body, with its JSON Pointer below the body. */
export function* bodyStrings(
  node: CompiledBodyNode,
  pointer = '',
): Generator<[string, CompiledString]> {
  switch (node.kind) {
    case 'string':
      yield [pointer, node.value];
      break;
    case 'constant':
      break;
    case 'array':
      for (const [i, item] of node.items.entries()) yield* bodyStrings(item, `${pointer}/${i}`);
      break;
    case 'object':
      for (const [k, v] of node.entries) yield* bodyStrings(v, `${pointer}/${escapePointer(k)}`);
      break;
  }
}

/** RFC 6901 escaping of one reference token. */
export function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
