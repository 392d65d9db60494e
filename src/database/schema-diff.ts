import type { DataSource } from 'typeorm';

/** SQL that would bring the database in line with the entities; empty when migrations are complete. */
export async function pendingSchemaChanges(
  dataSource: DataSource,
): Promise<{ up: string[]; down: string[] }> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return {
    up: log.upQueries.map((q) => q.query),
    // Reverse order: the last change is undone first.
    down: log.downQueries.map((q) => q.query).reverse(),
  };
}
