import type { ObjectLiteral, Repository } from 'typeorm';

/**
 * The entity for a raw row of its table (such as an `UPDATE … RETURNING *`), each column converted
 * as TypeORM converts it when it loads the entity: the write and the read in one round trip.
 */
export function entityFromRow<T extends ObjectLiteral>(
  repository: Repository<T>,
  row: Record<string, unknown>,
): T {
  const entity = repository.create();
  const driver = repository.manager.connection.driver;
  for (const column of repository.metadata.columns) {
    if (column.databaseName in row)
      column.setEntityValue(entity, driver.prepareHydratedValue(row[column.databaseName], column));
  }
  return entity;
}
