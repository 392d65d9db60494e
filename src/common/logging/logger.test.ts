import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { createLogger, redactPath, requestIdOf } from './logger.js';

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('trace', { write: (l: string) => void lines.push(l) }) };
}

describe(createLogger.name, () => {
  it('redacts secrets by key and database statement parameters inside logged errors', () => {
    const { lines, logger } = capture();
    const err = Object.assign(new Error('insert failed'), {
      parameters: ['plain-secret-1'],
      driverError: { parameters: ['plain-secret-2'] },
    });
    logger.error(
      { err, clientSecret: 'plain-secret-3', nested: { accessToken: 'plain-secret-4' } },
      'failed',
    );
    const out = lines.join('');
    for (const s of ['plain-secret-1', 'plain-secret-2', 'plain-secret-3', 'plain-secret-4'])
      expect(out).not.toContain(s);
    expect(out).toContain('insert failed');
  });

  it('redacts the authorization-code flow: verifier, consent binding, CSRF token, redirect Location', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        code_verifier: 'plain-secret-5',
        form: { consent: 'plain-secret-6', _csrf: 'plain-secret-7' },
        res: { headers: { location: 'https://app.example/cb?code=lkc_plain-secret-8' } },
        err: { code: 'ECONNRESET' },
      },
      'authorize',
    );
    const out = lines.join('');
    for (const s of ['plain-secret-5', 'plain-secret-6', 'plain-secret-7', 'plain-secret-8'])
      expect(out).not.toContain(s);
    // Error codes are not secrets: "code" alone stays readable.
    expect(out).toContain('ECONNRESET');
  });
});

describe(redactPath.name, () => {
  it('hides the bearer token in connect links and leaves other paths alone', () => {
    expect(redactPath('/connect/abc123SECRET')).toBe('/connect/[redacted]');
    expect(redactPath('/connect/abc123SECRET/start')).toBe('/connect/[redacted]/start');
    expect(redactPath('/invitations/0e3b.SECRET')).toBe('/invitations/[redacted]');
    // The router matches paths case-insensitively, so the secret is served under these too.
    expect(redactPath('/Invitations/0e3b.SECRET')).toBe('/invitations/[redacted]');
    expect(redactPath('/CONNECT/abc123SECRET')).toBe('/connect/[redacted]');
    expect(redactPath('/api/v1/connections')).toBe('/api/v1/connections');
  });
});

describe(requestIdOf.name, () => {
  const withId = (id?: string | string[]) =>
    ({ headers: id === undefined ? {} : { 'x-request-id': id } }) as IncomingMessage;

  it('keeps a well-formed incoming id', () => {
    expect(requestIdOf(withId('caller-req.1_A'))).toBe('caller-req.1_A');
  });

  it('makes a new UUID when the incoming id is missing, repeated, too long or could forge a log line', () => {
    for (const bad of [
      undefined,
      ['a', 'b'],
      'x'.repeat(65),
      'a b',
      'a\nlevel=error',
      '',
      'Ümlaut',
    ]) {
      expect(requestIdOf(withId(bad))).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
  });
});
