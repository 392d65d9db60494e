import { describe, expect, it } from 'vitest';
import {
  compilePlaceholders,
  placeholderValues,
  placeholdersOf,
  SYSTEM_KEYS,
  valueOf,
} from './placeholders.js';
import { TemplateError } from './template-errors.js';

describe(compilePlaceholders.name, () => {
  it('splits literals, [[credential]] and {{config}} placeholders in order', () => {
    expect(compilePlaceholders('Bearer [[accessToken]] for {{shop}}!').segments).toEqual([
      { kind: 'literal', text: 'Bearer ' },
      { kind: 'credential', key: 'accessToken' },
      { kind: 'literal', text: ' for ' },
      { kind: 'config', key: 'shop' },
      { kind: 'literal', text: '!' },
    ]);
  });

  it('marks a string without placeholders as constant', () => {
    expect(compilePlaceholders('application/json')).toMatchObject({ constant: true });
    expect(compilePlaceholders('')).toMatchObject({ constant: true, segments: [] });
  });

  it.each([
    ['spaces inside', '{{ shop }}'],
    ['an unclosed placeholder', 'Bearer [[accessToken'],
    ['a key starting with a digit', '{{1shop}}'],
    ['a dashed key', '[[api-key]]'],
    ['an empty key', '{{}}'],
    ['mismatched brackets', '[[accessToken}}'],
  ])('refuses %s as a syntax error', (_why, source) => {
    expect(() => compilePlaceholders(source)).toThrow(
      expect.objectContaining({ code: 'template.syntax' }),
    );
  });

  it('leaves lone closing brackets and single braces as text', () => {
    expect(compilePlaceholders('a]] b}} {c} [d]').constant).toBe(true);
  });
});

describe(placeholdersOf.name, () => {
  it('lists only the placeholders', () => {
    expect(placeholdersOf(compilePlaceholders('x[[a]]y{{b}}'))).toEqual([
      { kind: 'credential', key: 'a' },
      { kind: 'config', key: 'b' },
    ]);
  });
});

describe(placeholderValues.name, () => {
  it('lets credentials win over metadata and system values over configuration', () => {
    const values = placeholderValues({
      credentials: { storeId: 'from-credentials' },
      metadata: { storeId: 'from-metadata', uid: 'u1' },
      configuration: { client_id: 'user-typed', shop: 'acme' },
      system: { client_id: 'real-client' },
    });
    expect(valueOf(values, 'credential', 'storeId')).toBe('from-credentials');
    expect(valueOf(values, 'credential', 'uid')).toBe('u1');
    expect(valueOf(values, 'config', 'client_id')).toBe('real-client');
    expect(valueOf(values, 'config', 'shop')).toBe('acme');
  });
});

describe(valueOf.name, () => {
  const values = placeholderValues({ credentials: { n: 42, empty: '' }, configuration: {} });

  it('turns numbers into strings and keeps empty strings', () => {
    expect(valueOf(values, 'credential', 'n')).toBe('42');
    expect(valueOf(values, 'credential', 'empty')).toBe('');
  });

  it('throws a typed error naming the key, not rendering "undefined"', () => {
    const error = (() => {
      try {
        valueOf(values, 'config', 'shop');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toMatchObject({
      code: 'template.missing_value',
      details: { key: 'shop', source: 'config' },
    });
    expect((error as Error).message).toContain('{{shop}}');
  });

  it('never reads inherited properties such as constructor', () => {
    expect(() => valueOf(values, 'config', 'constructor')).toThrow(
      /No value for \{\{constructor\}\}/,
    );
    expect(() => valueOf(values, 'credential', 'toString')).toThrow(TemplateError);
  });
});

describe('SYSTEM_KEYS', () => {
  it('documents every system key and where it has a value', () => {
    for (const [key, spec] of Object.entries(SYSTEM_KEYS)) {
      expect(key).toMatch(/^[a-z_]+$/);
      expect(spec.description.length).toBeGreaterThan(10);
      expect(spec.contexts.length).toBeGreaterThan(0);
    }
    expect(Object.keys(SYSTEM_KEYS)).not.toContain('client_secret');
  });
});
