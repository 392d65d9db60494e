import { describe, expect, it } from 'vitest';
import { createLogger, redactPath } from './logger.js';

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('trace', { write: (l: string) => void lines.push(l) }) };
}

describe(createLogger.name, () => {
  it('redacts secrets by key and database statement parameters inside logged errors', () => {
    const { lines, logger } = capture();
    const err = Object.assign(new Error('insert failed'), { parameters: ['plain-secret-1'], driverError: { parameters: ['plain-secret-2'] } });
    logger.error({ err, clientSecret: 'plain-secret-3', nested: { accessToken: 'plain-secret-4' } }, 'failed');
    const out = lines.join('');
    for (const s of ['plain-secret-1', 'plain-secret-2', 'plain-secret-3', 'plain-secret-4']) expect(out).not.toContain(s);
    expect(out).toContain('insert failed');
  });
});

describe(redactPath.name, () => {
  it('hides the bearer token in connect links and leaves other paths alone', () => {
    expect(redactPath('/connect/abc123SECRET')).toBe('/connect/[redacted]');
    expect(redactPath('/connect/abc123SECRET/start')).toBe('/connect/[redacted]/start');
    expect(redactPath('/api/v1/connections')).toBe('/api/v1/connections');
  });
});
