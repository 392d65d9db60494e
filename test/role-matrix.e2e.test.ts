import { randomUUID } from 'node:crypto';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ROUTE, REQUIRED_SCOPES } from '../src/common/auth/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { ADMIN, member, signIn, type SignedIn } from './support/members.js';

/**
 * What each role may do, written out here rather than imported: the matrix checks the product's
 * rule ("viewer: read-only everywhere") against what the server really answers.
 */
const VIEWER = ['offerings:read', 'integrations:read', 'connections:read', 'events:read'];
const DEVELOPER = [
  ...VIEWER,
  'integrations:write',
  'connections:write',
  'tokens:read',
  'proxy',
  'apps:write',
  'webhooks:write',
];
const ADMIN_ROLE = [...DEVELOPER, 'members:write'];
const PLATFORM_ADMIN = [...ADMIN_ROLE, 'offerings:write', 'workspaces:write'];
const ROLES = { viewer: VIEWER, developer: DEVELOPER, admin: ADMIN_ROLE, platform: PLATFORM_ADMIN };

interface Route {
  method: string;
  path: string;
  scopes: string[];
}

/** Every /api route Nest serves, with the scopes it declares: a new route cannot be forgotten. */
function apiRoutes(t: TestApp): Route[] {
  const routes: Route[] = [];
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (!type) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, type) ?? '');
      const proto = type.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (sub === undefined || method === undefined) continue;
        const path = `/${[base, sub].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/');
        if (!path.startsWith('/api/')) continue;
        if (Reflect.getMetadata(PUBLIC_ROUTE, handler) ?? Reflect.getMetadata(PUBLIC_ROUTE, type))
          continue;
        const scopes =
          (Reflect.getMetadata(REQUIRED_SCOPES, handler) as string[] | undefined) ??
          (Reflect.getMetadata(REQUIRED_SCOPES, type) as string[] | undefined) ??
          [];
        routes.push({ method: RequestMethod[method], path, scopes });
      }
    }
  }
  // Not here: the proxy (an Express handler outside Nest's router, scope `proxy`), which takes
  // Bearer tokens only and so is never reached with a console session.
  return routes;
}

describe('role matrix: every API route for every role', () => {
  let t: TestApp;
  const who: Record<string, SignedIn> = {};
  beforeAll(async () => {
    t = await createTestApp();
    who.platform = await signIn(t, ADMIN.email, ADMIN.password);
    for (const role of ['viewer', 'developer', 'admin'] as const) who[role] = await member(t, role);
  });
  afterAll(async () => {
    await t.close();
  });

  it('finds the routes, including the ones people and access added', () => {
    const routes = apiRoutes(t).map((r) => `${r.method} ${r.path}`);
    expect(routes.length).toBeGreaterThan(40);
    for (const r of [
      'GET /api/v1/members',
      'PATCH /api/v1/members/:userId',
      'DELETE /api/v1/members/:userId',
      'POST /api/v1/invitations',
      'GET /api/v1/invitations',
      'DELETE /api/v1/invitations/:id',
      'POST /api/v1/users/:id/disable',
      'POST /api/v1/users/:id/enable',
      'PATCH /api/v1/workspace-settings',
      'GET /api/v1/authorized-apps',
      'DELETE /api/v1/authorized-apps/:grantId',
    ])
      expect(routes).toContain(r);
  });

  it('allows a role exactly the routes its scopes cover, answers 403 otherwise and never 5xx', async () => {
    const outcomes: string[] = [];
    const unexpected: string[] = [];
    for (const route of apiRoutes(t)) {
      const url = route.path
        .replace(/:[A-Za-z]+/g, () => randomUUID())
        .replace(/\*[A-Za-z]*|\{\*[A-Za-z]+\}/g, 'x');
      for (const [role, scopes] of Object.entries(ROLES)) {
        const { agent, csrf } = who[role];
        const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
        let req = (method === 'get' ? agent.get(url) : agent[method](url)).set(
          'Accept',
          'application/json',
        );
        if (method !== 'get') req = req.set('X-CSRF-Token', csrf).send({});
        const res = await req;
        const allowed = route.scopes.every((s) => scopes.includes(s));
        const refused = res.status === 403 && res.body?.error?.code === 'auth.insufficient_scope';
        const line = `${role} ${route.method} ${route.path} → ${res.status} ${res.body?.error?.code ?? ''}`;
        outcomes.push(line);
        if (res.status >= 500 || allowed === refused || res.status === 401) unexpected.push(line);
      }
    }
    expect(unexpected).toEqual([]);
    // A few spelled out, so the matrix cannot pass by refusing or allowing everything.
    expect(outcomes).toContain('viewer POST /api/v1/integrations → 403 auth.insufficient_scope');
    expect(outcomes).toContain('developer POST /api/v1/invitations → 403 auth.insufficient_scope');
    expect(outcomes).toContain('admin POST /api/v1/workspaces → 403 auth.insufficient_scope');
    expect(outcomes).toContain('admin POST /api/v1/users/:id/enable → 403 auth.insufficient_scope');
    expect(outcomes).toContain('platform POST /api/v1/users/:id/enable → 404 user.not_found');
    expect(outcomes.some((o) => o.startsWith('viewer GET /api/v1/integrations → 200'))).toBe(true);
    expect(outcomes.some((o) => o.startsWith('admin GET /api/v1/members → 200'))).toBe(true);
    // Every person manages their own authorized apps, whatever their role.
    expect(outcomes).toContain('viewer GET /api/v1/authorized-apps → 200 ');
    expect(outcomes).toContain(
      'viewer DELETE /api/v1/authorized-apps/:grantId → 404 oauth_grant.not_found',
    );
  });
});
