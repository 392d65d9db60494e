import { DomainError } from '../../common/errors/domain-error.js';

export class OfferingError extends DomainError {
  static notFound(): OfferingError {
    return new OfferingError('offering.not_found', 'not_found', 'No such offering.');
  }
  static keyTaken(key: string): OfferingError {
    return new OfferingError(
      'offering.key_taken',
      'conflict',
      `An offering with key "${key}" already exists.`,
    );
  }
  static builtInReadOnly(): OfferingError {
    return new OfferingError(
      'offering.built_in',
      'conflict',
      'Built-in offerings come from the catalog files shipped with Latchkey: they can be enabled or disabled, not edited or deleted.',
    );
  }
  static inUse(count: number): OfferingError {
    return new OfferingError(
      'offering.in_use',
      'conflict',
      `${count} integration(s) use this offering; delete them first.`,
      { integrations: count },
    );
  }
  static disabled(): OfferingError {
    return new OfferingError(
      'offering.disabled',
      'conflict',
      'This offering is disabled: no new integrations or connections can use it.',
    );
  }
  static invalid(fields: Record<string, string[]>): OfferingError {
    const summary = Object.entries(fields)
      .map(([f, msgs]) => `${f} ${msgs.join('; ')}`)
      .join('; ');
    return new OfferingError('validation.failed', 'invalid', `Invalid offering: ${summary}`, {
      fields,
    });
  }
  static discoveryFailed(issuer: string, reason: string): OfferingError {
    return new OfferingError(
      'offering.discovery_failed',
      'unprocessable',
      `OpenID discovery for ${issuer} failed (${reason}). Give the endpoints explicitly or check the issuer.`,
    );
  }
}
