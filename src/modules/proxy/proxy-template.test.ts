import { describe, expect, it } from 'vitest';
import { withTemplateQuery } from './proxy-template.js';

describe(withTemplateQuery.name, () => {
  const names = new Set(['api_key']);

  it("appends the template's pairs after the caller's", () => {
    expect(withTemplateQuery('', 'api_key=k', names)).toBe('api_key=k');
    expect(withTemplateQuery('a=1&b=%2F', 'api_key=k', names)).toBe('a=1&b=%2F&api_key=k');
  });

  it("drops the caller's parameters of the template's names, however they are encoded", () => {
    expect(withTemplateQuery('api_key=mine&a=1&api%5Fkey=x&api_key', 'api_key=k', names)).toBe(
      'a=1&api_key=k',
    );
  });

  it('keeps pairs whose names are malformed or merely similar', () => {
    expect(withTemplateQuery('%E0%A4%A=1&api_keys=2&&', 'api_key=k', names)).toBe(
      '%E0%A4%A=1&api_keys=2&api_key=k',
    );
  });
});
