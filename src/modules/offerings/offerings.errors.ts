import { DomainError } from '../../common/errors/domain-error.js';
import type { TemplateProblem } from '../providers/templates/index.js';

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

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
  /**
   * 400 `validation.failed`: `problems` at JSON Pointers of the template, and `fields` keyed by
   * top-level field (what forms mark), each message led by the rest of its path when nested.
   */
  static invalid(problems: readonly TemplateProblem[]): OfferingError {
    const fields: Record<string, string[]> = {};
    for (const p of problems) {
      const [top = '', ...rest] = p.path.split('/').slice(1);
      const field = unescapePointer(top) || 'offering';
      (fields[field] ??= []).push(rest.length ? `${rest.join('/')} ${p.message}` : p.message);
    }
    const summary = problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ');
    return new OfferingError('validation.failed', 'invalid', `Invalid offering: ${summary}`, {
      fields,
      problems: problems.map(({ path, message }) => ({ path, message })),
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
