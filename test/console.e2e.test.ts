import { request as httpRequest } from 'node:http';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserRole } from '../src/modules/users/user.entity.js';
import { UsersService } from '../src/modules/users/users.service.js';
import { createTestApp, type TestApp } from './support/app.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const DEVELOPER = { email: 'console-dev@example.test', password: 'developer password 2' };
const PAGES = [
  '/oauth',
  '/oauth/create',
  '/oauth/4b0c7a52-4f0e-4a51-9d57-0c2f7f8f1a11',
  '/settings/oauth-apps',
  '/settings/events',
  '/settings/webhooks',
  '/settings/authorized-apps',
  '/settings/webhooks/4b0c7a52-4f0e-4a51-9d57-0c2f7f8f1a11',
  '/admin/offerings',
];

/** A GET with the path sent byte for byte (supertest/URL would normalize `..` away). */
function rawGet(
  base: string,
  path: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web console', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    const users = t.app.get(UsersService);
    const [ws]: Array<{ id: string }> = await t.dataSource.query(
      `SELECT id FROM workspaces WHERE slug = 'default'`,
    );
    await users.create({
      email: DEVELOPER.email,
      password: t.secret(DEVELOPER.password),
      role: UserRole.Developer,
      workspaceIds: [ws.id],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  async function signIn(email: string, password: string) {
    const agent = supertest.agent(t.url);
    const form = await agent.get('/login');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, email, password });
    expect(res.status).toBe(303);
    return agent;
  }

  describe('shell pages', () => {
    it('sends a visitor without a session to sign in, and back to the page afterwards', async () => {
      for (const path of PAGES) {
        const res = await supertest(t.url).get(path);
        expect(res.status).toBe(303);
        expect(res.headers.location).toBe(`/login?next=${encodeURIComponent(path)}`);
      }
      const withQuery = await supertest(t.url).get('/oauth?x=1');
      expect(withQuery.headers.location).toBe('/login?next=%2Foauth%3Fx%3D1');
      const login = await supertest(t.url).get('/login?next=%2Fsettings%2Foauth-apps');
      expect(login.text).toContain('name="next" value="/settings/oauth-apps"');
    });

    it('serves every page to a signed-in admin with a strict CSP, no-store and the CSRF token', async () => {
      const agent = await signIn(ADMIN.email, ADMIN.password);
      expect((await agent.get('/')).headers.location).toBe('/oauth');
      for (const path of PAGES) {
        const res = await agent.get(path);
        expect(res.status, path).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.headers['cache-control']).toBe('no-store');
        const csp = res.headers['content-security-policy'] as string;
        for (const directive of [
          "default-src 'self'",
          "script-src 'self'",
          "frame-ancestors 'none'",
          "base-uri 'none'",
          "form-action 'self'",
        ]) {
          expect(csp).toContain(directive);
        }
        expect(csp).not.toContain('unsafe-inline');
        expect(res.text).toMatch(/<meta name="csrf-token" content="[0-9a-f]{64}">/);
        expect(res.text).toContain('<script type="module" src="/assets/console/app.js"></script>');
        expect(res.text).not.toMatch(/<script>|<style>| style="/); // nothing inline
        expect(res.text).toContain(ADMIN.email);
        expect(res.text).toContain('href="/admin/offerings"');
        expect(res.text).toMatch(/<form method="post" action="\/logout"/);
      }
      const detail = await agent.get(PAGES[2]);
      expect(detail.text).toContain('data-integration-id="4b0c7a52-4f0e-4a51-9d57-0c2f7f8f1a11"');
      const create = await agent.get('/oauth/create');
      expect(create.text).toContain(`data-callback-url="${t.url}/oauth/callback"`);
    });

    it('uses the CSRF token the API accepts', async () => {
      const agent = await signIn(ADMIN.email, ADMIN.password);
      const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(
        (await agent.get('/oauth')).text,
      )![1];
      const res = await agent
        .post('/api/v1/oauth-apps')
        .set('X-CSRF-Token', csrf)
        .send({ description: 'from the shell token' });
      expect(res.status).toBe(201);
      t.secret(res.body.clientSecret);
    });

    it('answers 404 for a detail path that is not an integration id, without shadowing the callback', async () => {
      const agent = await signIn(ADMIN.email, ADMIN.password);
      expect((await agent.get('/oauth/not-an-id')).status).toBe(404);
      const callback = await agent.get('/oauth/callback?state=nope&code=x');
      expect(callback.status).toBe(400); // the connect module's page, not the console's
    });

    it('hides the Offerings page from a developer: no nav link, 403 page', async () => {
      const agent = await signIn(DEVELOPER.email, DEVELOPER.password);
      const list = await agent.get('/oauth');
      expect(list.status).toBe(200);
      expect(list.text).not.toContain('href="/admin/offerings"');
      expect(list.text).toContain(DEVELOPER.email);
      const admin = await agent.get('/admin/offerings');
      expect(admin.status).toBe(403);
      expect(admin.headers['content-security-policy']).toContain("default-src 'self'");
      expect(admin.text).toContain('Not allowed');
      expect(admin.text).not.toContain('data-page="offerings"');
    });

    it('gives the sign-in page the console look under the same CSP', async () => {
      const res = await supertest(t.url).get('/login');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.text).toContain('<link rel="stylesheet" href="/assets/console.css">');
      expect(res.text).not.toMatch(/<style>/);
    });
  });

  describe('static files', () => {
    it('serves console assets with their content type, nosniff and revalidation', async () => {
      const css = await supertest(t.url).get('/assets/console.css');
      expect(css.status).toBe(200);
      expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
      expect(css.headers['x-content-type-options']).toBe('nosniff');
      expect(css.headers['cache-control']).toBe('no-cache');
      const etag = css.headers.etag as string;
      expect(etag).toMatch(/^"[\w-]+"$/);
      const again = await supertest(t.url).get('/assets/console.css').set('If-None-Match', etag);
      expect(again.status).toBe(304);

      for (const path of [
        '/assets/console/app.js',
        '/assets/console/api.js',
        '/assets/console/pages/integration-detail.js',
      ]) {
        const js = await supertest(t.url).get(path);
        expect(js.status, path).toBe(200);
        expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
        expect(js.headers['x-content-type-options']).toBe('nosniff');
      }
      const head = await supertest(t.url).head('/assets/console/app.js');
      expect(head.status).toBe(200);
    });

    it('answers 404 for unknown files and every traversal attempt', async () => {
      const attempts = [
        '/assets/nope.js',
        '/assets/',
        '/assets/../package.json',
        '/assets/console/../../../package.json',
        '/assets/%2e%2e/%2e%2e/package.json',
        '/assets/%2E%2E%2F%2E%2E%2Fpackage.json',
        '/assets/console%2fapp.js',
        '/assets/..%2f..%2fpackage.json',
        '/assets/..\\..\\package.json',
        '/assets/%5c..%5c..%5cpackage.json',
        '/assets/console\\app.js',
        '/sdk/../assets/console.css',
        '/sdk/.gitkeep',
        '/assets/console.css%00.js',
        '/assets//etc/passwd',
      ];
      for (const path of attempts) {
        const res = await rawGet(t.url, path);
        expect(res.status, path).toBe(404);
        expect(res.body, path).not.toContain('"name": "latchkey"');
        expect(res.body, path).not.toContain('--accent');
      }
    });
  });
});
