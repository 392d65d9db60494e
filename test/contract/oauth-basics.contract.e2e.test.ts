import { github } from '../../tools/providers/fixtures/github.js';
import { notion } from '../../tools/providers/fixtures/notion.js';
import { stripe } from '../../tools/providers/fixtures/stripe.js';
import { catalogContract } from './catalog-contract.js';

catalogContract([
  {
    key: 'notion',
    fixture: notion,
    identity: { userId: 'c0ffee00-0000-4000-8000-000000000001', displayName: 'Ada Lovelace' },
    metadata: { workspaceId: '5b7a1d2e-0000-4000-8000-00000000000a' },
    proxy: { path: '/search', method: 'POST', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'upstream',
  },
  {
    key: 'github',
    fixture: github,
    identity: { userId: '583231' },
    proxy: { path: '/user/repos', headers: { 'User-Agent': 'acme-app' }, placement: 'bearer' },
    refresh: 'none',
    revoke: 'local',
  },
  {
    key: 'stripe',
    fixture: stripe,
    credentials: { apiKey: 'sk_test_51FakeSecretKey0000000000000001' },
    identity: { userId: 'acct_1FakeStripe0001', displayName: 'Example Inc.' },
    metadata: { email: 'billing@example.com' },
    proxy: { path: '/v1/customers', placement: 'bearer' },
    refresh: 'none',
    revoke: 'local',
  },
]);
