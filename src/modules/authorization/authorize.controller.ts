import { createHmac } from 'node:crypto';
import { Body, Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { APP_CONFIG } from '../../app.tokens.js';
import { safeEqual } from '../../common/crypto/secret-hash.js';
import { UUID } from '../../common/validation/uuid.js';
import type { AppConfig } from '../../config/config.js';
import { SESSION_COOKIE, SessionsService } from '../auth/sessions.service.js';
import { sendConsoleHtml } from '../console/console-layout.js';
import {
  AUTHORIZATION_PARAMS,
  type AuthorizationRequest,
  AuthorizationRequests,
  type CheckedRequest,
  type ParamValues,
  withQuery,
} from './authorization-request.js';
import { AuthorizeService } from './authorize.service.js';
import { authorizeErrorPage, consentPage } from './consent-page.js';

/**
 * The authorization endpoint (RFC 6749 §3.1, seeds 001-002): a signed-in person sees what an app
 * asks, chooses a workspace, and allows or denies; the app gets a code or `access_denied` at its
 * registered redirect URI, always with `iss` (RFC 9207). Redeeming the code is the token endpoint's.
 */
@ApiExcludeController()
@Controller('oauth/authorize')
export class AuthorizeController {
  constructor(
    private readonly requests: AuthorizationRequests,
    private readonly authorize: AuthorizeService,
    private readonly sessions: SessionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  async show(@Req() req: Request, @Res() res: Response) {
    // The raw query, so a repeated parameter is seen as repeated (and a `?` inside a value kept).
    const at = req.originalUrl.indexOf('?');
    const query = new URLSearchParams(at < 0 ? '' : req.originalUrl.slice(at + 1));
    const checked = await this.requests.check((name) => query.getAll(name));
    if (checked.kind !== 'valid') return this.refuse(res, checked);
    const token = req.cookies?.[SESSION_COOKIE] as string | undefined;
    const resolved = await this.sessions.resolve(token);
    if (!resolved || !token) {
      res.setHeader('Cache-Control', 'no-store');
      return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    }
    const { request } = checked;
    this.sendPage(res, 200, request, {
      publisher: await this.authorize.publisher(request.client),
      email: resolved.user.email,
      options: await this.authorize.workspaceOptions(resolved.user, request.scopes),
      currentWorkspaceId: resolved.session.workspaceId,
      csrf: this.sessions.csrfToken(token),
      consent: consentBinding(token, request),
    });
  }

  /**
   * The person's decision. Nothing in the form is trusted: the session and CSRF token first, then
   * the whole request checked again as on GET and compared with the one the page was made for,
   * then the chosen workspace against the person's role at this moment.
   */
  @Post()
  async decide(@Req() req: Request, @Body() body: Record<string, unknown>, @Res() res: Response) {
    const token = req.cookies?.[SESSION_COOKIE] as string | undefined;
    const resolved = await this.sessions.resolve(token);
    if (!resolved || !token)
      return this.errorPage(
        res,
        401,
        'You are not signed in any more. Go back to the app and start again.',
      );
    if (typeof body._csrf !== 'string' || !safeEqual(body._csrf, this.sessions.csrfToken(token)))
      return this.errorPage(res, 403, 'This form has expired. Go back to the app and start again.');
    const values: ParamValues = (name) => {
      const v = body[name];
      return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
    };
    const checked = await this.requests.check(values);
    if (checked.kind !== 'valid') return this.refuse(res, checked);
    const { request } = checked;
    if (
      typeof body.consent !== 'string' ||
      !safeEqual(body.consent, consentBinding(token, request))
    )
      return this.errorPage(
        res,
        400,
        'This decision does not match the request you were shown. Go back to the app and start again.',
      );
    const back = (params: Record<string, string | undefined>) =>
      this.redirectBack(res, request.redirectUri, { ...params, state: request.state });
    if (body.decision === 'deny') return back({ error: 'access_denied' });
    if (body.decision !== 'allow') return this.errorPage(res, 400, 'Choose Allow or Deny.');

    const workspaceId =
      typeof body.workspace_id === 'string' ? body.workspace_id.toLowerCase() : '';
    const option = UUID.test(workspaceId)
      ? await this.authorize.workspaceOption(resolved.user, workspaceId, request.scopes)
      : null;
    if (!option || option.missing.length)
      return this.errorPage(
        res,
        403,
        !option
          ? 'Choose one of your workspaces.'
          : option.role
            ? `Your role in ${option.name} is ${option.role}, which cannot ${option.missing.join(', ')}. Choose another workspace, or deny.`
            : `You are not a member of ${option.name}. Choose another workspace, or deny.`,
      );
    const code = await this.authorize.issueCode(request, resolved.user.id, option.id);
    back({ code });
  }

  private sendPage(
    res: Response,
    status: number,
    request: AuthorizationRequest,
    view: Omit<Parameters<typeof consentPage>[0], 'request'>,
  ): void {
    sendConsoleHtml(res, status, consentPage({ request, ...view }), {
      referrerPolicy: 'no-referrer',
      formActionSource: formActionSource(request.redirectUri),
    });
  }

  private refuse(res: Response, checked: Exclude<CheckedRequest, { kind: 'valid' }>): void {
    if (checked.kind === 'untrusted') return this.errorPage(res, 400, checked.message);
    this.redirectBack(res, checked.redirectUri, {
      error: checked.error,
      error_description: checked.description,
      state: checked.state,
    });
  }

  private redirectBack(
    res: Response,
    redirectUri: string,
    params: Record<string, string | undefined>,
  ): void {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.redirect(303, withQuery(redirectUri, { ...params, iss: this.config.publicUrl }));
  }

  private errorPage(res: Response, status: number, message: string): void {
    sendConsoleHtml(res, status, authorizeErrorPage(message), { referrerPolicy: 'no-referrer' });
  }
}

/**
 * Ties the consent form to the exact request its page showed, for this session: changing any
 * parameter on the way back (a wider scope, another challenge or redirect URI) voids the decision.
 */
function consentBinding(sessionToken: string, request: AuthorizationRequest): string {
  const params = AUTHORIZATION_PARAMS.map((p) => request.params[p] ?? null);
  return createHmac('sha256', `consent:${sessionToken}`)
    .update(JSON.stringify(params))
    .digest('base64url');
}

/**
 * The CSP source for the redirect after the consent form's post. CSP cannot name an IPv6 literal,
 * so for `[::1]` only its scheme can be allowed.
 */
function formActionSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.hostname === '[::1]' ? 'http:' : url.origin;
}
