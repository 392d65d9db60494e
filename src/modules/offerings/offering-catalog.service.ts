import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { repoDirectory } from '../../common/files/repo-directory.js';
import { LOGGER } from '../../common/logging/logger.js';
import { type ProviderTemplate, validateTemplate } from '../providers/templates/index.js';
import { OfferingsService } from './offerings.service.js';

/** The repository's `offerings/` directory. */
export function catalogDirectory(): string {
  return repoDirectory('offerings', 'The built-in offering catalog (offerings/*.json)');
}

/**
 * Reads one catalog file and checks it with the API's own rules (validateTemplate: the JSON
 * Schema and the semantic rules); a bad file fails start, naming the file and each JSON path.
 * Catalog files name real providers, so insecure provider URLs are never accepted here.
 */
export async function readCatalogFile(file: string): Promise<ProviderTemplate> {
  const name = path.basename(file);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`Invalid offering catalog file ${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const result = validateTemplate(raw, { allowInsecure: false });
  if (!result.ok) {
    const detail = result.errors.map((e) => `${e.path || '/'} ${e.message}`);
    throw new Error(`Invalid offering catalog file ${name}: ${detail.join(' | ')}`);
  }
  return result.template;
}

/** Every catalog file of `dir` (default: the repository's `offerings/`), checked, in file-name order. */
export async function readCatalog(dir = catalogDirectory()): Promise<ProviderTemplate[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map((f) => readCatalogFile(path.join(dir, f))));
}

/** Upserts the built-in catalog at start. Idempotent; safe when replicas start together. */
@Injectable()
export class OfferingCatalogService implements OnApplicationBootstrap {
  constructor(
    private readonly offerings: OfferingsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const dto of await readCatalog()) {
      const result = await this.offerings.upsertBuiltIn(dto);
      if (result === 'skipped') {
        this.logger.warn(
          { key: dto.key },
          'an admin-created offering uses the key of a built-in one; the built-in was not installed',
        );
      } else {
        this.logger.debug({ key: dto.key, result }, 'built-in offering');
      }
    }
  }
}
