import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ANNOUNCE, APP_CONFIG, type Announce } from '../../app.tokens.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import type { AppConfig } from '../../config/config.js';
import { SessionsService } from '../auth/sessions.service.js';
import { OAuthAppsService } from '../oauth-apps/oauth-apps.service.js';
import { SigningKeysService } from '../oauth-apps/signing-keys.service.js';
import { UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { DEFAULT_WORKSPACE_SLUG, WorkspacesService } from '../workspaces/workspaces.service.js';

/** Serialises start-up seeding across replicas starting at the same time. */
const BOOTSTRAP_LOCK = 7_364_512_002;

/**
 * First-start and every-start housekeeping, idempotent and safe with N replicas:
 * the default workspace and first admin (empty database only), the bootstrap OAuth App from the
 * environment, and an active signing key.
 */
@Injectable()
export class BootstrapService implements OnApplicationBootstrap {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly workspaces: WorkspacesService,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly apps: OAuthAppsService,
    private readonly signingKeys: SigningKeysService,
    private readonly random: RandomSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ANNOUNCE) private readonly announce: Announce,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    let generatedPassword: { email: string; password: string } | undefined;
    await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);

      let workspace = await this.workspaces.findBySlug(DEFAULT_WORKSPACE_SLUG, manager);
      if ((await this.users.count(manager)) === 0) {
        workspace ??= await this.workspaces.create(
          { slug: DEFAULT_WORKSPACE_SLUG, name: 'Default' },
          manager,
        );
        const email = this.config.adminEmail ?? 'admin@latchkey.local';
        const password = this.config.adminPassword ?? this.random.token(18);
        await this.users.create(
          { email, password, role: UserRole.Admin, workspaceIds: [workspace.id] },
          manager,
        );
        if (!this.config.adminPassword) generatedPassword = { email, password };
        this.logger.info({ email }, 'created the first admin user');
      } else if (this.config.adminEmail && this.config.adminPassword) {
        // The environment is the source of truth for the configured admin's password; a new one
        // signs the admin out everywhere.
        const admin = await this.users.findByEmail(this.config.adminEmail, manager);
        if (admin) {
          await this.sessions.changePassword(admin.id, this.config.adminPassword, { manager });
        } else {
          workspace ??= await this.workspaces.create(
            { slug: DEFAULT_WORKSPACE_SLUG, name: 'Default' },
            manager,
          );
          await this.users.create(
            {
              email: this.config.adminEmail,
              password: this.config.adminPassword,
              role: UserRole.Admin,
              workspaceIds: [workspace.id],
            },
            manager,
          );
        }
      }

      const bootstrap =
        this.config.bootstrapClientId && this.config.bootstrapClientSecret
          ? {
              clientId: this.config.bootstrapClientId,
              clientSecret: this.config.bootstrapClientSecret,
            }
          : undefined;
      if (bootstrap) {
        workspace ??= await this.workspaces.create(
          { slug: DEFAULT_WORKSPACE_SLUG, name: 'Default' },
          manager,
        );
      }
      if (workspace || bootstrap) {
        await this.apps.syncBootstrapApp(manager, workspace!.id, bootstrap);
      }
      await this.signingKeys.ensureActiveKey(manager);
    });
    if (generatedPassword) {
      // Shown once, on the console only (never through the logger), and never stored in plaintext.
      this.announce(
        [
          '',
          '  Latchkey created its first admin user. This password is shown only now:',
          `    email:    ${generatedPassword.email}`,
          `    password: ${generatedPassword.password}`,
          '  (Set LATCHKEY_ADMIN_EMAIL / LATCHKEY_ADMIN_PASSWORD to choose them instead.)',
          '',
        ].join('\n'),
      );
    }
  }
}
