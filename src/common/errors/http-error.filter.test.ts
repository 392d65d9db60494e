import type { ArgumentsHost } from '@nestjs/common';
import { NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { DomainError, OAuthProtocolError } from './domain-error.js';
import { HttpErrorFilter, statusForKind } from './http-error.filter.js';

function run(exception: unknown) {
  const logs: string[] = [];
  const filter = new HttpErrorFilter(
    createLogger('error', { write: (l: string) => void logs.push(l) }),
  );
  // A minimal node:http ServerResponse: what the error writer uses.
  const res = {
    statusCode: 0,
    body: undefined as unknown,
    headers: {} as Record<string, string | number>,
    headersSent: false,
    setHeader(name: string, value: string | number) {
      this.headers[name.toLowerCase()] = value;
    },
    getHeader(name: string) {
      return this.headers[name.toLowerCase()];
    },
    end(text: string) {
      this.body = JSON.parse(text);
    },
  };
  const host = {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => ({ id: 'r1' }) }),
  } as unknown as ArgumentsHost;
  filter.catch(exception, host);
  return { res, logs };
}

describe(HttpErrorFilter.name, () => {
  describe('catch', () => {
    it("maps a domain error to its kind's status with code, message and details", () => {
      const { res } = run(new DomainError('thing.conflict', 'conflict', 'Busy.', { id: 'x' }));
      expect(res.statusCode).toBe(409);
      expect(res.body).toEqual({
        error: { code: 'thing.conflict', message: 'Busy.', details: { id: 'x' }, requestId: 'r1' },
      });
    });

    it('sends Retry-After for a domain error that says when to try again', () => {
      const { res } = run(new DomainError('thing.busy', 'unavailable', 'Later.', undefined, 17));
      expect([res.statusCode, res.headers['retry-after']]).toEqual([503, '17']);
      expect(
        run(new DomainError('thing.busy', 'unavailable', 'Later.')).res.headers,
      ).not.toHaveProperty('retry-after');
    });

    it('answers an unexpected error with a bare 500 and logs it, revealing no internals', () => {
      const { res, logs } = run(new Error('connection to 10.0.0.5 failed: password=hunter2'));
      expect(res.statusCode).toBe(500);
      expect(res.body).toEqual({
        error: { code: 'internal', message: 'An internal error occurred.', requestId: 'r1' },
      });
      expect(logs.join('')).toContain('request failed');
    });

    it('renders OAuth protocol errors in RFC 6749 form, with WWW-Authenticate for Basic', () => {
      const { res } = run(
        new OAuthProtocolError('invalid_client', 'Client authentication failed.', true),
      );
      expect(res.statusCode).toBe(401);
      expect(res.body).toEqual({
        error: 'invalid_client',
        error_description: 'Client authentication failed.',
      });
      expect(res.headers['www-authenticate']).toMatch(/^Basic/);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('maps framework 404s to route.not_found', () => {
      expect(run(new NotFoundException()).res.body).toMatchObject({
        error: { code: 'route.not_found' },
      });
    });
  });

  describe(statusForKind.name, () => {
    it('gives every kind a distinct, fitting status', () => {
      expect(statusForKind('invalid')).toBe(400);
      expect(statusForKind('unprocessable')).toBe(422);
      expect(statusForKind('upstream_timeout')).toBe(504);
    });
  });
});
