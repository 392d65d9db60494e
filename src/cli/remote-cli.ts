import { parseArgs } from 'node:util';
import type * as oidc from 'openid-client';
import { CliError } from './cli-error.js';
import { configDirectory, CredentialsFile, type StoredCredentials } from './credentials-file.js';
import {
  CLI_CLIENT_ID,
  DEFAULT_LOGIN_SCOPE,
  describe,
  discover,
  login,
  parseLatchkeyUrl,
  refresh,
  revoke,
  type SessionSeams,
  subjectOf,
} from './oauth-session.js';
import { openInBrowser } from './open-browser.js';

/**
 * The CLI's remote commands: they talk HTTP to a running Latchkey as the signed-in person and
 * need neither a database nor any server configuration.
 */
export const REMOTE_USAGE = `  login --url <latchkey> [--scope "<scopes>"] [--no-browser]
                             sign in through the browser (default scope "${DEFAULT_LOGIN_SCOPE}");
                             the refresh token is kept in the CLI's config directory (mode 0600)
  connections list [--integration <id>] [--status <status>]
                             the workspace's connections
  connections token <id>     print a connection's provider access token (and nothing else)
  logout                     revoke the sign-in at the server and delete the stored credentials
`;

export function isRemoteCommand(command: string | undefined): boolean {
  return command === 'login' || command === 'logout' || command === 'connections';
}

export interface RemoteCliOptions {
  env: NodeJS.ProcessEnv;
  /** Command output (what scripts read). */
  stdout: (text: string) => void;
  /** Messages for the person. */
  stderr: (text: string) => void;
  fetch?: typeof fetch;
  /** The browser; default the platform's launcher (`xdg-open`, `open`, `rundll32`). */
  openBrowser?: (url: string) => Promise<void>;
  /** Default 5 minutes. */
  loginTimeoutMs?: number;
}

/** Runs `login`, `logout` or `connections …`; resolves to the exit code. */
export async function runRemoteCommand(argv: string[], options: RemoteCliOptions): Promise<number> {
  const cli = new RemoteCli(options);
  try {
    await cli.run(argv);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      options.stderr(`${error.message}\n`);
      return error.exitCode;
    }
    if (
      error instanceof TypeError &&
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      options.stderr(`${error.message}\n\nUsage:\n${REMOTE_USAGE}`);
      return 2;
    }
    throw error;
  }
}

interface ConnectionRow {
  id: string;
  integrationId: string;
  status: string;
  endUser: { id: string; email: string | null };
  provider: { userId: string; username: string | null; displayName: string | null };
}

class RemoteCli {
  private readonly file: CredentialsFile;
  private readonly seams: SessionSeams;

  constructor(private readonly options: RemoteCliOptions) {
    this.file = new CredentialsFile(configDirectory(options.env));
    this.seams = {
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      openBrowser: options.openBrowser ?? ((url) => openInBrowser(url)),
      loginTimeoutMs: options.loginTimeoutMs ?? 5 * 60_000,
      say: (line) => options.stderr(`${line}\n`),
    };
  }

  async run([command, ...args]: string[]): Promise<void> {
    switch (command) {
      case 'login':
        return this.login(args);
      case 'logout':
        parseArgs({ args, options: {}, strict: true });
        return this.logout();
      case 'connections': {
        const [sub, ...rest] = args;
        if (sub === 'list') return this.listConnections(rest);
        if (sub === 'token') return this.connectionToken(rest);
        throw new CliError(
          `connections needs "list" or "token <id>".\n\nUsage:\n${REMOTE_USAGE}`,
          2,
        );
      }
      default:
        throw new CliError(`Unknown command "${command}".`, 2);
    }
  }

  private async login(args: string[]): Promise<void> {
    const { values } = parseArgs({
      args,
      options: {
        url: { type: 'string' },
        scope: { type: 'string' },
        'no-browser': { type: 'boolean' },
      },
      strict: true,
    });
    if (!values.url)
      throw new CliError(
        'login needs --url <latchkey>, e.g. --url https://latchkey.example.com',
        2,
      );
    const url = parseLatchkeyUrl(values.url).href;
    const scope = (values.scope ?? DEFAULT_LOGIN_SCOPE).trim().split(/\s+/).join(' ');
    if (!scope) throw new CliError('--scope must name at least one scope', 2);
    const config = await discover(url, this.seams);
    const result = await login(config, scope, {
      ...this.seams,
      openBrowser: values['no-browser'] ? null : this.seams.openBrowser,
    });
    await this.file.write({
      url,
      issuer: result.issuer,
      clientId: CLI_CLIENT_ID,
      refreshToken: result.refreshToken,
      workspaceId: result.workspaceId,
      scope: result.scope,
    });
    const who = subjectOf(result.accessToken);
    this.options.stdout(
      `Signed in to ${url}${who ? ` as user ${who}` : ''}` +
        `${result.workspaceId ? ` in workspace ${result.workspaceId}` : ''} (scope: ${result.scope}).\n`,
    );
    this.seams.say(`Credentials saved to ${this.file.path}; "logout" revokes them.`);
  }

