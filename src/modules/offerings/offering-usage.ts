import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/**
 * How many integrations use an offering (across all workspaces). Asked through SQL rather than
 * the integrations module, which itself depends on offerings.
 */
@Injectable()
export class OfferingUsage {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async integrationCount(offeringId: string): Promise<number> {
    const [row]: Array<{ n: number }> = await this.dataSource.query(
      'SELECT count(*)::int AS n FROM integrations WHERE offering_id = $1',
      [offeringId],
    );
    return row.n;
  }
}
