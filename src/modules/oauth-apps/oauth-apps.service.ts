import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, IsNull, Not, Repository } from 'typeorm';
import type { Principal } from '../../common/auth/principal.js';
import {
  ADMIN_SCOPES,
  DEVELOPER_SCOPES,
  isScope,
  SCOPES,
  type Scope,
} from '../../common/auth/scopes.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { InvalidatingCache } from '../../common/events/invalidating-cache.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { ClientSecretHasher } from './client-secret-hasher.js';
import { EventsService } from '../events/events.service.js';
import { OAuthApp } from './oauth-app.entity.js';
import { Workspace } from '../workspaces/workspace.entity.js';
import { AuthError } from '../auth/auth.errors.js';
import { OAuthAppError } from './oauth-apps.errors.js';
import { OAuthGrantsService } from '../authorization/oauth-grants.service.js';
import { redirectUriProblem } from '../authorization/oauth-clients.js';

export interface AppWithSecret {
  app: OAuthApp;
  /** Shown to the caller once; only its hash is stored. */
  clientSecret: string;
}

@Injectable()
export class OAuthAppsService {
  /** App validity for the API guard: no database round trip on warm requests. */
  private readonly activeCache: InvalidatingCache<OAuthApp | null>;

  private readonly revocationHooks: Array<
    (manager: EntityManager, appId: string) => Promise<void>
  > = [];

  constructor(
    @InjectRepository(OAuthApp) private readonly apps: Repository<OAuthApp>,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    private readonly changes: ChangeFeed,
    private readonly secretHasher: ClientSecretHasher,
    private readonly events: EventsService,
    private readonly grants: OAuthGrantsService,
  ) {
    this.activeCache = new InvalidatingCache(changes, 'app');
  }

  /**
   * Registers `hook` to run in every transaction that revokes an app, for what another concept
   * holds on the app's authority (members: the invitations it sent). A hook that fails fails the
   * revocation, so nothing the app handed out outlives it.
   */
  whenRevoked(hook: (manager: EntityManager, appId: string) => Promise<void>): void {
    this.revocationHooks.push(hook);
  }

  /** In the revoking transaction: what people authorized the app to do, and what hooks hold. */
  private async endAuthorityOf(manager: EntityManager, appId: string): Promise<void> {
    // The app change the caller publishes after commit reaches every cache.
    await this.grants.revoke(manager, { appId }, 'app_revoked');
    for (const hook of this.revocationHooks) await hook(manager, appId);
  }

  list(workspaceId: string): Promise<OAuthApp[]> {
    return this.apps.find({ where: { workspaceId }, order: { createdAt: 'ASC' } });
  }

  async get(workspaceId: string, id: string): Promise<OAuthApp> {
    const app = await this.apps.findOneBy({ id, workspaceId });
    if (!app) throw OAuthAppError.notFound();
    return app;
  }

  /**
   * A new app in the caller's workspace. Scopes default to the developer scopes the caller holds
   * and can never exceed the caller's own (no escalation through app creation).
   */
  async create(
    principal: Principal,
    input: { description: string; scopes?: Scope[]; name?: string; redirectUris?: string[] },
  ): Promise<AppWithSecret> {
    await this.assertMayCreate(principal);
    const redirectUris = checkedRedirectUris(input.redirectUris ?? []);
    const requested = input.scopes ?? DEVELOPER_SCOPES.filter((s) => principal.scopes.has(s));
    const scopes = SCOPES.filter((s) => requested.includes(s));
    const beyond = scopesBeyond(principal, scopes);
    if (beyond.length) throw OAuthAppError.scopeNotAllowed(beyond);
    const clientSecret = this.newSecret();
    const app = await this.apps.manager.transaction(async (manager) => {
      const saved = await manager.getRepository(OAuthApp).save(
        this.apps.create({
          id: this.random.uuid(),
          workspaceId: principal.workspaceId,
          description: input.description,
          name: input.name ?? null,
          redirectUris,
          clientId: `lk_${this.random.token(18)}`,
          secretHash: this.secretHasher.hash(clientSecret),
          secretVersion: 1,
          scopes,
          isBootstrap: false,
          createdByUserId: principal.userId ?? null,
          revokedAt: null,
          lastUsedAt: null,
        }),
      );
      await this.record(manager, 'oauth_app.created', saved, {
        scopes: saved.scopes,
        ...(redirectUris.length ? { name: saved.name, redirectUris } : {}),
      });
      return saved;
    });
    return { app, clientSecret };
  }

