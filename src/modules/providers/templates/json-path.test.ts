import { describe, expect, it } from 'vitest';
import { applyMapping, compileJsonPath, compileMapping, readJsonPath } from './json-path.js';

describe(compileJsonPath.name, () => {
  it('parses dots, indexes and quoted names', () => {
    expect(compileJsonPath('$.a[0][\'weird-key\']["x\\"y"].b').steps).toEqual([
      { kind: 'key', key: 'a' },
      { kind: 'index', index: 0 },
      { kind: 'key', key: 'weird-key' },
      { kind: 'key', key: 'x"y' },
      { kind: 'key', key: 'b' },
    ]);
    expect(compileJsonPath('$').steps).toEqual([]);
  });

  it.each([
    'a.b',
    '$.',
    '$..a',
    '$[*]',
    '$[?(@.x)]',
    '$.a[01]',
    "$['a'",
    '$.a b',
    '$[-1]',
    '$.constructor(1)',
  ])('refuses %j', (path) => {
    expect(() => compileJsonPath(path)).toThrow(
      expect.objectContaining({ code: 'template.syntax' }),
    );
  });
});

describe(readJsonPath.name, () => {
  it('walks own properties only', () => {
    expect(readJsonPath(compileJsonPath('$.constructor'), {})).toBeUndefined();
    expect(readJsonPath(compileJsonPath('$.__proto__'), {})).toBeUndefined();
    expect(readJsonPath(compileJsonPath('$.length'), 'abc')).toBeUndefined();
    expect(readJsonPath(compileJsonPath('$[0]'), { 0: 'x' })).toBeUndefined();
    expect(readJsonPath(compileJsonPath('$.a[1]'), { a: ['x'] })).toBeUndefined();
  });
});

describe(applyMapping.name, () => {
  it('reads a Slack-like nested token response', () => {
    const slack = {
      ok: true,
      access_token: 'xoxb-bot',
      team: { id: 'T1', name: 'Acme' },
      authed_user: { id: 'U1', access_token: 'xoxp-user', scope: 'chat:write' },
    };
    expect(
      applyMapping(
        { accessToken: '$.authed_user.access_token', uid: '$.authed_user.id', teamId: '$.team.id' },
        slack,
      ),
    ).toEqual({ accessToken: 'xoxp-user', uid: 'U1', teamId: 'T1' });
  });

  it('reads a Notion-like owner and a weird key', () => {
    const notion = {
      access_token: 'secret_x',
      'workspace-id': 'w1',
      owner: { type: 'user', user: { id: 'n1', person: { email: 'a@example.com' } } },
    };
    expect(
      applyMapping(
        {
          uid: '$.owner.user.id',
          email: '$.owner.user.person.email',
          workspaceId: "$['workspace-id']",
        },
        notion,
      ),
    ).toEqual({ uid: 'n1', email: 'a@example.com', workspaceId: 'w1' });
  });

  it('turns numbers into strings except for numeric keys, which also accept numeric strings', () => {
    const mapping = compileMapping(
      { uid: '$.id', expiresIn: '$.expires_in', other: '$.n' },
      { numeric: ['expiresIn'] },
    );
    expect(applyMapping(mapping, { id: 123, expires_in: 3600, n: 1.5 })).toEqual({
      uid: '123',
      expiresIn: 3600,
      other: '1.5',
    });
    expect(applyMapping(mapping, { id: 'x', expires_in: '7200' })).toEqual({
      uid: 'x',
      expiresIn: 7200,
    });
  });

  it('leaves out optional keys that find nothing or null', () => {
    expect(applyMapping({ a: '$.a', b: '$.b.c' }, { a: null })).toEqual({});
  });

  it('throws a typed error naming the path when a required key is missing', () => {
    expect(() => applyMapping({ uid: '$.user.id' }, { user: {} }, { required: ['uid'] })).toThrow(
      expect.objectContaining({
        code: 'template.mapping_missing',
        details: { key: 'uid', path: '$.user.id' },
      }),
    );
  });

  it('refuses objects, arrays and booleans without echoing them', () => {
    for (const value of [{ token: 's3cret' }, ['s3cret'], true]) {
      try {
        applyMapping({ uid: '$.v' }, { v: value });
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({ code: 'template.mapping_type', details: { key: 'uid' } });
        expect((error as Error).message).not.toContain('s3cret');
      }
    }
    expect(() =>
      applyMapping({ expiresIn: '$.e' }, { e: 'soon' }, { numeric: ['expiresIn'] }),
    ).toThrow(/not a number/);
  });
});
