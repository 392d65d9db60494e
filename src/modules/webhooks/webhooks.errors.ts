import { DomainError } from '../../common/errors/domain-error.js';

export class WebhookError extends DomainError {
  static endpointNotFound(): WebhookError {
    return new WebhookError(
      'webhook_endpoint.not_found',
      'not_found',
      'No such webhook endpoint in this workspace.',
    );
  }
  static deliveryNotFound(): WebhookError {
    return new WebhookError(
      'webhook_delivery.not_found',
      'not_found',
      'No such delivery for this webhook endpoint.',
    );
  }
  static invalidUrl(problem: string): WebhookError {
    return new WebhookError(
      'webhook_endpoint.invalid_url',
      'invalid',
      `url ${problem}. Nothing was changed.`,
      { field: 'url' },
    );
  }
  static endpointDisabled(): WebhookError {
    return new WebhookError(
      'webhook_endpoint.disabled',
      'conflict',
      'This webhook endpoint is disabled; enable it before retrying a delivery.',
    );
  }
  static invalidCursor(): WebhookError {
    return new WebhookError(
      'validation.failed',
      'invalid',
      'cursor is not a cursor returned by this API.',
    );
  }
}
