import { DomainError } from '../../common/errors/domain-error.js';
import type { TemplateError } from '../providers/templates/template-errors.js';

export class ProxyError extends DomainError {
  static invalidPath(why: string): ProxyError {
    return new ProxyError(
      'proxy.invalid_path',
      'invalid',
      `The proxied path is not allowed: ${why}.`,
    );
  }
  static hostNotAllowed(): ProxyError {
    return new ProxyError(
      'proxy.host_not_allowed',
      'invalid',
      "The connection's API host is not one this offering allows.",
    );
  }
  static destinationForbidden(): ProxyError {
    return new ProxyError(
      'proxy.destination_forbidden',
      'invalid',
      'The destination is a private, loopback or link-local address.',
    );
  }
  static notAvailable(): ProxyError {
    return new ProxyError(
      'proxy.not_available',
      'conflict',
      "This connection's offering has no API base URL, so it cannot be proxied.",
    );
  }
  /**
   * The connection's values do not fit its offering's template (a value missing, or unsafe where
   * it stands). The engine's message names the key and its position, never the value.
   */
  static cannotRender(error: TemplateError): ProxyError {
    const { key, source, position } = error.details ?? {};
    return new ProxyError(
      'proxy.cannot_render',
      'unprocessable',
      `This connection's requests cannot be built from its offering's template: ${error.message}`,
      { reason: error.code, key, source, position },
    );
  }
  static bodyTooLarge(limit: number): ProxyError {
    return new ProxyError(
      'proxy.body_too_large',
      'too_large',
      `The request body is larger than the proxy accepts (${limit} bytes).`,
    );
  }
  static unreachable(detail: string): ProxyError {
    return new ProxyError(
      'proxy.upstream_unreachable',
      'upstream',
      `The provider's API could not be reached (${detail}).`,
    );
  }
  static timeout(): ProxyError {
    return new ProxyError(
      'proxy.upstream_timeout',
      'upstream_timeout',
      "The provider's API did not answer in time.",
    );
  }
}
