/**
 * The one error type of the template engine. Messages name keys, positions and paths, never a
 * value: a value may be a token or a customer's secret.
 */
import { DomainError, type ErrorKind } from '../../../common/errors/domain-error.js';

export type TemplateErrorCode =
  /** A template string is malformed (`{{ key }}`, an unclosed `[[`, a bad JSON path). */
  | 'template.syntax'
  /** A placeholder stands where it could change a URL's structure (scheme, port, userinfo, …). */
  | 'template.placement'
  /** A placeholder has no value at render time. */
  | 'template.missing_value'
  /** A value would change a host, a path or a header if it were inserted: refused. */
  | 'template.unsafe_value'
  /** A required mapping found nothing at its path in a provider response. */
  | 'template.mapping_missing'
  /** A mapping found something other than a string or a number. */
  | 'template.mapping_type';

export class TemplateError extends DomainError {
  constructor(
    override readonly code: TemplateErrorCode,
    kind: ErrorKind,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, kind, message, details);
  }
}
