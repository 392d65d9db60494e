import { Global, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { Agent } from 'undici';
import { APP_CONFIG } from '../../app.tokens.js';
import type { AppConfig } from '../../config/config.js';
import { guardedLookup } from './address-guard.js';

export interface OutboundHttpOptions {
  /** Refuse private, loopback and link-local destinations (off only with insecure providers allowed). */
  blockPrivateAddresses: boolean;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

export const DEFAULT_OUTBOUND_TIMEOUTS: Omit<OutboundHttpOptions, 'blockPrivateAddresses'> = {
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 15_000,
};

/**
 * The one outbound HTTP client: a keep-alive undici connection pool with timeouts. openid-client
 * gets a WHATWG `fetch` bound to it (it needs real global Response objects); the proxy will use
 * the same dispatcher for streaming requests.
 */
@Injectable()
export class OutboundHttp implements OnModuleDestroy {
  readonly dispatcher: Agent;
  readonly blockPrivateAddresses: boolean;

  constructor(options: OutboundHttpOptions) {
    this.blockPrivateAddresses = options.blockPrivateAddresses;
    this.dispatcher = new Agent({
      connect: {
        timeout: options.connectTimeoutMs,
        ...(options.blockPrivateAddresses ? { lookup: guardedLookup } : {}),
      },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  /** `fetch` through the pool; pass as openid-client's customFetch. */
  readonly fetch = (url: string | URL, init: RequestInit = {}): Promise<Response> =>
    // Node's global fetch accepts an undici dispatcher; its bundled types name a different class.
    fetch(url, { ...init, dispatcher: this.dispatcher } as unknown as RequestInit);

  async onModuleDestroy(): Promise<void> {
    await this.dispatcher.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: OutboundHttp,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new OutboundHttp({
          ...DEFAULT_OUTBOUND_TIMEOUTS,
          blockPrivateAddresses: !config.allowInsecureProviders,
        }),
    },
  ],
  exports: [OutboundHttp],
})
export class OutboundHttpModule {}
