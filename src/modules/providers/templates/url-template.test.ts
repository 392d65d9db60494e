import { describe, expect, it } from 'vitest';
import { placeholderValues } from './placeholders.js';
import { compileUrl, isDnsLabel, renderUrl } from './url-template.js';

const config = (configuration: Record<string, string>, credentials: Record<string, string> = {}) =>
  placeholderValues({ configuration, credentials });

describe(compileUrl.name, () => {
  it('records the position of every placeholder', () => {
    expect(
      compileUrl('https://{{shop}}.myshopify.com/admin/{{version}}/x?id=[[uid]]').placeholders,
    ).toEqual([
      { kind: 'config', key: 'shop', position: 'host_label' },
      { kind: 'config', key: 'version', position: 'path' },
      { kind: 'credential', key: 'uid', position: 'query' },
    ]);
    expect(compileUrl('{{instance_url}}/services/data').placeholders).toEqual([
      { kind: 'config', key: 'instance_url', position: 'origin' },
    ]);
  });

  it.each([
    ['a credential in the host', 'https://[[accessToken]].example.com/'],
    ['part of a host label', 'https://api-{{region}}.example.com/'],
    ['a placeholder after a literal label part', 'https://{{region}}x.example.com/'],
    ['the port', 'https://api.example.com:{{port}}/'],
    ['userinfo', 'https://{{user}}@api.example.com/'],
    ['the scheme', '{{scheme}}://api.example.com/'],
    ['the fragment', 'https://api.example.com/x#{{frag}}'],
    ['instance_url after the start', 'https://api.example.com/{{instance_url}}'],
    ['instance_url glued to text', '{{instance_url}}.evil.com/x'],
    ['two placeholders in a row', 'https://api.example.com/{{a}}{{b}}'],
    ['no scheme', 'api.example.com/{{a}}'],
  ])('refuses a placeholder in %s', (_why, source) => {
    expect(() => compileUrl(source)).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^template\.(placement|syntax)$/) }),
    );
  });
});