  /**
   * A new secret; the old one and every token issued under it stop working at once. Only for a
   * caller holding every scope of the app: whoever holds the new secret acts with all of them.
   */
  async regenerateSecret(principal: Principal, id: string): Promise<AppWithSecret> {
    const workspaceId = principal.workspaceId;
    const app = await this.manageable(principal, id);
    if (app.isBootstrap) throw OAuthAppError.managedByEnvironment();
    if (app.revokedAt) throw OAuthAppError.revoked();
    await this.assertMayCreate(principal);
    const clientSecret = this.newSecret();
    const secretHash = this.secretHasher.hash(clientSecret);
    // Conditional on the version read, so two concurrent regenerations cannot both "win".
    await this.apps.manager.transaction(async (manager) => {
      const result = await manager
        .getRepository(OAuthApp)
        .createQueryBuilder()
        .update()
        .set({ secretHash, secretVersion: () => 'secret_version + 1' })
        .where(
          'id = :id AND workspace_id = :workspaceId AND secret_version = :v AND revoked_at IS NULL',
          {
            id,
            workspaceId,
            v: app.secretVersion,
          },
        )
        .execute();
      if (result.affected !== 1) throw OAuthAppError.revoked();
      await this.record(manager, 'oauth_app.secret_regenerated', app, {
        secretVersion: app.secretVersion + 1,
      });
    });
    // The row's own id (as caches key it), not the caller's spelling of it.
    await this.changes.publish({ kind: 'app', id: app.id });
    return { app: await this.get(workspaceId, id), clientSecret };
  }

