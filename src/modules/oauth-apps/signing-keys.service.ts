import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { type DataSource, type EntityManager, IsNull, Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { announceChange, ChangeFeed } from '../../common/events/change-feed.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { SigningKey } from './signing-key.entity.js';

export const SIGNING_ALG = 'ES256';
const FIELD = { table: 'signing_keys', field: 'privateJwk' } as const;
/** A verifier that meets an unknown `kid` re-reads the table at most this often. */
const RELOAD_INTERVAL_MS = 5_000;
/**
 * A retired key stays published this long beyond a token's lifetime: a replica may still sign with
 * it until it hears of the rotation, and clocks differ a little.
 */
export const SIGNING_KEY_GRACE_SECONDS = 60;
const ROTATION_LOCK = 'latchkey:signing-key-rotation';

type Key = Awaited<ReturnType<typeof importJWK>>;

/** Retired keys at or before this moment sign no token that can still be valid. */
function publicationHorizon(nowMs: number, tokenTtlSeconds: number): Date {
  return new Date(nowMs - (tokenTtlSeconds + SIGNING_KEY_GRACE_SECONDS) * 1000);
}

async function newSigningKey(keyRing: KeyRing, random: RandomSource) {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const kid = random.token(16);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
  const privateJwk = JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG });
  return {
    id: kid,
    alg: SIGNING_ALG,
    publicJwk,
    privateJwkEnc: keyRing.encrypt(privateJwk, { ...FIELD, rowId: kid }),
    retiredAt: null,
  };
}

/**
 * `signing-key:rotate`: a new key signs from now on; the others are retired (they keep verifying
 * and stay in the JWKS until the tokens they signed have expired), and keys retired longer ago
 * than that are deleted. Every replica hears of it through the change feed when it commits.
 */
export async function rotateSigningKey(
  dataSource: DataSource,
  keyRing: KeyRing,
  random: RandomSource,
  clock: Clock,
  tokenTtlSeconds: number,
): Promise<{ kid: string; retired: number; deleted: number }> {
  const row = await newSigningKey(keyRing, random);
  return dataSource.transaction(async (manager) => {
    // Two rotations at once must still leave exactly one signer.
    await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [ROTATION_LOCK]);
    const now = clock.now();
    const deleted = await manager
      .createQueryBuilder()
      .delete()
      .from(SigningKey)
      .where('retired_at <= :horizon', {
        horizon: publicationHorizon(now.getTime(), tokenTtlSeconds),
      })
      .execute();
    const retired = await manager
      .createQueryBuilder()
      .update(SigningKey)
      .set({ retiredAt: now })
      .where('retired_at IS NULL')
      .execute();
    await manager.getRepository(SigningKey).insert(row);
    await announceChange(manager, { kind: 'signing-key', id: '*' });
    return { kid: row.id, retired: retired.affected ?? 0, deleted: deleted.affected ?? 0 };
  });
}

/**
 * The asymmetric keys that sign API tokens. Stored in the database (private half encrypted), so
 * every replica signs and verifies with the same keys; cached in memory after first use, until
 * the change feed announces a rotation (or while it is down: then the signer is re-read each time).
 */
@Injectable()
export class SigningKeysService {
  private signing: { kid: string; key: Key; epoch: number } | undefined;
  private verifying = new Map<string, { key: Key; retiredAt: Date | null }>();
  private lastReload = 0;
  private reloading: Promise<void> | undefined;
  /** Bumped by every rotation heard of: a load that raced one is not cached. */
  private generation = 0;

  constructor(
    @InjectRepository(SigningKey) private readonly keys: Repository<SigningKey>,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly changes: ChangeFeed,
  ) {
    changes.subscribe((change) => {
      if (change.kind !== 'signing-key') return;
      this.generation++;
      this.signing = undefined;
      this.lastReload = 0; // a new kid from another replica is looked up at once
    });
  }

  /** Makes the first signing key if there is none. Call inside the bootstrap lock. */
  async ensureActiveKey(manager: EntityManager): Promise<void> {
    const repo = manager.getRepository(SigningKey);
    if (await repo.existsBy({ retiredAt: IsNull() })) return;
    await repo.insert(await newSigningKey(this.keyRing, this.random));
  }

  async signingKey(): Promise<{ kid: string; key: Key }> {
    const { healthy, epoch } = this.changes;
    if (this.signing && healthy && this.signing.epoch === epoch) return this.signing;
    const generation = this.generation;
    const row = await this.keys.findOne({
      where: { retiredAt: IsNull() },
      order: { createdAt: 'DESC' },
    });
    if (!row) throw new Error('No active signing key: start-up did not complete');
    const jwk = JSON.parse(
      this.keyRing.decrypt(row.privateJwkEnc, { ...FIELD, rowId: row.id }),
    ) as JWK;
    const signer = { kid: row.id, key: await importJWK(jwk, SIGNING_ALG), epoch };
    if (healthy && generation === this.generation) this.signing = signer;
    return signer;
  }

  /** The public key for a `kid`, or undefined when no such key is published. */
  async verificationKey(kid: string): Promise<Key | undefined> {
    const cached = this.verifying.get(kid);
    if (cached) return this.published(cached.retiredAt) ? cached.key : undefined;
    // Concurrent misses share one reload; after it, unknown kids wait out the interval.
    if (!this.reloading) {
      const now = this.clock.nowMs();
      if (now - this.lastReload < RELOAD_INTERVAL_MS) return undefined;
      this.lastReload = now;
      this.reloading = this.reloadVerificationKeys().finally(() => (this.reloading = undefined));
    }
    await this.reloading;
    return this.verifying.get(kid)?.key;
  }

  private async reloadVerificationKeys(): Promise<void> {
    const verifying = new Map<string, { key: Key; retiredAt: Date | null }>();
    for (const row of await this.publishedKeys()) {
      const key =
        this.verifying.get(row.id)?.key ?? (await importJWK(row.publicJwk as JWK, row.alg));
      verifying.set(row.id, { key, retiredAt: row.retiredAt });
    }
    this.verifying = verifying;
  }

  private published(retiredAt: Date | null): boolean {
    return (
      !retiredAt ||
      retiredAt > publicationHorizon(this.clock.nowMs(), this.config.apiTokenTtlSeconds)
    );
  }

  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    return { keys: (await this.publishedKeys()).map((k) => k.publicJwk) };
  }

  /** Active keys, and retired ones until every token they signed has expired. */
  private async publishedKeys(): Promise<SigningKey[]> {
    const horizon = publicationHorizon(this.clock.nowMs(), this.config.apiTokenTtlSeconds);
    return this.keys
      .createQueryBuilder('k')
      .where('k.retired_at IS NULL OR k.retired_at > :horizon', { horizon })
      .orderBy('k.created_at', 'DESC')
      .getMany();
  }
}
