import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../src/modules/users/users.service.js';
import { createTestApp, type TestApp } from './support/app.js';
import { ADMIN, defaultWorkspaceId, signIn, type SignedIn } from './support/members.js';
import { startSmtpReceiver } from './support/smtp-receiver.js';

const SMTP = { user: 'latchkey-mailer', pass: 'smtp-password-0123456789' };

describe('invitation email over SMTP', () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let admin: SignedIn;
  let workspaceId: string;
  let smtpUp = true;
  beforeAll(async () => {
    smtp = await startSmtpReceiver(SMTP);
    t = await createTestApp({
      env: {
        // The URL form carries the password: the riskier of the two ways to configure it.
        LATCHKEY_SMTP_URL: `smtp://${SMTP.user}:${SMTP.pass}@127.0.0.1:${smtp.port}`,
        LATCHKEY_SMTP_FROM: 'Latchkey <latchkey@example.test>',
      },
    });
    t.secret(SMTP.pass);
    admin = await signIn(t, ADMIN.email, ADMIN.password);
    workspaceId = await defaultWorkspaceId(t);
  });
  afterAll(async () => {
    if (smtpUp) await smtp.close();
    await t.close(); // fails if a remembered secret appeared in any log line
  });

  function invite(email: string, role: string) {
    return admin.agent
      .post('/api/v1/invitations')
      .set('X-CSRF-Token', admin.csrf)
      .send({ email, role });
  }

  /** Opens the link in a fresh browser and accepts it with a new password. */
  async function accept(link: string) {
    const agent = supertest.agent(t.url);
    const path = new URL(link).pathname;
    const page = await agent.get(path);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? 'none';
    const password = 'a brand new password';
    const res = await agent
      .post(path)
      .type('form')
      .send({ _csrf: csrf, password, confirmation: password });
    return { agent, page, res };
  }

  const linkPattern = () => new RegExp(`${t.url}/invitations/([0-9a-f-]{36})\\.([\\w-]{40,})`);

  it('emails the link to the invited address, and the emailed link lets them join', async () => {
    const res = await invite('Mailed.Person@Example.test', 'developer');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: 'mailed.person@example.test',
      delivery: 'email',
      link: null,
    });

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.user).toBe(SMTP.user);
    expect(mail.from).toBe('latchkey@example.test');
    expect(mail.to).toEqual(['mailed.person@example.test']);
    expect(mail.headers.get('to')).toContain('mailed.person@example.test');
    expect(mail.headers.get('subject')).toBe('Invitation to Default on Latchkey');
    expect(mail.text).toContain('"Default" as developer');
    const match = linkPattern().exec(mail.text);
    expect(match?.[1]).toBe(res.body.id);
    const link = match![0];
    t.secret(match![2]);

    const { page, res: accepted, agent } = await accept(link);
    expect(page.status).toBe(200);
    expect(page.text).toContain('mailed.person@example.test');
    expect(accepted.status).toBe(303);
    expect((await agent.get('/api/v1/integrations')).status).toBe(200);
    const user = await t.app.get(UsersService).findByEmail('mailed.person@example.test');
    expect(await t.app.get(UsersService).memberRole(user!.id, workspaceId)).toBe('developer');

    // Logged as sent, without the link's secret or the SMTP password (close() checks every line).
    expect(t.logs.some((l) => l.includes('invitation emailed') && l.includes(res.body.id))).toBe(
      true,
    );
    expect(t.leakedSecrets()).toEqual([]);
  });

  it('still creates the invitation when the mail server is down, and shows the link instead', async () => {
    await smtp.close();
    smtpUp = false;
    const res = await invite('unmailed@example.test', 'viewer');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: 'unmailed@example.test',
      role: 'viewer',
      status: 'pending',
      delivery: 'failed',
    });
    expect(res.headers['cache-control']).toBe('no-store');
    const match = linkPattern().exec(String(res.body.link));
    expect(match?.[1]).toBe(res.body.id);
    t.secret(match![2]);

    const warning = t.logs.find((l) => l.includes('invitation email could not be sent'));
    expect(warning).toContain(res.body.id);
    expect(JSON.parse(warning!).level).toBe(40);
    expect(t.leakedSecrets()).toEqual([]);

    const listed = await admin.agent.get('/api/v1/invitations');
    expect(listed.body.data.map((i: { id: string }) => i.id)).toContain(res.body.id);
    const { res: accepted } = await accept(res.body.link);
    expect(accepted.status).toBe(303);
    const user = await t.app.get(UsersService).findByEmail('unmailed@example.test');
    expect(await t.app.get(UsersService).memberRole(user!.id, workspaceId)).toBe('viewer');
  });
});
