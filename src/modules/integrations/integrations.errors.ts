import { DomainError } from '../../common/errors/domain-error.js';

export class IntegrationError extends DomainError {
  static notFound(): IntegrationError {
    return new IntegrationError(
      'integration.not_found',
      'not_found',
      'No such integration in this workspace.',
    );
  }
  static invalid(fields: Record<string, string[]>): IntegrationError {
    const summary = Object.entries(fields)
      .map(([f, msgs]) => `${f} ${msgs.join('; ')}`)
      .join('; ');
    return new IntegrationError('validation.failed', 'invalid', `Invalid integration: ${summary}`, {
      fields,
    });
  }
  static credentialsRejected(message: string): IntegrationError {
    return new IntegrationError(
      'integration.credentials_rejected',
      'unprocessable',
      `${message} Nothing was changed.`,
    );
  }
  static hasConnections(count: number): IntegrationError {
    return new IntegrationError(
      'integration.has_connections',
      'conflict',
      `${count} connection(s) of this integration still hold credentials. Delete them first, or delete with ?force=true to revoke them.`,
      { connections: count },
    );
  }
  static providerUnreachable(message: string): IntegrationError {
    return new IntegrationError(
      'integration.provider_unreachable',
      'upstream',
      `${message} Nothing was changed.`,
    );
  }
}
