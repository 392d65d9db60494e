import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../app.tokens.js';
import { LOGGER } from '../../common/logging/logger.js';
import type { AppConfig } from '../../config/config.js';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { ConnectFlowService, flowCookieName } from './connect-flow.service.js';
import type { FlowOutcome } from './connect-outcome.js';
import {
  autoStartPage,
  CONFIG_FIELD_PREFIX,
  connectPage,
  messagePage,
  popupResultPage,
} from './connect-pages.js';
import { FlowInputsError, FlowPageError } from './connect.errors.js';
import { CredentialsFlowService, takesPastedCredentials } from './credentials-flow.service.js';
import { credentialsPage } from './credentials-page.js';
import { fieldsWith } from './form-fields.js';
import type { DisplayMode } from './oauth-flow.entity.js';

const displayOf = (v: unknown): DisplayMode => (v === 'popup' ? 'popup' : 'redirect');

/** End-user pages of the connect flow, and the provider's redirect target. */
@ApiExcludeController()
@Controller()
export class ConnectPagesController {
  constructor(
    private readonly flow: ConnectFlowService,
    private readonly credentialsFlow: CredentialsFlowService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * The link's page. A GET (or HEAD) never starts a flow or spends the link: mail scanners fetch
   * links, and a forwarded link must not connect the recipient's account to the sender's end user.
   * The old `?auto=1` is ignored; skipping this page is the session's `autoStart`, and even then
   * the start is the POST below.
   */
  @Get('connect/:token')
  async show(
    @Param('token') token: string,
    @Query() query: Record<string, unknown>,
    @Res() res: Response,
  ) {
    await this.page(res, async () => {
      const p = await this.flow.open(token);
      const display = displayOf(query.display);
      // Pasted credentials need the end user's input: a form, even for autoStart sessions.
      if (takesPastedCredentials(p.offering))
        return this.html(res, 200, credentialsPage(p, token, display));
      // A session that still needs configuration shows its form even with autoStart (the
      // offering gained an input after the session was made).
      if (!p.session.autoStart || p.inputs.length)
        return this.html(res, 200, connectPage(p, token, display));
      const nonce = randomBytes(16).toString('base64');
      this.html(res, 200, autoStartPage(p, token, display, nonce), `script-src 'nonce-${nonce}'`);
    });
  }

  @Post('connect/:token/start')
  async startPost(
    @Param('token') token: string,
    @Body() body: Record<string, unknown>,
    @Res() res: Response,
  ) {
    const display = displayOf(body.display);
    const typed = fieldsWith(body, CONFIG_FIELD_PREFIX);
    await this.page(res, async () => {
      try {
        await this.start(res, token, display, typed);
      } catch (error) {
        if (!(error instanceof FlowInputsError)) throw error;
        this.html(
          res,
          400,
          connectPage(error.page, token, display, { values: error.values, errors: error.errors }),
        );
      }
    });
  }

  /**
   * The credential form's submit (bearer_token, basic). A refusal shows the form again with the
   * provider's reason; success completes like an OAuth flow (redirect, popup or page).
   */
  @Post('connect/:token/credentials')
  async credentialsPost(
    @Param('token') token: string,
    @Body() body: Record<string, unknown>,
    @Res() res: Response,
  ) {
    await this.page(res, async () => {
      const display = displayOf(body.display);
      const result = await this.credentialsFlow.submit(token, display, body);
      if (result.kind === 'done') return this.render(res, result.outcome);
      // Typed values of non-secret inputs are shown again; the page never shows secret ones.
      this.html(
        res,
        result.status,
        credentialsPage(result.page, token, display, { error: result.error, values: body }),
      );
    });
  }

  @Get('oauth/callback')
  async callback(
    @Query() query: Record<string, unknown>,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.page(res, async () => {
      const outcome = await this.flow.callback(
        query,
        (req.cookies ?? {}) as Record<string, string>,
      );
      // Only this flow's cookie: other flows may be running in the same browser.
      if (typeof query.state === 'string')
        res.clearCookie(flowCookieName(sha256Hex(query.state)), { path: '/oauth/callback' });
      this.render(res, outcome);
    });
  }

  private async start(
    res: Response,
    token: string,
    display: DisplayMode,
    typed: Record<string, unknown>,
  ) {
    const { location, cookie } = await this.flow.start(token, display, typed);
    res.cookie(cookie.name, cookie.value, {
      httpOnly: true,
      // Lax: sent on the provider's top-level redirect back to us, not on cross-site subrequests.
      sameSite: 'lax',
      secure: this.config.publicUrl.startsWith('https:'),
      path: '/oauth/callback',
      maxAge: cookie.maxAgeMs,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, location);
  }

  private render(res: Response, outcome: FlowOutcome) {
    res.setHeader('Cache-Control', 'no-store');
    switch (outcome.kind) {
      case 'redirect':
        res.redirect(302, outcome.location);
        return;
      case 'popup': {
        const nonce = randomBytes(16).toString('base64');
        this.html(
          res,
          200,
          popupResultPage(outcome.targetOrigin, outcome.message, outcome, nonce),
          `script-src 'nonce-${nonce}'`,
        );
        return;
      }
      case 'page':
        this.html(
          res,
          outcome.httpStatus,
          messagePage(outcome, outcome.status === 'connected' ? 'ok' : 'error'),
        );
        return;
    }
  }

  /** `script` adds a script-src (a nonce) to the CSP; pages without it run no script at all. */
  private html(res: Response, status: number, body: string, script?: string) {
    // Connect pages carry the session token in their form; no page of the flow may be cached.
    res.setHeader('Cache-Control', 'no-store');
    // No form-action: Chrome applies it to the redirect after the start form, i.e. to the provider.
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'unsafe-inline'; ${script ? `${script}; ` : ''}frame-ancestors 'none'`,
    );
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.status(status).type('html').send(body);
  }

  /** Browser-facing failures become readable pages, never JSON. */
  private async page(res: Response, fn: () => Promise<void>) {
    try {
      await fn();
    } catch (error) {
      if (error instanceof FlowPageError) {
        this.html(res, error.status, messagePage(error, 'error'));
        return;
      }
      this.logger.error({ err: error }, 'connect flow page failed');
      this.html(
        res,
        500,
        messagePage(
          {
            title: 'Something went wrong',
            detail: 'Latchkey could not finish this step. Start again from the app.',
          },
          'error',
        ),
      );
    }
  }
}
