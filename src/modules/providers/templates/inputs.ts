/**
 * Values for a template's inputs — `connectionConfig` (per-connection configuration such as a
 * shop subdomain) and `credentialFields` (what bearer_token / basic ask for) — checked before
 * anything uses them: only declared keys, strings without control characters, the input's type
 * (a `hostname_label` is one DNS label, so it can never change a host) and its pattern. Secret
 * inputs are split off so that they are stored encrypted and never shown again.
 */
import type { TemplateInput } from './template.schema.js';
import { isDnsLabel } from './url-template.js';

export const MAX_INPUT_LENGTH = 4096;

export interface InputProblem {
  key: string;
  message: string;
}

export interface CheckedInputs {
  /** Values of non-secret inputs. */
  readable: Record<string, string>;
  /** Values of secret inputs. */
  secret: Record<string, string>;
  /** Declared inputs without a value (empty strings count as none). */
  missing: string[];
  problems: InputProblem[];
}

const patterns = new WeakMap<TemplateInput, RegExp>();

/**
 * Checks given values against declared inputs; an input's `default` stands in for a value not
 * given (and is checked like one). Missing inputs are listed, not refused: whether
 * they may be filled later (by the end user on the connect page) is the caller's rule.
 */
export function checkInputs(fields: readonly TemplateInput[], given: unknown): CheckedInputs {
  const out: CheckedInputs = { readable: {}, secret: {}, missing: [], problems: [] };
  const values: Record<string, unknown> =
    given === undefined || given === null ? {} : (given as Record<string, unknown>);
  if (typeof values !== 'object' || Array.isArray(values)) {
    out.problems.push({ key: '', message: 'must be an object of input values' });
    return out;
  }
  const declared = new Map(fields.map((f) => [f.key, f]));
  for (const key of Object.keys(values))
    if (!declared.has(key)) out.problems.push({ key, message: 'is not an input of this offering' });
  for (const field of fields) {
    const given = Object.hasOwn(values, field.key) ? values[field.key] : undefined;
    const value = given === undefined || given === null || given === '' ? field.default : given;
    if (value === undefined || value === '') {
      out.missing.push(field.key);
      continue;
    }
    const problem = valueProblem(field, value);
    if (problem) out.problems.push({ key: field.key, message: problem });
    else (field.secret ? out.secret : out.readable)[field.key] = value as string;
  }
  return out;
}

function valueProblem(field: TemplateInput, value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > MAX_INPUT_LENGTH) return `must be at most ${MAX_INPUT_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  switch (field.type ?? 'text') {
    case 'hostname_label':
      if (!isDnsLabel(value))
        return 'must be a single host name label (letters, digits and inner hyphens, at most 63)';
      break;
    case 'url':
      if (!URL.canParse(value) || new URL(value).protocol !== 'https:')
        return 'must be an https URL';
      break;
    case 'text':
    case 'password':
      break;
  }
  if (field.pattern) {
    let re = patterns.get(field);
    if (!re) {
      re = new RegExp(`^(?:${field.pattern})$`, 'u');
      patterns.set(field, re);
    }
    if (!re.test(value)) return `does not match the expected format (${field.pattern})`;
  }
  return null;
}
