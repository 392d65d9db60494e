import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { NOT_DELEGATED, isScope, type Scope } from '../../common/auth/scopes.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { InvalidatingCache } from '../../common/events/invalidating-cache.js';
import type { Actor } from '../../common/request-context.js';
import { Clock } from '../../common/time/clock.js';
import { EventsService } from '../events/events.service.js';
import { OAuthGrantError } from './oauth-grants.errors.js';
import { CLI_CLIENT } from './oauth-clients.js';

/** Why a grant ended (stored in `oauth_grants.revoked_reason` and the `oauth_grant.revoked` event). */
export type GrantRevocationReason =
  | 'user'
  | 'client'
  | 'refresh_token_reuse'
  | 'code_replay'
  | 'member_removed'
  | 'user_disabled'
  | 'app_revoked'
  | 'app_made_machine';

/** Reuse detection and code replay act on their own, not for whoever sent the request. */
export const SECURITY_ACTOR: Actor = { kind: 'system', id: 'oauth-reuse-detection' };

/** What the API guard needs of a live grant: loaded once per process, dropped on revocation. */
export interface ActiveGrant {
  id: string;
  clientId: string;
  appId: string | null;
  userId: string;
  workspaceId: string;
  /** What the person granted, already limited to what the client may ever hold. */
  scopes: readonly Scope[];
}

/** A live grant as the person who made it sees it (`GET /api/v1/authorized-apps`). */
export interface AuthorizedApp {
  grantId: string;
  clientId: string;
  name: string;
  description: string;
  workspaceId: string;
  workspaceName: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface GrantFilter {
  id?: string;
  userId?: string;
  workspaceId?: string;
  appId?: string;
}

/**
 * Grants of the authorization-code flow: their validity for the API guard (cached per process,
 * emptied by the change feed when any replica revokes one), their revocation for every reason,
 * and the person's own list. Lives below the OAuth Apps, members and auth modules, which all
 * revoke or check grants.
 */
@Injectable()
export class OAuthGrantsService {
  private readonly active: InvalidatingCache<ActiveGrant | null>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly events: EventsService,
    private readonly clock: Clock,
    private readonly changes: ChangeFeed,
  ) {
    this.active = new InvalidatingCache(changes, 'grant', 50_000, [
      {
        // An app that changes (revoked, scopes) drops its grants' entries; app changes are rare.
        kind: 'app',
        keys: (appId, entries) =>
          [...entries].filter(([, g]) => appId === '*' || g?.appId === appId).map(([k]) => k),
      },
    ]);
  }

  /** The grant as this process last loaded it, while no replica has announced a change since. */
  peek(grantId: string): ActiveGrant | null | undefined {
    return this.active.peek(grantId);
  }

  /**
   * The grant if it may still be used: not revoked, its person not disabled, its app (if any)
   * not revoked. Membership and role are checked per request by the caller.
   */
  async find(grantId: string): Promise<ActiveGrant | null> {
    return this.active.get(grantId, () => this.load(grantId));
  }

  private async load(grantId: string): Promise<ActiveGrant | null> {
    const [row]: Array<{
      id: string;
      client_id: string;
      app_id: string | null;
      user_id: string;
      workspace_id: string;
      scopes: string[];
      app_scopes: string[] | null;
      app_live: boolean | null;
    }> = await this.dataSource.query(
      `SELECT g.id, g.client_id, g.app_id, g.user_id, g.workspace_id, g.scopes,
              a.scopes AS app_scopes, (a.revoked_at IS NULL) AS app_live
         FROM oauth_grants g
         JOIN users u ON u.id = g.user_id AND u.disabled_at IS NULL
         LEFT JOIN oauth_apps a ON a.id = g.app_id
        WHERE g.id = $1 AND g.revoked_at IS NULL`,
      [grantId],
    );
    if (!row) return null;
    let clientScopes: readonly string[];
    if (row.app_id) {
      if (!row.app_live || !row.app_scopes) return null;
      clientScopes = row.app_scopes;
    } else if (row.client_id === CLI_CLIENT.clientId) {
      clientScopes = CLI_CLIENT.scopes;
    } else {
      return null;
    }
    return Object.freeze({
      id: row.id,
      clientId: row.client_id,
      appId: row.app_id,
      userId: row.user_id,
      workspaceId: row.workspace_id,
      scopes: row.scopes.filter(
        (s): s is Scope => isScope(s) && !NOT_DELEGATED.includes(s) && clientScopes.includes(s),
      ),
    });
  }