describe(renderUrl.name, () => {
  const shop = compileUrl('https://{{subdomain}}.myshopify.com/admin/products/{{id}}?q={{q}}');

  it('renders a whole host label and encodes path and query values', () => {
    expect(renderUrl(shop, config({ subdomain: 'Acme-Shop', id: 'a b', q: 'x&y=z' }))).toBe(
      'https://acme-shop.myshopify.com/admin/products/a%20b?q=x%26y%3Dz',
    );
  });

  it.each([
    ['a path and a new host', 'evil.com/'],
    ['a dot (another label)', 'a.b'],
    ['userinfo', 'a@b'],
    ['a CRLF', 'x\r\nY: z'],
    ['a unicode lookalike', 'аcme'], // Cyrillic а
    ['an empty value', ''],
    ['a leading hyphen', '-acme'],
    ['a 64-character label', 'a'.repeat(64)],
    ['a percent-encoded dot', 'a%2eb'],
  ])('refuses %s as a host label', (_why, subdomain) => {
    expect(() => renderUrl(shop, config({ subdomain, id: '1', q: '' }))).toThrow(
      expect.objectContaining({
        code: 'template.unsafe_value',
        details: { key: 'subdomain', source: 'config', position: 'host_label' },
      }),
    );
  });

  it.each([
    ['../', '..%2F'],
    ['..', null],
    ['.', null],
    ['%2e%2e', '%252e%252e'],
    ['a/b?c#d', 'a%2Fb%3Fc%23d'],
    ['a@b', 'a%40b'],
    ['x\r\nY: z', 'x%0D%0AY%3A%20z'],
    ['ünï', '%C3%BCn%C3%AF'],
  ])('keeps the path value %j inside one segment', (id, encoded) => {
    const values = config({ subdomain: 'acme', id, q: '' });
    if (encoded === null) {
      expect(() => renderUrl(shop, values)).toThrow(
        expect.objectContaining({
          code: 'template.unsafe_value',
          details: expect.objectContaining({ position: 'path' }),
        }),
      );
      return;
    }
    const url = new URL(renderUrl(shop, values));
    expect(url.host).toBe('acme.myshopify.com');
    expect(url.pathname).toBe(`/admin/products/${encoded}`);
  });

  it('refuses a value that would make a dot segment with the literal around it', () => {
    const url = compileUrl('https://api.example.com/x/.{{a}}/y');
    expect(() => renderUrl(url, config({ a: '.' }))).toThrow(/path segment/);
    expect(renderUrl(url, config({ a: 'b' }))).toBe('https://api.example.com/x/.b/y');
  });

  it('refuses an empty value that is a whole path segment', () => {
    const url = compileUrl('https://api.example.com/users/{{id}}/x');
    expect(() => renderUrl(url, config({ id: '' }))).toThrow(/path segment/);
  });

  it('encodes query values as one component', () => {
    const url = compileUrl('https://api.example.com/s?a={{a}}&b=1');
    expect(new URL(renderUrl(url, config({ a: '1&b=2#frag' }))).searchParams.getAll('b')).toEqual([
      '1',
    ]);
  });

  describe('{{instance_url}}', () => {
    const base = compileUrl('{{instance_url}}/services/data/v62.0');

    it('renders the normalized origin and the literal path', () => {
      expect(renderUrl(base, config({ instance_url: 'https://Acme.my.salesforce.com/' }))).toBe(
        'https://acme.my.salesforce.com/services/data/v62.0',
      );
    });

    it.each([
      ['http', 'http://acme.my.salesforce.com'],
      ['userinfo', 'https://evil.com@acme.my.salesforce.com'],
      ['a path', 'https://acme.my.salesforce.com/x'],
      ['a query', 'https://acme.my.salesforce.com?x=1'],
      ['a fragment', 'https://acme.my.salesforce.com#x'],
      ['a relative URL', 'acme.my.salesforce.com'],
      ['a newline', 'https://acme.my.salesforce.com\n'],
      ['a backslash', 'https:\\\\evil.com'],
      ['javascript', 'javascript:alert(1)'],
    ])('refuses %s', (_why, instance_url) => {
      expect(() => renderUrl(base, config({ instance_url }))).toThrow(
        expect.objectContaining({
          code: 'template.unsafe_value',
          details: expect.objectContaining({ position: 'origin' }),
        }),
      );
    });

    it('allows http on loopback only with allowInsecure', () => {
      const values = config({ instance_url: 'http://127.0.0.1:8080' });
      expect(() => renderUrl(base, values)).toThrow(/https origin/);
      expect(renderUrl(base, values, { allowInsecure: true })).toBe(
        'http://127.0.0.1:8080/services/data/v62.0',
      );
      expect(() =>
        renderUrl(base, config({ instance_url: 'http://evil.example' }), { allowInsecure: true }),
      ).toThrow(/https origin/);
    });
  });

  it('names the missing key instead of rendering "undefined"', () => {
    expect(() => renderUrl(shop, config({ subdomain: 'acme', q: '' }))).toThrow(
      expect.objectContaining({
        code: 'template.missing_value',
        details: { key: 'id', source: 'config' },
      }),
    );
  });

  it('never puts a value into its error message', () => {
    try {
      renderUrl(shop, config({ subdomain: 'secret-token.evil', id: '1', q: '' }));
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-token');
    }
  });
});

describe(isDnsLabel.name, () => {
  it('accepts letters, digits and inner hyphens up to 63 characters', () => {
    expect(['a', 'A1', 'my-shop', '0', 'a'.repeat(63)].every(isDnsLabel)).toBe(true);
    expect(['', '-a', 'a-', 'a_b', 'a.b', 'ä', ' a', 'a'.repeat(64)].some(isDnsLabel)).toBe(false);
  });
});
