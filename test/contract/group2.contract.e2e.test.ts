import { atlassian } from '../../tools/providers/fixtures/atlassian.js';
import { intercom } from '../../tools/providers/fixtures/intercom.js';
import { pipedrive } from '../../tools/providers/fixtures/pipedrive.js';
import { shopify } from '../../tools/providers/fixtures/shopify.js';
import { slack } from '../../tools/providers/fixtures/slack.js';
import { zendesk } from '../../tools/providers/fixtures/zendesk.js';
import { catalogContract } from './catalog-contract.js';

catalogContract([
  {
    key: 'slack',
    fixture: slack,
    identity: { userId: 'T0FAKETEAM1', displayName: 'Fake Softball Team' },
    metadata: { teamId: 'T0FAKETEAM1', botUserId: 'U0FAKEBOT01', authedUserId: 'U0FAKEUSER1' },
    proxy: { path: '/conversations.list', placement: 'bearer' },
    refresh: 'none',
    revoke: 'upstream',
  },
  {
    key: 'shopify',
    fixture: shopify,
    configuration: { shop: 'acme-store' },
    identity: { userId: '548380009', displayName: 'Acme Store' },
    metadata: { myshopifyDomain: 'acme-store.myshopify.com' },
    proxy: { path: '/api/2025-07/products.json', placement: 'header' },
    refresh: 'none',
    revoke: 'local',
    verifiesSecret: false,
  },
  {
    key: 'zendesk',
    fixture: zendesk,
    configuration: { subdomain: 'acme' },
    identity: { userId: '35436', displayName: 'Ada Lovelace' },
    metadata: { role: 'admin' },
    proxy: { path: '/tickets', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
    verifiesSecret: false,
  },
  {
    key: 'atlassian',
    fixture: atlassian,
    identity: {
      userId: '712020:0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7',
      displayName: 'Ada Lovelace',
    },
    metadata: { cloudId: '1324a887-45db-1bf4-1e99-ef0ff456d421', siteName: 'Example' },
    proxy: { path: '/rest/api/3/myself', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
  },
  {
    key: 'intercom',
    fixture: intercom,
    identity: { userId: 'ecahpwf5', displayName: 'Analytical Engines' },
    metadata: { adminId: '991267' },
    proxy: { path: '/contacts', placement: 'bearer' },
    refresh: 'none',
    revoke: 'local',
  },
  {
    key: 'pipedrive',
    fixture: pipedrive,
    identity: { userId: '777', displayName: 'Ada Lovelace' },
    metadata: { companyDomain: 'analytical-engines' },
    proxy: { path: '/api/v1/deals', placement: 'bearer' },
    refresh: 'static',
    revoke: 'local',
  },
]);
