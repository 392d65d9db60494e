import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { type EntityManager, IsNull, Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { SigningKey } from './signing-key.entity.js';

export const SIGNING_ALG = 'ES256';
const FIELD = { table: 'signing_keys', field: 'privateJwk' } as const;
/** A verifier that meets an unknown `kid` re-reads the table at most this often. */
const RELOAD_INTERVAL_MS = 5_000;

type Key = Awaited<ReturnType<typeof importJWK>>;

/**
 * The asymmetric keys that sign API tokens. Stored in the database (private half encrypted), so
 * every replica signs and verifies with the same keys; cached in memory after first use.
 */
@Injectable()
export class SigningKeysService {
  private signing: { kid: string; key: Key } | undefined;
  private verifying = new Map<string, Key>();
  private lastReload = 0;
  private reloading: Promise<void> | undefined;

  constructor(
    @InjectRepository(SigningKey) private readonly keys: Repository<SigningKey>,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Makes the first signing key if there is none. Call inside the bootstrap lock. */
  async ensureActiveKey(manager: EntityManager): Promise<void> {
    const repo = manager.getRepository(SigningKey);
    if (await repo.existsBy({ retiredAt: IsNull() })) return;
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = this.random.token(16);
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    const privateJwk = JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG });
    await repo.insert({
      id: kid,
      alg: SIGNING_ALG,
      publicJwk,
      privateJwkEnc: this.keyRing.encrypt(privateJwk, { ...FIELD, rowId: kid }),
      retiredAt: null,
    });
  }

  async signingKey(): Promise<{ kid: string; key: Key }> {
    if (this.signing) return this.signing;
    const row = await this.keys.findOne({ where: { retiredAt: IsNull() }, order: { createdAt: 'DESC' } });
    if (!row) throw new Error('No active signing key: start-up did not complete');
    const jwk = JSON.parse(this.keyRing.decrypt(row.privateJwkEnc, { ...FIELD, rowId: row.id })) as JWK;
    this.signing = { kid: row.id, key: await importJWK(jwk, SIGNING_ALG) };
    return this.signing;
  }

  /** The public key for a `kid`, or undefined when no such key is published. */
  async verificationKey(kid: string): Promise<Key | undefined> {
    const cached = this.verifying.get(kid);
    if (cached) return cached;
    // Concurrent misses share one reload; after it, unknown kids wait out the interval.
    if (!this.reloading) {
      const now = this.clock.nowMs();
      if (now - this.lastReload < RELOAD_INTERVAL_MS) return undefined;
      this.lastReload = now;
      this.reloading = this.reloadVerificationKeys().finally(() => (this.reloading = undefined));
    }
    await this.reloading;
    return this.verifying.get(kid);
  }

  private async reloadVerificationKeys(): Promise<void> {
    for (const row of await this.publishedKeys()) {
      if (!this.verifying.has(row.id)) this.verifying.set(row.id, await importJWK(row.publicJwk as JWK, row.alg));
    }
  }

  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    return { keys: (await this.publishedKeys()).map((k) => k.publicJwk) };
  }

  /** Active keys, and retired ones until every token they signed has expired. */
  private async publishedKeys(): Promise<SigningKey[]> {
    const horizon = new Date(this.clock.nowMs() - this.config.apiTokenTtlSeconds * 1000);
    return this.keys
      .createQueryBuilder('k')
      .where('k.retired_at IS NULL OR k.retired_at > :horizon', { horizon })
      .orderBy('k.created_at', 'DESC')
      .getMany();
  }
}
