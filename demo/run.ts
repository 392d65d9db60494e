/**
 * `npm run demo`: Latchkey (as `npm start` runs it, embedded PostgreSQL in its own data directory)
 * with a local interactive Salesforce-like provider and a local Stripe (the data-driven fake with
 * the Stripe fixture), their offerings and configured integrations made through the API, and a
 * small developer app to click through, which receives and verifies Latchkey's signed webhooks.
 *
 * Environment: PORT (Latchkey, 3000), DEMO_PROVIDER_PORT (4010), DEMO_STRIPE_PORT (4011),
 * DEMO_APP_PORT (4020), LATCHKEY_DATA_DIR (.latchkey-demo), LATCHKEY_EMBEDDED_PG_PORT (54330),
 * LOG_LEVEL (warn).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeProvider, type FakeProvider } from '../tools/providers/fake/fake-provider.js';
import { stripe as stripeFixture } from '../tools/providers/fixtures/stripe.js';
import {
  DEFAULT_PASSWORD,
  DEFAULT_USER,
  SalesforceTestProvider,
} from '../tools/providers/salesforce/index.js';
import {
  DEMO_END_USER,
  DEMO_PROXY_PATH,
  DEMO_STRIPE_PROXY_PATH,
  demoIntegrations,
  startDemoApp,
  type DemoApp,
} from './app-server.js';
import { DEMO_STRIPE_API_KEY, setUpDemo } from './setup.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN = { email: 'demo@latchkey.local', password: 'latchkey-demo-admin' };
const BOOTSTRAP_CLIENT_ID = 'demo-admin';

function port(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 65535)
    throw new Error(`${name} must be a port number (got "${raw}")`);
  return value;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  const ports = {
    latchkey: port('PORT', 3000),
    provider: port('DEMO_PROVIDER_PORT', 4010),
    stripe: port('DEMO_STRIPE_PORT', 4011),
    app: port('DEMO_APP_PORT', 4020),
  };
  const latchkeyUrl = `http://localhost:${ports.latchkey}`;
  const dataDir = process.env.LATCHKEY_DATA_DIR?.trim() || '.latchkey-demo';
  const bootstrap = {
    clientId: BOOTSTRAP_CLIENT_ID,
    clientSecret: randomBytes(24).toString('base64url'),
  };
  const entry = resolve(ROOT, 'dist/src/main.js');
  if (!existsSync(entry))
    throw new Error(`${entry} is missing: run "npm run build" first (npm run demo does)`);

  let provider: SalesforceTestProvider | undefined;
  let stripe: FakeProvider | undefined;
  let latchkey: ChildProcess | undefined;
  let latchkeyExit: Promise<number | null> | undefined;
  let app: DemoApp | undefined;
  let stopping = false;

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the demo…');
    await app?.close().catch(() => undefined);
    if (latchkey && latchkey.exitCode === null && latchkey.signalCode === null) {
      latchkey.kill('SIGTERM');
      const timer = setTimeout(() => latchkey?.kill('SIGKILL'), 20_000);
      await latchkeyExit;
      clearTimeout(timer);
    }
    await provider?.close().catch(() => undefined);
    await stripe?.close().catch(() => undefined);
    console.log('Demo stopped.');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(0));
  // `npm run` does not pass SIGTERM on through its shell: when our parent goes away, stop too.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && void stop(0), 1000).unref();

  try {
    provider = await SalesforceTestProvider.start({
      interactive: true,
      port: ports.provider,
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE'
        ? new Error(`Port ${ports.provider} is in use: set DEMO_PROVIDER_PORT to another port`)
        : error;
    });
    console.log(`Demo Salesforce provider: ${provider.url}`);
    stripe = await startFakeProvider(stripeFixture, { port: ports.stripe }).catch(
      (error: NodeJS.ErrnoException) => {
        throw error.code === 'EADDRINUSE'
          ? new Error(`Port ${ports.stripe} is in use: set DEMO_STRIPE_PORT to another port`)
          : error;
      },
    );
    console.log(`Demo Stripe provider: ${stripe.url}`);

    console.log(
      `Starting Latchkey (data in ${dataDir}; the first start initialises PostgreSQL and takes a little longer)…`,
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(ports.latchkey),
      PUBLIC_URL: latchkeyUrl,
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_EMBEDDED_PG_PORT: process.env.LATCHKEY_EMBEDDED_PG_PORT?.trim() || '54330',
      LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
      LATCHKEY_ADMIN_EMAIL: ADMIN.email,
      LATCHKEY_ADMIN_PASSWORD: ADMIN.password,
      LATCHKEY_BOOTSTRAP_CLIENT_ID: bootstrap.clientId,
      LATCHKEY_BOOTSTRAP_CLIENT_SECRET: bootstrap.clientSecret,
      LOG_LEVEL: process.env.LOG_LEVEL?.trim() || 'warn',
    };
    // The demo keeps to its own data directory: an outer database or key ring would mix with it.
    delete env.DATABASE_URL;
    delete env.LATCHKEY_ENCRYPTION_KEYS;
    const child = spawn(process.execPath, [entry], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    latchkey = child;
    latchkeyExit = new Promise((done) => child.once('exit', (code) => done(code)));
    prefixLines(child.stdout, process.stdout);
    prefixLines(child.stderr, process.stderr);
    void latchkeyExit.then((code) => {
      if (stopping) return;
      console.error(`Latchkey exited unexpectedly (code ${code}).`);
      void stop(1);
    });
    await waitForReady(latchkeyUrl, () => child.exitCode !== null);

    const setup = await setUpDemo({ latchkeyUrl, ...bootstrap, provider, stripe });
    app = await startDemoApp({
      latchkeyUrl,
      ...bootstrap,
      integrations: demoIntegrations({
        salesforce: setup.integrationId,
        stripe: setup.stripe.integrationId,
      }),
      port: ports.app,
      hostname: 'localhost',
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE'
        ? new Error(`Port ${ports.app} is in use: set DEMO_APP_PORT to another port`)
        : error;
    });
    console.log(
      banner({
        latchkeyUrl,
        appUrl: app.url,
        webhookUrl: app.webhook.url,
        providerUrl: provider.url,
        stripeUrl: stripe.url,
        dataDir,
        integrationId: setup.integrationId,
        stripeIntegrationId: setup.stripe.integrationId,
        bootstrap,
      }),
    );
  } catch (error) {
    console.error(
      `\nThe demo could not start: ${error instanceof Error ? error.message : String(error)}`,
    );
    await stop(1);
  }
}

/** Polls /readyz until Latchkey answers 200 (first start: PostgreSQL initdb and migrations). */
async function waitForReady(latchkeyUrl: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('Latchkey stopped during start-up (see its output above)');
    try {
      const res = await fetch(`${latchkeyUrl}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(300);
  }
  throw new Error(`Latchkey did not become ready at ${latchkeyUrl}/readyz within 3 minutes`);
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Latchkey's JSON log lines as short text ("warn: …"); anything else as it is. */
function readable(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string };
    return entry.msg ? `${LEVELS[entry.level ?? 30] ?? 'log'}: ${entry.msg}` : line;
  } catch {
    return line;
  }
}

function prefixLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream): void {
  let rest = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) to.write(`  [latchkey] ${readable(line)}\n`);
  });
  from.on('end', () => rest && to.write(`  [latchkey] ${readable(rest)}\n`));
}

function banner(d: {
  latchkeyUrl: string;
  appUrl: string;
  webhookUrl: string;
  providerUrl: string;
  stripeUrl: string;
  dataDir: string;
  integrationId: string;
  stripeIntegrationId: string;
  bootstrap: { clientId: string; clientSecret: string };
}): string {
  const lk = d.latchkeyUrl;
  const tokenCmd =
    `TOKEN=$(curl -s -u '${d.bootstrap.clientId}:${d.bootstrap.clientSecret}' -d grant_type=client_credentials ${lk}/api/v1/oauth/token \\\n` +
    `      | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).access_token')`;
  const connectionCmd =
    `CONNECTION_ID=$(curl -s -H "Authorization: Bearer $TOKEN" "${lk}/api/v1/connections?integrationId=${d.integrationId}&endUserId=${DEMO_END_USER.id}&status=active" \\\n` +
    `      | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).data[0]?.id')`;
  return `
  ────────────────────────────────────────────────────────────────────────────
  Latchkey demo is running. Stop it with Ctrl+C.

  1. Open the demo app and click "Connect Salesforce":
       ${d.appUrl}
     At the demo Salesforce sign-in, log in as
       username ${DEFAULT_USER.username}
       password ${DEFAULT_PASSWORD}
     then click "Allow". Back in the app, click "Call the API through the proxy".

  2. In the same app, click "Connect Stripe" (an API key, no OAuth). On Latchkey's connect page
     paste this Stripe test key, which the local Stripe knows:
       ${DEMO_STRIPE_API_KEY}
     then click "Connect Demo Stripe (local)". Latchkey checks the key (GET /v1/account) and
     keeps it; click "Call the Stripe API through the proxy" (GET ${DEMO_STRIPE_PROXY_PATH}).

  3. Latchkey's console (integrations "Demo Salesforce" and "Demo Stripe", their connections):
       ${lk}/login
       email    ${ADMIN.email}
       password ${ADMIN.password}
     API docs: ${lk}/api/docs

  4. The same from a shell, with this run's admin OAuth App (its secret changes every run):
     ${tokenCmd}
     ${connectionCmd}
     curl -s -H "Authorization: Bearer $TOKEN" ${lk}/api/v1/connections/$CONNECTION_ID/access-token
     curl -s -H "Authorization: Bearer $TOKEN" ${lk}/api/v1/proxy/$CONNECTION_ID${DEMO_PROXY_PATH}
     (Stripe: integrationId=${d.stripeIntegrationId}, then …/proxy/$CONNECTION_ID${DEMO_STRIPE_PROXY_PATH})

  5. Webhooks: Latchkey signs each change of the app's connections and posts it to
       ${d.webhookUrl}
     The app verifies it with verifyWebhook from @latchkey/node and lists it under each section
     (connection.created after a connect). Restart the demo, then make Latchkey refresh the
     connection of the earlier run (the new provider forgot it) and connection.needs_reauth appears:
     curl -s -X POST -H "Authorization: Bearer $TOKEN" ${lk}/api/v1/connections/$CONNECTION_ID/refresh

  The demo provider (${d.providerUrl}) keeps its accounts and tokens in memory only: after a
  restart, connections from an earlier run fail to refresh (needs_reauth) until you connect again.
  The local Stripe (${d.stripeUrl}) always knows the test key above.
  Latchkey's data lives in ${d.dataDir}/ — delete it to start over.
  ────────────────────────────────────────────────────────────────────────────
`;
}

void main();
