import { describe, expect, it } from 'vitest';
import { checkInputs } from './inputs.js';
import type { TemplateInput } from './template.schema.js';

const shop: TemplateInput = { key: 'shop', label: 'Shop', type: 'hostname_label' };
const region: TemplateInput = { key: 'region', label: 'Region', pattern: 'eu|us' };
const secret: TemplateInput = { key: 'signingKey', label: 'Signing key', secret: true };

describe(checkInputs.name, () => {
  it('splits valid values into readable and secret ones and lists the missing', () => {
    const r = checkInputs([shop, region, secret], { shop: 'Acme-1', signingKey: 's3cr3t' });
    expect(r).toEqual({
      readable: { shop: 'Acme-1' },
      secret: { signingKey: 's3cr3t' },
      missing: ['region'],
      problems: [],
    });
  });

  it.each([
    ['evil.com/x', 'a dot or slash'],
    ['a.evil.com', 'a dot'],
    ['shop@evil.com', 'userinfo'],
    ['-shop', 'a leading hyphen'],
    ['x'.repeat(64), 'more than 63 characters'],
    ['shop\r\nX-Injected: 1', 'CR/LF'],
    ['..', 'a dot segment'],
  ])('refuses a hostname label with %s (%s)', (value) => {
    const r = checkInputs([shop], { shop: value });
    expect(r.problems.map((p) => p.key)).toEqual(['shop']);
    expect(r.readable).toEqual({});
  });

  it("uses an input's default when no value is given", () => {
    const tenant: TemplateInput = { key: 'tenant', label: 'Tenant', default: 'common' };
    expect(checkInputs([tenant], {}).readable).toEqual({ tenant: 'common' });
    expect(checkInputs([tenant], { tenant: '' }).readable).toEqual({ tenant: 'common' });
    expect(checkInputs([tenant], { tenant: 'contoso' }).readable).toEqual({ tenant: 'contoso' });
    expect(checkInputs([tenant], {}).missing).toEqual([]);
  });

  it('matches patterns against the whole value', () => {
    expect(checkInputs([region], { region: 'eu' }).problems).toEqual([]);
    expect(checkInputs([region], { region: 'europe' }).problems).toHaveLength(1);
    expect(checkInputs([region], { region: 'xeu' }).problems).toHaveLength(1);
  });

  it('refuses undeclared keys and values that are not strings', () => {
    const r = checkInputs([shop], { shop: 42, extra: 'x' });
    expect(r.problems.map((p) => p.key).sort()).toEqual(['extra', 'shop']);
  });

  it('refuses a body that is not an object', () => {
    expect(checkInputs([shop], 'shop').problems).toHaveLength(1);
    expect(checkInputs([shop], ['x']).problems).toHaveLength(1);
  });
});
