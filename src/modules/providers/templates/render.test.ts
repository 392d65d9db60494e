import { describe, expect, it } from 'vitest';
import { compilePlaceholders, placeholderValues } from './placeholders.js';
import {
  bodyStrings,
  compileBody,
  compilePairs,
  renderBody,
  renderHeader,
  renderQuery,
} from './render.js';

const values = placeholderValues({
  credentials: { accessToken: 'tok', apiKey: 'k' },
  configuration: { shop: 'acme' },
});

describe(renderHeader.name, () => {
  it('renders credentials and configuration into a header value', () => {
    expect(renderHeader(compilePlaceholders('Bearer [[accessToken]]'), values)).toBe('Bearer tok');
  });

  it.each([
    ['CRLF', 'x\r\nY: z'],
    ['LF', 'x\nY: z'],
    ['NUL', 'x\u0000'],
    ['tab', 'x\ty'],
    ['DEL', 'x\u007f'],
    ['a character beyond Latin-1', 'x\u2028'],
  ])('refuses a value holding %s', (_why, accessToken) => {
    const hostile = placeholderValues({ credentials: { accessToken } });
    expect(() => renderHeader(compilePlaceholders('Bearer [[accessToken]]'), hostile)).toThrow(
      expect.objectContaining({
        code: 'template.unsafe_value',
        details: { key: 'accessToken', source: 'credential', position: 'header' },
      }),
    );
  });

  it('refuses a missing value by name', () => {
    expect(() => renderHeader(compilePlaceholders('[[nope]]'), values)).toThrow(/\[\[nope\]\]/);
  });
});

describe(renderQuery.name, () => {
  it('encodes names and values as query components', () => {
    const pairs = compilePairs({ shop: '{{shop}}', q: 'a&b=[[apiKey]]' });
    expect(renderQuery(pairs, values)).toBe('shop=acme&q=a%26b%3Dk');
  });
});

describe(renderBody.name, () => {
  it('renders JSON with every value as a JSON string, never spliced into raw JSON', () => {
    const body = compileBody({
      url: '{{shop}}',
      nested: { list: ['[[accessToken]]', 1, true, null] },
    });
    const hostile = placeholderValues({
      credentials: { accessToken: '","admin":true,"x":"' },
      configuration: { shop: '"}' },
    });
    expect(JSON.parse(renderBody(body, hostile, 'json'))).toEqual({
      url: '"}',
      nested: { list: ['","admin":true,"x":"', 1, true, null] },
    });
  });

  it('renders a form body through URLSearchParams', () => {
    const body = compileBody({ token: '[[accessToken]]&admin=1', n: 2, flag: false });
    expect(renderBody(body, values, 'form')).toBe('token=tok%26admin%3D1&n=2&flag=false');
  });

  it('refuses nested values in a form body', () => {
    expect(() => renderBody(compileBody({ a: { b: 'c' } }), values, 'form')).toThrow(/flat/);
  });
});

describe(bodyStrings.name, () => {
  it('lists each template string with its JSON Pointer', () => {
    const strings = [...bodyStrings(compileBody({ a: 'x', 'b/c': ['y', 1] }))].map(([p, s]) => [
      p,
      s.source,
    ]);
    expect(strings).toEqual([
      ['/a', 'x'],
      ['/b~1c/0', 'y'],
    ]);
  });
});
