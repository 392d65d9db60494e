import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { APP_CONFIG } from '../../app.tokens.js';
import { ROLE_SCOPES, SCOPES } from '../../common/auth/scopes.js';
import { html } from '../../common/html/html.js';
import { UUID } from '../../common/validation/uuid.js';
import type { AppConfig } from '../../config/config.js';
import { SESSION_COOKIE, SessionsService } from '../auth/sessions.service.js';
import { UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { WorkspacesService } from '../workspaces/workspaces.service.js';
import {
  consoleDocument,
  type ShellOptions,
  type ShellUser,
  sendConsoleHtml,
} from './console-layout.js';

const loading = (heading: string) => html`<h1>${heading}</h1>
<p class="loading" data-loading>Loading…</p>
<noscript><p class="notice">The console needs JavaScript.</p></noscript>`;

/**
 * The console's HTML shells. Each page is a heading and a placeholder that a browser module fills
 * from the public /api/v1 API with the session cookie; the server adds only who is signed in, the
 * workspace and the CSRF token (plus the callback URL, which is configuration).
 */
@ApiExcludeController()
@Controller()
export class ConsoleController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly workspaces: WorkspacesService,
    private readonly users: UsersService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('oauth')
  async integrations(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'Integrations',
      section: 'integrations',
      page: 'integrations',
      main: loading('Integrations'),
    });
  }

  @Get('oauth/create')
  async createIntegration(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'Add integration',
      section: 'integrations',
      page: 'integration-create',
      data: { 'callback-url': `${this.config.publicUrl}/oauth/callback` },
      main: loading('Add integration'),
    });
  }

  @Get('oauth/:integrationId')
  async integration(@Req() req: Request, @Res() res: Response, @Param('integrationId') id: string) {
    const user = await this.user(req, res);
    if (!user) return;
    if (!UUID.test(id)) {
      return this.send(res, 404, user, {
        title: 'Not found',
        section: 'integrations',
        main: html`<h1>Not found</h1><p>There is no such page. <a href="/oauth">Back to integrations</a></p>`,
      });
    }
    this.send(res, 200, user, {
      title: 'Integration',
      section: 'integrations',
      page: 'integration-detail',
      data: { 'integration-id': id.toLowerCase() },
      main: loading('Integration'),
    });
  }

  @Get('admin/offerings')
  async offerings(@Req() req: Request, @Res() res: Response) {
    const user = await this.user(req, res);
    if (!user) return;
    if (!user.isAdmin) {
      return this.send(res, 403, user, {
        title: 'Not allowed',
        section: 'offerings',
        main: html`<h1>Not allowed</h1>
<p role="alert">Offerings are managed by platform admins. Your account is a developer account.</p>
<p><a href="/oauth">Back to integrations</a></p>`,
      });
    }
    this.send(res, 200, user, {
      title: 'Offerings',
      section: 'offerings',
      page: 'offerings',
      main: loading('Offerings'),
    });
  }

  @Get('settings/members')
  async members(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'Members',
      section: 'members',
      page: 'members',
      main: loading('Members'),
    });
  }

  @Get('settings/oauth-apps')
  async oauthApps(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'OAuth Apps',
      section: 'oauth-apps',
      page: 'oauth-apps',
      main: loading('OAuth Apps'),
    });
  }

  /** The audit log: the workspace's events (platform admins: platform events too), filterable. */
  @Get('settings/events')
  async events(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'Audit log',
      section: 'events',
      page: 'events',
      main: loading('Audit log'),
    });
  }

  /** The apps the signed-in person authorized to act for them, with revoke buttons. */
  @Get('settings/authorized-apps')
  async authorizedApps(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'Authorized apps',
      section: 'authorized-apps',
      page: 'authorized-apps',
      main: loading('Authorized apps'),
    });
  }

  @Get('settings/webhooks')
  async webhooks(@Req() req: Request, @Res() res: Response) {
    await this.render(req, res, {
      title: 'Webhooks',
      section: 'webhooks',
      page: 'webhooks',
      main: loading('Webhooks'),
    });
  }

  @Get('settings/webhooks/:endpointId')
  async webhookDeliveries(
    @Req() req: Request,
    @Res() res: Response,
    @Param('endpointId') id: string,
  ) {
    const user = await this.user(req, res);
    if (!user) return;
    if (!UUID.test(id)) {
      return this.send(res, 404, user, {
        title: 'Not found',
        section: 'webhooks',
        main: html`<h1>Not found</h1><p>There is no such page. <a href="/settings/webhooks">Back to webhooks</a></p>`,
      });
    }
    this.send(res, 200, user, {
      title: 'Webhook deliveries',
      section: 'webhooks',
      page: 'webhook-deliveries',
      data: { 'endpoint-id': id.toLowerCase() },
      main: loading('Webhook deliveries'),
    });
  }

  private async render(req: Request, res: Response, options: ShellOptions): Promise<void> {
    const user = await this.user(req, res);
    if (user) this.send(res, 200, user, options);
  }

  private send(res: Response, status: number, user: ShellUser, options: ShellOptions): void {
    sendConsoleHtml(res, status, consoleDocument(user, options));
  }

  /** The signed-in user, or null after redirecting to the sign-in page (which comes back here). */
  private async user(req: Request, res: Response): Promise<ShellUser | null> {
    const token = req.cookies?.[SESSION_COOKIE] as string | undefined;
    const resolved = await this.sessions.resolve(token);
    if (!resolved || !token) {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
      return null;
    }
    const choices = await this.sessions.workspaceChoices(resolved.user);
    // The current workspace is normally among the choices; a session can outlive a membership.
    const workspace =
      choices.find((w) => w.id === resolved.session.workspaceId) ??
      (await this.workspaces.get(resolved.session.workspaceId));
    const isAdmin = resolved.user.role === UserRole.Admin;
    const role = isAdmin ? null : await this.users.memberRole(resolved.user.id, workspace.id);
    return {
      email: resolved.user.email,
      isAdmin,
      roleLabel: isAdmin ? 'platform admin' : (role ?? 'not a member'),
      workspaceId: workspace.id,
      workspaceName: workspace.name,
      workspaces: choices,
      csrfToken: this.sessions.csrfToken(token),
      scopes: isAdmin ? SCOPES : role ? ROLE_SCOPES[role] : [],
    };
  }
}
