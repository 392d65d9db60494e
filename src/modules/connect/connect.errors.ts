import { DomainError } from '../../common/errors/domain-error.js';
import type { ConnectPage } from './connect-flow.service.js';
import type { InputProblem } from '../providers/templates/inputs.js';

export class ConnectError extends DomainError {
  static integrationNotConfigured(): ConnectError {
    return new ConnectError(
      'integration.not_configured',
      'conflict',
      'This integration is not configured (its credentials are missing or were not accepted by the provider).',
    );
  }
  static redirectUriNotAllowed(): ConnectError {
    return new ConnectError(
      'connect_session.redirect_uri_not_allowed',
      'invalid',
      "redirectUri must exactly equal one of the integration's allowedRedirectUris.",
    );
  }
  static machineOnly(): ConnectError {
    return new ConnectError(
      'connect_session.not_supported',
      'unprocessable',
      'This integration connects by client credentials: there is no end user to ask, so there are no connect sessions. Create the machine connection with POST /api/v1/connections.',
    );
  }
  /** Problems of configuration values, by input key; never the values themselves. */
  static invalidConfiguration(problems: readonly InputProblem[]): ConnectError {
    const fields: Record<string, string[]> = {};
    for (const p of problems) {
      const name = p.key ? `configuration.${p.key}` : 'configuration';
      (fields[name] ??= []).push(p.message);
    }
    const summary = Object.entries(fields)
      .map(([name, messages]) => `${name} ${messages.join('; ')}`)
      .join('; ');
    return new ConnectError('validation.failed', 'invalid', `Invalid request: ${summary}`, {
      fields,
    });
  }
  static invalidCode(): ConnectError {
    return new ConnectError(
      'connect_session.invalid_code',
      'invalid',
      'This code is unknown, expired or already used.',
    );
  }
}

/** Why a browser-facing step of the flow cannot go on; rendered as a page, never as JSON. */
export class FlowPageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * The start form's configuration values were refused: the page is shown again with the
 * problems (and the values that passed); the link is not spent and nothing is stored.
 */
export class FlowInputsError extends Error {
  constructor(
    readonly page: ConnectPage,
    readonly values: Record<string, string>,
    readonly errors: Record<string, string>,
  ) {
    super('The configuration values were refused.');
  }
}