  /**
   * Revokes, in the caller's transaction, every live grant matching the filter, recording one
   * `oauth_grant.revoked` event each; the revoked ids, for `announce` once committed.
   */
  async revoke(
    manager: EntityManager,
    filter: GrantFilter,
    reason: GrantRevocationReason,
    actor?: Actor,
  ): Promise<string[]> {
    const conditions = ['revoked_at IS NULL'];
    const params: unknown[] = [this.clock.now(), reason];
    const columns: Record<keyof GrantFilter, string> = {
      id: 'id',
      userId: 'user_id',
      workspaceId: 'workspace_id',
      appId: 'app_id',
    };
    for (const key of Object.keys(columns) as Array<keyof GrantFilter>) {
      if (filter[key] === undefined) continue;
      params.push(filter[key]);
      conditions.push(`${columns[key]} = $${params.length}`);
    }
    if (params.length === 2) throw new Error('refusing to revoke every grant');
    // For UPDATE … RETURNING, TypeORM's postgres driver answers [rows, affectedCount].
    const [rows] = (await manager.query(
      `UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2
        WHERE ${conditions.join(' AND ')}
        RETURNING id, client_id, workspace_id`,
      params,
    )) as [Array<{ id: string; client_id: string; workspace_id: string }>, number];
    // An ended grant's refresh tokens can never be used again: a token that is gone is refused
    // just as a revoked one, so they are not kept (nothing else would ever delete them).
    if (rows.length)
      await manager.query('DELETE FROM oauth_refresh_tokens WHERE grant_id = ANY($1::uuid[])', [
        rows.map((r) => r.id),
      ]);
    for (const row of rows) {
      await this.events.record(manager, {
        type: 'oauth_grant.revoked',
        workspaceId: row.workspace_id,
        subject: { kind: 'oauth_grant', id: row.id },
        data: { clientId: row.client_id, reason },
        ...(actor ? { actor } : {}),
      });
    }
    return rows.map((r) => r.id);
  }

  /** Tells every replica (and waits for them) that these grants ended: their tokens stop at once. */
  async announce(grantIds: readonly string[]): Promise<void> {
    await Promise.all(grantIds.map((id) => this.changes.publish({ kind: 'grant', id })));
  }

  /** The person's live grants across workspaces, oldest first. */
  async listForUser(userId: string): Promise<AuthorizedApp[]> {
    const rows: Array<{
      id: string;
      client_id: string;
      app_name: string | null;
      app_description: string | null;
      workspace_id: string;
      workspace_name: string;
      scopes: string[];
      created_at: Date;
      last_used_at: Date | null;
    }> = await this.dataSource.query(
      `SELECT g.id, g.client_id, a.name AS app_name, a.description AS app_description,
              g.workspace_id, w.name AS workspace_name, g.scopes, g.created_at, g.last_used_at
         FROM oauth_grants g
         JOIN workspaces w ON w.id = g.workspace_id
         LEFT JOIN oauth_apps a ON a.id = g.app_id
        WHERE g.user_id = $1 AND g.revoked_at IS NULL
        ORDER BY g.created_at, g.id`,
      [userId],
    );
    return rows.map((r) => ({
      grantId: r.id,
      clientId: r.client_id,
      name: r.app_name ?? r.app_description ?? CLI_CLIENT.name,
      description: r.app_description ?? CLI_CLIENT.description,
      workspaceId: r.workspace_id,
      workspaceName: r.workspace_name,
      scopes: r.scopes,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /** The person revokes one of their own grants; 404 for anyone else's, unknown or ended ones. */
  async revokeOwn(userId: string, grantId: string): Promise<void> {
    const revoked = await this.dataSource.transaction((manager) =>
      this.revoke(manager, { id: grantId, userId }, 'user', { kind: 'user', id: userId }),
    );
    if (!revoked.length) throw OAuthGrantError.notFound();
    await this.announce(revoked);
  }
}
