import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { Repository } from 'typeorm';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { ConnectionError } from '../connections/connections.errors.js';
import {
  checkConfiguration,
  CredentialConnections,
} from '../connections/credential-connections.service.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import type { Offering } from '../offerings/offering.entity.js';
import { ConnectFlowService, type ConnectPage } from './connect-flow.service.js';
import { flowOutcome, type FlowOutcome } from './connect-outcome.js';
import { ConnectSession, ConnectSessionStatus } from './connect-session.entity.js';
import { RESULT_CODE_TTL_MS } from './connect-sessions.service.js';
import { FlowPageError } from './connect.errors.js';
import { CONFIG_FIELD_PREFIX } from './connect-pages.js';
import { CREDENTIAL_FIELD_PREFIX } from './credentials-page.js';
import { fieldsWith } from './form-fields.js';
import type { DisplayMode } from './oauth-flow.entity.js';

/** Submits of the credential form per connect link: enough for typos, too few to test keys. */
export const MAX_CREDENTIAL_ATTEMPTS = 10;

/** Offerings whose connect page asks for credentials instead of sending the browser away. */
export function takesPastedCredentials(offering: Offering): boolean {
  const mode = compiledTemplateOf(offering).authMode;
  return mode === 'bearer_token' || mode === 'basic';
}

export type CredentialsSubmit =
  | { kind: 'done'; outcome: FlowOutcome }
  | { kind: 'form'; status: number; error: string; page: ConnectPage };

/**
 * The credential form of a connect link (bearer_token, basic): checks the pasted values at the
 * provider and stores the connection, completing the session in the same transaction. A refusal
 * goes back to the form with the provider's reason; nothing is stored and the link stays usable
 * (until it expires or its attempts run out).
 */
@Injectable()
export class CredentialsFlowService {
  constructor(
    @InjectRepository(ConnectSession) private readonly sessions: Repository<ConnectSession>,
    private readonly flow: ConnectFlowService,
    private readonly credentials: CredentialConnections,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async submit(
    token: string,
    display: DisplayMode,
    body: Record<string, unknown>,
  ): Promise<CredentialsSubmit> {
    const page = await this.flow.open(token);
    const { session, integration, offering } = page;
    if (!takesPastedCredentials(offering))
      throw new FlowPageError(
        409,
        'Not available',
        'This connection is made by signing in at the provider, not with a form here.',
      );
    const [rows]: [unknown[], number] = await this.sessions.query(
      `UPDATE connect_sessions SET credential_attempts = credential_attempts + 1
        WHERE id = $1 AND status = 'pending' AND credential_attempts < $2
        RETURNING credential_attempts`,
      [session.id, MAX_CREDENTIAL_ATTEMPTS],
    );
    if (rows.length !== 1)
      throw new FlowPageError(
        429,
        'Too many attempts',
        'These credentials were refused too many times. Ask the app you came from for a new link.',
      );

    const fixedValues = this.flow.configurationOf(session);
    const resultCode =
      session.redirectUri && display === 'redirect' ? this.random.token(32) : undefined;
    try {
      const configuration = checkConfiguration(
        offering,
        fieldsWith(body, CONFIG_FIELD_PREFIX),
        fixedValues,
      );
      const connection = await this.credentials.connectPasted({
        integration,
        offering,
        endUser: {
          id: session.endUserId,
          email: session.endUserEmail,
          displayName: session.endUserDisplayName,
        },
        credentials: fieldsWith(body, CREDENTIAL_FIELD_PREFIX),
        configuration,
        actor: { kind: 'end_user', id: session.endUserId },
        within: async (manager, stored) => {
          // Spends the link with the connection: a second submit racing this one stores nothing.
          const done = await manager.getRepository(ConnectSession).update(
            { id: session.id, status: ConnectSessionStatus.Pending },
            {
              status: ConnectSessionStatus.Completed,
              connectionId: stored.id,
              resultCodeHash: resultCode ? sha256Hex(resultCode) : null,
              resultCodeExpiresAt: resultCode
                ? new Date(this.clock.nowMs() + RESULT_CODE_TTL_MS)
                : null,
            },
          );
          if (done.affected !== 1)
            throw new FlowPageError(
              410,
              'Link already used',
              'This connect link has already been used. Ask the app you came from for a new one.',
            );
        },
      });
      return {
        kind: 'done',
        outcome: flowOutcome(session, display, { connectionId: connection.id, resultCode }),
      };
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      this.logger.info(
        { sessionId: session.id, error: error.code },
        'pasted credentials not accepted',
      );
      const status =
        error.code === 'connection.provider_unreachable'
          ? 502
          : error.code === 'validation.failed'
            ? 400
            : 422;
      const reason =
        error.code === 'connection.credentials_rejected'
          ? `${offering.displayName} did not accept these credentials: ${String(error.details?.reason)}.`
          : error.message;
      return { kind: 'form', status, error: reason, page };
    }
  }
}