  private async logout(): Promise<void> {
    let credentials: StoredCredentials | null;
    try {
      credentials = await this.file.read();
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      // Unreadable as credentials: nothing to revoke with, but signing out still removes it.
      await this.file.delete();
      throw new CliError(
        `Deleted ${this.file.path}, which was not a credentials file; nothing could be revoked.\n` +
          `If a sign-in may still be valid, revoke "Latchkey CLI" under Authorized apps in the console.`,
      );
    }
    if (!credentials) {
      this.seams.say('Not signed in: nothing to do.');
      return;
    }
    // Under the lock: a command running meanwhile may have rotated the token.
    const failure = await this.file.withLock(async () => {
      const current = (await this.file.read()) ?? credentials;
      try {
        await revoke(await discover(current.url, this.seams), current.refreshToken);
        return null;
      } catch (error) {
        return describe(error);
      } finally {
        await this.file.delete();
      }
    });
    if (failure) {
      throw new CliError(
        `Deleted ${this.file.path}, but the server did not confirm the revocation (${failure}).\n` +
          `The sign-in may still be valid: revoke "Latchkey CLI" under Authorized apps in the console.`,
      );
    }
    this.seams.say(
      `Signed out of ${credentials.url}: the sign-in is revoked and ${this.file.path} deleted.`,
    );
  }

  private async listConnections(args: string[]): Promise<void> {
    const { values } = parseArgs({
      args,
      options: { integration: { type: 'string' }, status: { type: 'string' } },
      strict: true,
    });
    const session = await this.session();
    const rows: ConnectionRow[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '100' });
      if (values.integration) query.set('integrationId', values.integration);
      if (values.status) query.set('status', values.status);
      if (cursor) query.set('cursor', cursor);
      const page = await session.get<{ data: ConnectionRow[]; nextCursor: string | null }>(
        `api/v1/connections?${query}`,
      );
      rows.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    if (rows.length === 0) {
      this.seams.say('No connections.');
      return;
    }
    this.options.stdout(
      table(
        ['ID', 'INTEGRATION', 'END USER', 'STATUS', 'PROVIDER ACCOUNT'],
        rows.map((c) => [
          c.id,
          c.integrationId,
          c.endUser.email ? `${c.endUser.id} <${c.endUser.email}>` : c.endUser.id,
          c.status,
          c.provider.username ?? c.provider.displayName ?? c.provider.userId,
        ]),
      ),
    );
  }

  private async connectionToken(args: string[]): Promise<void> {
    const { positionals } = parseArgs({ args, options: {}, strict: true, allowPositionals: true });
    if (positionals.length !== 1)
      throw new CliError('connections token needs one connection id', 2);
    // An id, never a path: `..` would otherwise walk out of /connections/ in the request URL.
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(positionals[0]))
      throw new CliError('connections token needs a connection id (letters, digits, - and _)', 2);
    const session = await this.session();
    const { accessToken } = await session.get<{ accessToken: string }>(
      `api/v1/connections/${encodeURIComponent(positionals[0])}/access-token`,
    );
    this.options.stdout(`${accessToken}\n`);
  }

  /**
   * An access token for this command from the stored refresh token. A rotated refresh token is
   * saved before the access token is used: the old one is spent, and losing the new one would
   * mean signing in again.
   */
  private async session(): Promise<ApiSession> {
    if (!(await this.file.read())) {
      throw new CliError('Not signed in: run login --url <latchkey> first.');
    }
    return this.file.withLock(async () => {
      const credentials = await this.file.read(); // again: another command may have rotated it
      if (!credentials) throw new CliError('Not signed in: run login --url <latchkey> first.');
      const config = await discover(credentials.url, this.seams);
      this.checkIssuer(config, credentials);
      const tokens = await refresh(config, credentials.refreshToken);
      if (tokens.refreshToken !== credentials.refreshToken) {
        await this.file.write({ ...credentials, refreshToken: tokens.refreshToken });
      }
      return new ApiSession(credentials.url, tokens.accessToken, this.seams.fetch);
    });
  }

  private checkIssuer(config: oidc.Configuration, credentials: StoredCredentials): void {
    if (config.serverMetadata().issuer !== credentials.issuer) {
      throw new CliError(
        `${credentials.url} now names issuer ${config.serverMetadata().issuer}, not ${credentials.issuer}: run login again.`,
      );
    }
  }
}

/** Latchkey's API as the signed-in person. */
class ApiSession {
  constructor(
    private readonly baseUrl: string,
    private readonly accessToken: string,
    private readonly fetch: typeof globalThis.fetch,
  ) {}

  async get<T>(relativePath: string): Promise<T> {
    const base = this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`;
    const url = new URL(relativePath, base);
    let res: Response;
    try {
      res = await this.fetch(url, {
        headers: { authorization: `Bearer ${this.accessToken}`, accept: 'application/json' },
      });
    } catch (error) {
      throw new CliError(`Could not reach ${url.origin}: ${describe(error)}`);
    }
    const body = (await res.json().catch(() => null)) as {
      error?: { code?: string; message?: string };
    } | null;
    if (!res.ok) {
      const code = body?.error?.code ?? `http_${res.status}`;
      const message = body?.error?.message ?? res.statusText;
      const hint =
        res.status === 403
          ? ' (your role in the workspace, or the scopes granted at login, do not allow it; see login --scope)'
          : '';
      throw new CliError(`${url.pathname}: ${res.status} ${code}: ${message}${hint}`);
    }
    return body as T;
  }
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ');
  return [headers, ...rows].map(line).join('\n') + '\n';
}
