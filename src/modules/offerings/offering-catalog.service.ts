import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Logger } from 'pino';
import { repoDirectory } from '../../common/files/repo-directory.js';
import { LOGGER } from '../../common/logging/logger.js';
import { CreateOfferingDto } from './dto/offering.dto.js';
import { OfferingsService } from './offerings.service.js';

/** The repository's `offerings/` directory. */
export function catalogDirectory(): string {
  return repoDirectory('offerings', 'The built-in offering catalog (offerings/*.json)');
}

/** Reads and validates one catalog file with the API's own rules (unknown fields rejected). */
export async function readCatalogFile(file: string): Promise<CreateOfferingDto> {
  const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
  const dto = plainToInstance(CreateOfferingDto, raw);
  const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) {
    const detail = errors.map(
      (e) => `${e.property}: ${Object.values(e.constraints ?? { nested: 'invalid' }).join('; ')}`,
    );
    throw new Error(`Invalid offering catalog file ${path.basename(file)}: ${detail.join(' | ')}`);
  }
  return dto;
}

/** Upserts the built-in catalog at start. Idempotent; safe when replicas start together. */
@Injectable()
export class OfferingCatalogService implements OnApplicationBootstrap {
  constructor(
    private readonly offerings: OfferingsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const dir = catalogDirectory();
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    for (const file of files) {
      const dto = await readCatalogFile(path.join(dir, file));
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
