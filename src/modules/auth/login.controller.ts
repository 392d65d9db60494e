import { Body, Controller, Get, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { CookieOptions, Request, Response } from 'express';
import { APP_CONFIG } from '../../app.tokens.js';
import { safeEqual } from '../../common/crypto/secret-hash.js';
import { html } from '../../common/html/html.js';
import { authDocument, sendConsoleHtml } from '../console/console-layout.js';
import { RandomSource } from '../../common/random.js';
import { UUID } from '../../common/validation/uuid.js';
import type { AppConfig } from '../../config/config.js';
import { SignInThrottle } from '../sign-in-throttle/sign-in-throttle.service.js';
import { type User, UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { WorkspacesService } from '../workspaces/workspaces.service.js';
import { SESSION_COOKIE, SESSION_TTL_MS, SessionsService } from './sessions.service.js';

/** Double-submit cookie that protects the login form itself (there is no session yet). */
const LOGIN_CSRF_COOKIE = 'latchkey_login_csrf';

/** Only same-site relative paths: never an open redirect. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) ? next : '/';
}

/** Human sign-in for the console (the pages themselves are in modules/console). */
@ApiExcludeController()
@Controller()
export class LoginController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
    private readonly workspaces: WorkspacesService,
    private readonly random: RandomSource,
    private readonly throttle: SignInThrottle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private cookieOptions(maxAge: number): CookieOptions {
    return {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.publicUrl.startsWith('https:'),
      path: '/',
      maxAge,
    };
  }

  @Get('login')
  async loginPage(@Req() req: Request, @Res() res: Response, @Query('next') next?: string) {
    if (await this.sessions.resolve(req.cookies?.[SESSION_COOKIE]))
      return res.redirect(303, safeNext(next));
    this.renderLogin(res, 200, safeNext(next));
  }

  @Post('login')
  async login(@Req() req: Request, @Body() body: Record<string, unknown>, @Res() res: Response) {
    const next = safeNext(body.next);
    const cookieToken = req.cookies?.[LOGIN_CSRF_COOKIE];
    if (
      typeof body._csrf !== 'string' ||
      typeof cookieToken !== 'string' ||
      !safeEqual(body._csrf, cookieToken)
    ) {
      return this.renderLogin(res, 403, next, 'Your sign-in form expired. Please try again.');
    }
    const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const tooMany = (retryAfterSeconds: number, whose: string) => {
      res.setHeader('Retry-After', String(retryAfterSeconds));
      const minutes = Math.ceil(retryAfterSeconds / 60);
      this.renderLogin(
        res,
        429,
        next,
        `Too many failed sign-ins ${whose}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        email,
      );
    };
    // Per client address first (one password tried on many accounts), then per account.
    const byAddress = await this.throttle.begin('login-address', req.ip ?? 'unknown');
    if (!byAddress.attempt) return tooMany(byAddress.retryAfterSeconds, 'from your network');
    const byAccount = email ? await this.throttle.begin('login', email) : undefined;
    if (byAccount && !byAccount.attempt) {
      await this.throttle.released(byAddress.attempt);
      return tooMany(byAccount.retryAfterSeconds, 'for this account');
    }
    let user: User | null = null;
    try {
      if (email && password && password.length <= 1024)
        user = await this.users.verifyLogin(email, password);
    } finally {
      for (const attempt of [byAddress.attempt, byAccount?.attempt]) {
        if (attempt)
          await (user ? this.throttle.succeeded(attempt) : this.throttle.failed(attempt));
      }
    }
    if (!user) {
      await this.sessions.recordFailedSignIn(email, req.ip ?? null);
      return this.renderLogin(res, 401, next, 'Email or password is incorrect.', email);
    }

    let workspaceId = await this.users.firstWorkspaceId(user.id);
    if (!workspaceId && user.role === UserRole.Admin)
      workspaceId = (await this.workspaces.list())[0]?.id ?? null;
    if (!workspaceId)
      return this.renderLogin(
        res,
        403,
        next,
        'Your account is not a member of any workspace.',
        email,
      );

    const { token } = await this.sessions.create(user.id, workspaceId);
    res.clearCookie(LOGIN_CSRF_COOKIE, { path: '/' });
    res.cookie(SESSION_COOKIE, token, this.cookieOptions(SESSION_TTL_MS));
    res.redirect(303, next);
  }

  @Post('logout')
  async logout(@Req() req: Request, @Body() body: Record<string, unknown>, @Res() res: Response) {
    const token = req.cookies?.[SESSION_COOKIE];
    if (typeof token === 'string') {
      if (
        typeof body._csrf !== 'string' ||
        !safeEqual(body._csrf, this.sessions.csrfToken(token))
      ) {
        sendConsoleHtml(
          res,
          403,
          authDocument(
            'Sign out',
            html`<h1>Sign out</h1><p class="alert alert-error" role="alert">Invalid CSRF token.</p><p><a href="/oauth">Back to the console</a></p>`,
          ),
        );
        return;
      }
      await this.sessions.destroy(token);
    }
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/login');
  }

  /**
   * The console's workspace switcher: moves this session to another workspace the user may use
   * (any for a platform admin, their own for a developer), then shows that workspace's
   * integrations. A bad CSRF token, id or workspace changes nothing.
   */
  @Post('session/workspace')
  async switchWorkspace(
    @Req() req: Request,
    @Body() body: Record<string, unknown>,
    @Res() res: Response,
  ) {
    const token = req.cookies?.[SESSION_COOKIE] as string | undefined;
    const resolved = await this.sessions.resolve(token);
    if (!resolved || !token) {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, '/login');
      return;
    }
    const refuse = (status: number, message: string) =>
      sendConsoleHtml(
        res,
        status,
        authDocument(
          'Switch workspace',
          html`<h1>Switch workspace</h1><p class="alert alert-error" role="alert">${message}</p><p><a href="/oauth">Back to the console</a></p>`,
        ),
      );
    if (typeof body._csrf !== 'string' || !safeEqual(body._csrf, this.sessions.csrfToken(token)))
      return refuse(403, 'Invalid CSRF token.');
    const workspaceId =
      typeof body.workspaceId === 'string' ? body.workspaceId.trim().toLowerCase() : '';
    if (!UUID.test(workspaceId)) return refuse(400, 'Choose a workspace from the list.');
    if (!(await this.sessions.switchWorkspace(resolved, workspaceId)))
      return refuse(403, 'You cannot work in that workspace.');
    res.redirect(303, '/oauth');
  }

  /** The console starts at the integrations list. */
  @Get()
  async home(@Req() req: Request, @Res() res: Response) {
    const resolved = await this.sessions.resolve(req.cookies?.[SESSION_COOKIE]);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, resolved ? '/oauth' : '/login');
  }

  private renderLogin(
    res: Response,
    status: number,
    next: string,
    error?: string,
    email = '',
  ): void {
    const csrf = this.random.token(24);
    res.cookie(LOGIN_CSRF_COOKIE, csrf, this.cookieOptions(60 * 60 * 1000));
    sendConsoleHtml(
      res,
      status,
      authDocument(
        'Sign in',
        html`<h1>Sign in</h1>
${error ? html`<p class="alert alert-error" role="alert">${error}</p>` : ''}
<form method="post" action="/login" class="stack">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="next" value="${next}">
  <div class="field"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${email}"${error ? '' : html` autofocus`}></div>
  <div class="field"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required${error ? html` autofocus` : ''}></div>
  <button type="submit" class="button-primary">Sign in</button>
</form>`,
      ),
    );
  }
}