  /**
   * Changes what people see of an app (name, description) and where its authorization codes may
   * go. Like regeneration, only for a caller holding every scope of the app and allowed to create
   * apps: redirect URIs decide who receives codes that act with those scopes.
   */
  async update(
    principal: Principal,
    id: string,
    input: { name?: string | null; description?: string; redirectUris?: string[] },
  ): Promise<OAuthApp> {
    const app = await this.manageable(principal, id);
    if (app.isBootstrap) throw OAuthAppError.managedByEnvironment();
    if (app.revokedAt) throw OAuthAppError.revoked();
    await this.assertMayCreate(principal);
    const changes: Partial<Pick<OAuthApp, 'name' | 'description' | 'redirectUris'>> = {};
    if (input.name !== undefined && input.name !== app.name) changes.name = input.name;
    if (input.description !== undefined && input.description !== app.description)
      changes.description = input.description;
    if (input.redirectUris !== undefined) {
      const redirectUris = checkedRedirectUris(input.redirectUris);
      if (redirectUris.join('\n') !== app.redirectUris.join('\n'))
        changes.redirectUris = redirectUris;
    }
    if (Object.keys(changes).length === 0) return app;
    await this.apps.manager.transaction(async (manager) => {
      const result = await manager
        .getRepository(OAuthApp)
        .update({ id: app.id, workspaceId: app.workspaceId, revokedAt: IsNull() }, changes);
      if (result.affected !== 1) throw OAuthAppError.revoked();
      await this.record(manager, 'oauth_app.updated', app, {
        changed: Object.keys(changes),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.redirectUris ? { redirectUris: changes.redirectUris } : {}),
      });
      // Without redirect URIs it is a machine app, which acts for nobody: what people authorized
      // ends (the app change below reaches every cache), and adding URIs back does not revive it.
      if (changes.redirectUris?.length === 0)
        await this.grants.revoke(manager, { appId: app.id }, 'app_made_machine');
    });
    await this.changes.publish({ kind: 'app', id: app.id });
    return this.get(app.workspaceId, app.id);
  }

  /**
   * Revoked apps stay listed (with revokedAt) and can never authenticate again. Like regeneration,
   * only for a caller holding every scope of the app.
   */
  async revoke(principal: Principal, id: string): Promise<void> {
    const workspaceId = principal.workspaceId;
    const app = await this.manageable(principal, id);
    if (app.isBootstrap) throw OAuthAppError.managedByEnvironment();
    if (app.revokedAt) return;
    await this.apps.manager.transaction(async (manager) => {
      const result = await manager
        .getRepository(OAuthApp)
        .update({ id: app.id, workspaceId, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
      if (result.affected !== 1) return;
      await this.record(manager, 'oauth_app.revoked', app, {});
      await this.endAuthorityOf(manager, app.id);
    });
    await this.changes.publish({ kind: 'app', id: app.id });
  }

  /**
   * Revokes, in the caller's transaction, the active apps this user created (in one workspace, or
   * everywhere): an app acts on its creator's authority, which ends when they leave or are
   * disabled. Callers announce the returned apps with `announceChanged` once committed.
   */
  async revokeCreatedBy(
    manager: EntityManager,
    userId: string,
    workspaceId: string | undefined,
    reason: 'creator_removed' | 'creator_disabled',
  ): Promise<OAuthApp[]> {
    const repo = manager.getRepository(OAuthApp);
    const apps = await repo.findBy({
      createdByUserId: userId,
      revokedAt: IsNull(),
      isBootstrap: false,
      ...(workspaceId ? { workspaceId } : {}),
    });
    for (const app of apps) {
      await repo.update({ id: app.id, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
      await this.record(manager, 'oauth_app.revoked', app, { reason });
      await this.endAuthorityOf(manager, app.id);
    }
    return apps;
  }

  /** Makes `toUserId` the creator of `fromUserId`'s active apps in the workspace; their ids. */
  async transferCreatedBy(
    manager: EntityManager,
    workspaceId: string,
    fromUserId: string,
    toUserId: string,
  ): Promise<string[]> {
    const repo = manager.getRepository(OAuthApp);
    const apps = await repo.findBy({
      workspaceId,
      createdByUserId: fromUserId,
      revokedAt: IsNull(),
    });
    if (apps.length)
      await repo.update(
        { workspaceId, createdByUserId: fromUserId, revokedAt: IsNull() },
        { createdByUserId: toUserId },
      );
    return apps.map((a) => a.id);
  }

  /** Tells every replica that these apps changed (their cached tokens, and their grants', stop working). */
  async announceChanged(apps: readonly OAuthApp[]): Promise<void> {
    for (const app of apps) await this.changes.publish({ kind: 'app', id: app.id });
  }

  /**
   * The workspace's `appCreation` setting: under `admins`, only callers holding `members:write`
   * (workspace admins, platform admins, apps with admin-level scopes) create apps or regenerate secrets.
   */
  private async assertMayCreate(principal: Principal): Promise<void> {
    if (principal.scopes.has('members:write')) return;
    const workspace = await this.apps.manager
      .getRepository(Workspace)
      .findOne({ where: { id: principal.workspaceId }, select: { id: true, appCreation: true } });
    if (workspace?.appCreation === 'admins') throw OAuthAppError.creationRestricted();
  }

  /**
   * The app these client credentials belong to, or null. Unknown ids cost the same one HMAC as
   * known ones, and no scrypt. A secret still stored as a scrypt hash is re-hashed on success.
   */
  async authenticateClient(clientId: string, clientSecret: string): Promise<OAuthApp | null> {
    const app = await this.apps.findOneBy({ clientId });
    const { ok, rehash } = await this.secretHasher.verify(clientSecret, app?.secretHash);
    if (!app || !ok || app.revokedAt) return null;
    await this.apps.update({ id: app.id }, { lastUsedAt: this.clock.now() });
    if (rehash) {
      // Only over the hash just checked: a regeneration meanwhile must not be undone.
      await this.apps.update(
        { id: app.id, secretHash: app.secretHash },
        { secretHash: this.secretHasher.hash(clientSecret) },
      );
    }
    return app;
  }

  /** The app behind a token, if it is still allowed to act (not revoked, same secret version). */
  /**
   * The app as last loaded into this process's cache, while no replica has announced a change to
   * it since (undefined when not cached or the change feed is down). The same object until then.
   */
  peekActive(appId: string): OAuthApp | null | undefined {
    return this.activeCache.peek(appId);
  }

  async findActive(appId: string, secretVersion: number): Promise<OAuthApp | null> {
    const app =
      this.activeCache.peek(appId) ??
      (await this.activeCache.get(appId, () => this.apps.findOneBy({ id: appId })));
    return app && !app.revokedAt && app.secretVersion === secretVersion ? app : null;
  }

  /**
   * Makes the environment's bootstrap app exist with exactly these credentials and every scope,
   * in `workspaceId`; revokes bootstrap apps the environment no longer names. Idempotent.
   */
  async syncBootstrapApp(
    manager: EntityManager,
    workspaceId: string,
    credentials: { clientId: string; clientSecret: string } | undefined,
  ): Promise<void> {
    const repo = manager.getRepository(OAuthApp);
    const now = this.clock.now();
    await this.changes.publish({ kind: 'app', id: '*' }, { manager });
    await repo.update(
      credentials
        ? { isBootstrap: true, revokedAt: IsNull(), clientId: Not(credentials.clientId) }
        : { isBootstrap: true, revokedAt: IsNull() },
      { revokedAt: now },
    );
    if (!credentials) return;
    const existing = await repo.findOneBy({ clientId: credentials.clientId });
    if (existing && !existing.isBootstrap) {
      throw new Error(
        `LATCHKEY_BOOTSTRAP_CLIENT_ID names an OAuth App that was created through the API (${existing.id}); choose another client id`,
      );
    }
    if (!existing) {
      await repo.insert({
        id: this.random.uuid(),
        workspaceId,
        description: 'Bootstrap app (from LATCHKEY_BOOTSTRAP_CLIENT_ID)',
        clientId: credentials.clientId,
        secretHash: this.secretHasher.hash(credentials.clientSecret),
        secretVersion: 1,
        scopes: [...SCOPES],
        isBootstrap: true,
        createdByUserId: null,
        revokedAt: null,
        lastUsedAt: null,
      });
      return;
    }
    const { ok: secretMatches, rehash } = await this.secretHasher.verify(
      credentials.clientSecret,
      existing.secretHash,
    );
    const scopesMatch =
      existing.scopes.length === SCOPES.length && SCOPES.every((s) => existing.scopes.includes(s));
    if (
      secretMatches &&
      !rehash &&
      scopesMatch &&
      !existing.revokedAt &&
      existing.workspaceId === workspaceId
    )
      return;
    await repo.update(
      { id: existing.id },
      {
        workspaceId,
        scopes: [...SCOPES],
        revokedAt: null,
        // Same secret in an older hash form: re-hashed, and tokens issued under it stay valid.
        ...(secretMatches ? {} : { secretVersion: existing.secretVersion + 1 }),
        ...(secretMatches && !rehash
          ? {}
          : { secretHash: this.secretHasher.hash(credentials.clientSecret) }),
      },
    );
  }

  /** The app, when the caller may change it (403 auth.insufficient_scope, before anything changes, if not). */
  /** An event about an app, in its workspace and the change's transaction. */
  private record(
    manager: EntityManager,
    type: string,
    app: OAuthApp,
    data: Record<string, unknown>,
  ): Promise<string> {
    return this.events.record(manager, {
      type,
      workspaceId: app.workspaceId,
      subject: { kind: 'oauth_app', id: app.id },
      data: { clientId: app.clientId, description: app.description, ...data },
    });
  }

  private async manageable(principal: Principal, id: string): Promise<OAuthApp> {
    const app = await this.get(principal.workspaceId, id);
    const beyond = scopesBeyond(principal, app.scopes);
    if (beyond.length) throw AuthError.insufficientScope(beyond);
    return app;
  }

  private newSecret(): string {
    return `lks_${this.random.token(32)}`;
  }
}

/** The redirect URIs as given, each checked (400 `oauth_app.invalid_redirect_uri` naming the first bad one). */
function checkedRedirectUris(uris: readonly string[]): string[] {
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw OAuthAppError.invalidRedirectUri(uri, problem);
  }
  return [...uris];
}

/**
 * The scopes of an app that this caller may not create, change, regenerate or revoke: any it does
 * not hold itself, and admin scopes unless it is a platform admin. Empty means allowed. The one rule
 * for every change to an app, so no app can be used to reach scopes its manager lacks.
 */
export function scopesBeyond(principal: Principal, appScopes: readonly string[]): Scope[] {
  return appScopes
    .filter(isScope)
    .filter(
      (s) => !principal.scopes.has(s) || (ADMIN_SCOPES.includes(s) && !principal.isPlatformAdmin),
    );
}
