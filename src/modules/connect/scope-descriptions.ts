/** Plain words for well-known scopes, shown to end users before they leave for the provider. */
const DESCRIPTIONS: Record<string, string> = {
  api: 'Read and change your data through the API',
  refresh_token: 'Stay connected when you are not using the app (offline access)',
  offline_access: 'Stay connected when you are not using the app (offline access)',
  web: 'Use the web interface on your behalf',
  openid: 'Know who you are',
  id: 'See your basic profile (name, username, email)',
  profile: 'See your basic profile',
  email: 'See your email address',
  full: 'Full access to everything your account can do',
  visualforce: 'Use Visualforce pages on your behalf',
  chatter_api: 'Read and post Chatter content on your behalf',
};

export function describeScope(scope: string): string {
  return DESCRIPTIONS[scope] ?? scope;
}
