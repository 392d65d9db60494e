import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config/config.js';
import { loadKeyRing } from './common/crypto/load-key-ring.js';
import { rotateKeys } from './common/crypto/rotate-keys.js';
import { DomainError } from './common/errors/domain-error.js';
import { RandomSource } from './common/random.js';
import { SystemClock } from './common/time/clock.js';
import { readCatalog } from './modules/offerings/offering-catalog.service.js';
import { PROVIDERS_DOC_PATH, renderProvidersDoc } from './modules/offerings/providers-doc.js';
import { rotateSigningKey } from './modules/oauth-apps/signing-keys.service.js';
import { User, type UserRole } from './modules/users/user.entity.js';
import { UsersService } from './modules/users/users.service.js';
import { WorkspaceMember } from './modules/users/workspace-member.entity.js';
import { createLogger } from './common/logging/logger.js';
import { createDataSource, migrate } from './database/data-source.js';
import { openDatabase } from './database/open-database.js';
import { pendingSchemaChanges } from './database/schema-diff.js';
import { isRemoteCommand, REMOTE_USAGE, runRemoteCommand } from './cli/remote-cli.js';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  migration:run              apply pending migrations
  migration:revert           undo the most recent migration
  migration:generate <Name>  write migrations/<timestamp>-<Name>.ts from the entity/schema difference
  rotate-keys                re-encrypt every stored secret under the first LATCHKEY_ENCRYPTION_KEYS key
  signing-key:rotate         make a new API token signing key the signer; old keys keep verifying (and stay
                             in /.well-known/jwks.json) until the tokens they signed have expired
  docs:providers [file]      write docs/providers.md (or the file named) from the catalog files offerings/*.json
  user:create <email> <admin|developer> [workspace-slug]
                             create a console user (a developer joins the workspace, default "default");
                             the generated password is printed once

Remote commands (to a running Latchkey, as you; no database or server configuration needed):
${REMOTE_USAGE}`;

// Source tree root (dist/src/cli.js → repo root), where migrations/*.ts live.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  // Needs no configuration and no database: the catalog files are all it reads.
  if (command === 'docs:providers') {
    const file = path.resolve(REPO_ROOT, args[0] ?? PROVIDERS_DOC_PATH);
    const templates = await readCatalog();
    await writeFile(file, renderProvidersDoc(templates));
    console.log(`Wrote ${path.relative(REPO_ROOT, file)} (${templates.length} offerings).`);
    return 0;
  }
  if (isRemoteCommand(command)) {
    return runRemoteCommand(argv, {
      env: process.env,
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    });
  }
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const db = await openDatabase(config, logger);
  const dataSource = createDataSource(db.url);
  await dataSource.initialize();
  try {
    switch (command) {
      case 'migration:run': {
        const done = await migrate(dataSource);
        console.log(done.length ? `Applied: ${done.join(', ')}` : 'No pending migrations.');
        return 0;
      }
      case 'migration:revert': {
        await dataSource.undoLastMigration({ transaction: 'each' });
        console.log('Reverted the most recent migration.');
        return 0;
      }
      case 'migration:generate': {
        const name = args[0];
        if (!name || !/^[A-Z][A-Za-z0-9]*$/.test(name)) {
          console.error('migration:generate needs a PascalCase name, e.g. AddConnections');
          return 2;
        }
        await migrate(dataSource);
        const { up, down } = await pendingSchemaChanges(dataSource);
        if (up.length === 0) {
          console.log('Entities and migrations agree: nothing to generate.');
          return 0;
        }
        const file = await writeMigration(name, up, down);
        console.log(
          `Wrote ${path.relative(REPO_ROOT, file)} (${up.length} statements). Review it before committing.`,
        );
        return 0;
      }
      case 'rotate-keys': {
        const keyRing = await loadKeyRing(config, logger);
        await migrate(dataSource);
        const reports = await rotateKeys(dataSource, keyRing);
        for (const r of reports)
          console.log(`${r.table}.${r.column}: re-encrypted ${r.reEncrypted}`);
        console.log(`All secrets are now under key "${keyRing.primaryKeyId}".`);
        return 0;
      }
      case 'signing-key:rotate': {
        const keyRing = await loadKeyRing(config, logger);
        await migrate(dataSource);
        const { kid, retired, deleted } = await rotateSigningKey(
          dataSource,
          keyRing,
          new RandomSource(),
          new SystemClock(),
          config.apiTokenTtlSeconds,
        );
        console.log(
          `New signing key: ${kid}\nRetired ${retired}; they stay published until the tokens they signed have expired` +
            ` (LATCHKEY_API_TOKEN_TTL_SECONDS + 60 s). Deleted ${deleted} that no valid token can need.`,
        );
        return 0;
      }
      case 'user:create': {
        const [email, role, slug = 'default'] = args;
        if (
          !email ||
          !/^[^\s@]+@[^\s@]+$/.test(email) ||
          (role !== 'admin' && role !== 'developer')
        ) {
          console.error(
            'user:create needs an email and a role (admin or developer), e.g. user:create dev@example.com developer',
          );
          return 2;
        }
        await migrate(dataSource);
        const [workspace]: Array<{ id: string }> = await dataSource.query(
          'SELECT id FROM workspaces WHERE slug = $1',
          [slug],
        );
        if (!workspace) {
          console.error(`No workspace with slug "${slug}".`);
          return 1;
        }
        const users = new UsersService(
          dataSource.getRepository(User),
          dataSource.getRepository(WorkspaceMember),
          new RandomSource(),
        );
        const password = randomBytes(18).toString('base64url');
        try {
          await dataSource.transaction((tx) =>
            users.create(
              { email, password, role: role as UserRole, workspaceIds: [workspace.id] },
              tx,
            ),
          );
        } catch (error) {
          console.error(error instanceof DomainError ? error.message : error);
          return 1;
        }
        console.log(
          `Created ${role} ${email.toLowerCase()} in workspace "${slug}".\nPassword (shown only now): ${password}`,
        );
        return 0;
      }
      default:
        console.error(`Unknown command "${command}".\n\n${USAGE}`);
        return 2;
    }
  } finally {
    await dataSource.destroy();
    await db.embedded?.stop();
  }
}

async function writeMigration(name: string, up: string[], down: string[]): Promise<string> {
  const timestamp = Date.now();
  const className = `${name}${timestamp}`;
  const file = path.join(REPO_ROOT, 'migrations', `${timestamp}-${name}.ts`);
  const q = (sql: string) => `    await queryRunner.query(${JSON.stringify(sql)});`;
  await writeFile(
    file,
    `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
${up.map(q).join('\n')}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${down.map(q).join('\n')}
  }
}
`,
  );
  const indexFile = path.join(REPO_ROOT, 'migrations', 'index.ts');
  let index = await readFile(indexFile, 'utf8');
  index = `import { ${className} } from './${timestamp}-${name}.js';\n` + index;
  index = index.replace(/= \[([^\]]*)\];/s, (_m, list: string) => {
    const items = list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    items.push(className);
    return `= [\n  ${items.join(',\n  ')},\n];`;
  });
  await writeFile(indexFile, index);
  return file;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
