import supertest from 'supertest';
import type { MemberRole } from '../../src/common/auth/scopes.js';
import { UserRole } from '../../src/modules/users/user.entity.js';
import { UsersService } from '../../src/modules/users/users.service.js';
import type { TestApp } from './app.js';

export const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };

export type Agent = ReturnType<typeof supertest.agent>;

export interface SignedIn {
  agent: Agent;
  /** The session's CSRF token, for X-CSRF-Token on unsafe API calls. */
  csrf: string;
  userId: string;
}

/** Signs in through the real form, as a browser would. */
export async function signIn(t: TestApp, email: string, password: string): Promise<SignedIn> {
  const agent = supertest.agent(t.url);
  const form = await agent.get('/login');
  const loginCsrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
  const res = await agent.post('/login').type('form').send({ _csrf: loginCsrf, email, password });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  const home = await agent.get('/settings/events');
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(home.text)![1];
  const [{ id }]: Array<{ id: string }> = await t.dataSource.query(
    'SELECT id FROM users WHERE email = $1',
    [email.toLowerCase()],
  );
  return { agent, csrf, userId: id };
}

export async function defaultWorkspaceId(t: TestApp): Promise<string> {
  const [{ id }]: Array<{ id: string }> = await t.dataSource.query(
    `SELECT id FROM workspaces WHERE slug = 'default'`,
  );
  return id;
}

let counter = 0;
/** A user who is a member of the workspace with this role, signed in. */
export async function member(
  t: TestApp,
  role: MemberRole,
  workspaceId?: string,
): Promise<SignedIn & { email: string }> {
  const email = `${role}-${++counter}-${Date.now()}@example.test`;
  const password = `password-${counter}-long-enough`;
  await t.app.get(UsersService).create({
    email,
    password,
    role: UserRole.Developer,
    workspaceIds: [workspaceId ?? (await defaultWorkspaceId(t))],
    memberRole: role,
  });
  return { ...(await signIn(t, email, password)), email };
}
