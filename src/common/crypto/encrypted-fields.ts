/**
 * Every encrypted column in the schema, so key rotation can find them all. A module that adds an
 * encrypted column registers it here; the rotation test fails for a column that is missing.
 */
export interface EncryptedColumn {
  /** Table name. */
  table: string;
  /** Primary key column (its value is the row id bound into the ciphertext). */
  idColumn: string;
  /** Database column holding the ciphertext. */
  column: string;
  /** Field name bound into the ciphertext's associated data. */
  field: string;
}

export const ENCRYPTED_COLUMNS: EncryptedColumn[] = [
  { table: 'signing_keys', idColumn: 'id', column: 'private_jwk_enc', field: 'privateJwk' },
  { table: 'integrations', idColumn: 'id', column: 'client_secret_enc', field: 'clientSecret' },
  { table: 'connections', idColumn: 'id', column: 'credentials_enc', field: 'credentials' },
  { table: 'oauth_flows', idColumn: 'id', column: 'code_verifier_enc', field: 'codeVerifier' },
  {
    table: 'connect_sessions',
    idColumn: 'id',
    column: 'configuration_secrets_enc',
    field: 'configuration_secrets',
  },
  { table: 'webhook_endpoints', idColumn: 'id', column: 'secret_enc', field: 'secret' },
  {
    table: 'webhook_endpoints',
    idColumn: 'id',
    column: 'previous_secret_enc',
    field: 'previous_secret',
  },
];
