import { Body, Controller, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { CookieOptions, Request, Response } from 'express';
import { APP_CONFIG } from '../../app.tokens.js';
import { safeEqual } from '../../common/crypto/secret-hash.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { html, type SafeHtml } from '../../common/html/html.js';
import { RandomSource } from '../../common/random.js';
import type { AppConfig } from '../../config/config.js';
import { SESSION_COOKIE, SESSION_TTL_MS, SessionsService } from '../auth/sessions.service.js';
import { authDocument, sendConsoleHtml } from '../console/console-layout.js';
import { SignInThrottle } from '../sign-in-throttle/sign-in-throttle.service.js';
import {
  type Acceptance,
  InvitationsService,
  MIN_PASSWORD_LENGTH,
  type OpenInvitation,
} from './invitations.service.js';

/** Double-submit cookie for the acceptance form when nobody is signed in yet. */
const INVITE_CSRF_COOKIE = 'latchkey_invite_csrf';

const STATUS: Record<string, number> = {
  'invitation.not_found': 404,
  'invitation.expired': 410,
  'invitation.used': 410,
  'invitation.wrong_email': 403,
  'invitation.account_disabled': 403,
  'invitation.bad_password': 401,
  'invitation.weak_password': 400,
  'member.already_member': 409,
  // Another invitation to the same email was accepted a moment before: the account exists now.
  'user.email_taken': 409,
};

/**
 * `/invitations/{id}.{secret}`: the page an invited person opens. Signed in as the invited email:
 * one button. Otherwise: the password of the existing account with that email, or a new password.
 * Accepting signs them in to the workspace. The link is a bearer secret: no referrer carries it.
 */
@ApiExcludeController()
@Controller('invitations')
export class InvitationPageController {
  constructor(
    private readonly invitations: InvitationsService,
    private readonly sessions: SessionsService,
    private readonly throttle: SignInThrottle,
    private readonly random: RandomSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get(':token')
  async page(@Req() req: Request, @Res() res: Response, @Param('token') token: string) {
    let opened: OpenInvitation;
    try {
      opened = await this.invitations.open(token);
    } catch (error) {
      return this.refuse(res, error);
    }
    const signedIn = await this.sessions.resolve(req.cookies?.[SESSION_COOKIE]);
    if (signedIn && signedIn.user.email !== opened.invitation.email) {
      return this.refuse(res, new DomainError('invitation.wrong_email', 'forbidden', ''), opened);
    }
    this.form(req, res, 200, token, opened, signedIn !== null);
  }

  @Post(':token')
  async accept(
    @Req() req: Request,
    @Res() res: Response,
    @Param('token') token: string,
    @Body() body: Record<string, unknown>,
  ) {
    let opened: OpenInvitation;
    try {
      opened = await this.invitations.open(token);
    } catch (error) {
      return this.refuse(res, error);
    }
    const sessionToken = req.cookies?.[SESSION_COOKIE] as string | undefined;
    const signedIn = await this.sessions.resolve(sessionToken);
    const expectedCsrf = signedIn
      ? this.sessions.csrfToken(sessionToken!)
      : (req.cookies?.[INVITE_CSRF_COOKIE] as string | undefined);
    if (typeof body._csrf !== 'string' || !expectedCsrf || !safeEqual(body._csrf, expectedCsrf))
      return this.form(
        req,
        res,
        403,
        token,
        opened,
        !!signedIn,
        'Your form expired. Please try again.',
      );
    const password = typeof body.password === 'string' ? body.password : '';
    const how: Acceptance = signedIn
      ? { kind: 'session', user: signedIn.user }
      : opened.existingUser
        ? { kind: 'password', password }
        : {
            kind: 'new_password',
            password,
            confirmation: typeof body.confirmation === 'string' ? body.confirmation : '',
          };
    // Proving an existing account's password counts against the same limit as signing in.
    const throttled =
      how.kind === 'password'
        ? await this.throttle.begin('login', opened.invitation.email)
        : undefined;
    if (throttled && !throttled.attempt) {
      res.setHeader('Retry-After', String(throttled.retryAfterSeconds));
      return this.form(
        req,
        res,
        429,
        token,
        opened,
        false,
        'Too many failed sign-ins for this account. Try again later.',
      );
    }
    let accepted: Awaited<ReturnType<InvitationsService['accept']>>;
    try {
      accepted = await this.invitations.accept(token, how);
      if (throttled?.attempt) await this.throttle.succeeded(throttled.attempt);
    } catch (error) {
      if (throttled?.attempt) await this.throttle.failed(throttled.attempt);
      const code = error instanceof DomainError ? error.code : '';
      if (code === 'invitation.bad_password' || code === 'invitation.weak_password')
        return this.form(
          req,
          res,
          STATUS[code],
          token,
          opened,
          !!signedIn,
          (error as Error).message,
        );
      return this.refuse(res, error, opened);
    }
    const { token: session } = await this.sessions.create(accepted.user.id, accepted.workspaceId);
    res.clearCookie(INVITE_CSRF_COOKIE, { path: '/invitations' });
    res.cookie(SESSION_COOKIE, session, this.cookieOptions(SESSION_TTL_MS, '/'));
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, '/oauth');
  }

  private cookieOptions(maxAge: number, path: string): CookieOptions {
    return {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.publicUrl.startsWith('https:'),
      path,
      maxAge,
    };
  }

  private form(
    req: Request,
    res: Response,
    status: number,
    token: string,
    { invitation, workspace, existingUser }: OpenInvitation,
    signedIn: boolean,
    error?: string,
  ): void {
    let csrf: string;
    if (signedIn) {
      csrf = this.sessions.csrfToken(req.cookies[SESSION_COOKIE] as string);
    } else {
      // Kept across re-renders (a wrong password), so an open tab's form stays valid.
      const current = req.cookies?.[INVITE_CSRF_COOKIE] as unknown;
      csrf =
        typeof current === 'string' && /^[\w-]{32}$/.test(current)
          ? current
          : this.random.token(24);
      res.cookie(INVITE_CSRF_COOKIE, csrf, this.cookieOptions(60 * 60 * 1000, '/invitations'));
    }
    const intro = html`<h1>Join ${workspace.name}</h1>
<p>You are invited to the workspace <strong>${workspace.name}</strong> as <strong>${invitation.role}</strong>, as <strong>${invitation.email}</strong>.</p>`;
    const alert = error ? html`<p class="alert alert-error" role="alert">${error}</p>` : '';
    let fields: SafeHtml | string = '';
    let button = 'Join workspace';
    if (!signedIn && existingUser) {
      fields = html`<p>Sign in with the password of your account to accept.</p>
  <div class="field"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required autofocus></div>`;
      button = 'Sign in and join';
    } else if (!signedIn) {
      fields = html`<p>Choose a password for your new account (at least ${String(MIN_PASSWORD_LENGTH)} characters).</p>
  <input type="hidden" name="email" value="${invitation.email}" autocomplete="username">
  <div class="field"><label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="${String(MIN_PASSWORD_LENGTH)}" maxlength="1024" required autofocus></div>
  <div class="field"><label for="confirmation">Repeat the password</label><input id="confirmation" name="confirmation" type="password" autocomplete="new-password" required></div>`;
      button = 'Create account and join';
    }
    sendConsoleHtml(
      res,
      status,
      authDocument(
        'Invitation',
        html`${intro}${alert}
<form method="post" action="/invitations/${token}" class="stack">
  <input type="hidden" name="_csrf" value="${csrf}">
  ${fields}
  <button type="submit" class="button-primary">${button}</button>
</form>`,
      ),
      { referrerPolicy: 'no-referrer' },
    );
  }

  private refuse(res: Response, error: unknown, opened?: OpenInvitation): void {
    if (!(error instanceof DomainError) || STATUS[error.code] === undefined) throw error;
    const message =
      error.code === 'invitation.wrong_email' && opened
        ? `This invitation is for ${opened.invitation.email}, but you are signed in with another account. Sign out, then open the link again.`
        : error.code === 'member.already_member'
          ? 'You are already a member of this workspace.'
          : error.code === 'user.email_taken'
            ? 'An account with this email was created a moment ago. Open the link again and sign in with that account’s password.'
            : error.message;
    sendConsoleHtml(
      res,
      STATUS[error.code],
      authDocument(
        'Invitation',
        html`<h1>Invitation</h1><p class="alert alert-error" role="alert" data-code="${error.code}">${message}</p><p><a href="/login">Go to sign-in</a></p>`,
      ),
      { referrerPolicy: 'no-referrer' },
    );
  }
}
