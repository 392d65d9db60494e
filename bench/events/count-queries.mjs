// Preloaded into Latchkey by bench:events when BENCH_COUNT_QUERIES is set (`--import`): counts the
// queries every pg client sends (each one database round trip), by statement shape, and answers
// the benchmark's SIGUSR2 by writing the counts to $BENCH_QUERY_COUNTS_DIR/<pid>.json. Measuring
// only: no query is changed.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const pg = require('pg');
const counts = new Map();

/** The statement's first words, without parameters: enough to tell the statements apart. */
const shapeOf = (text) => text.replace(/\s+/g, ' ').replace(/\$\d+/g, '$').trim().slice(0, 90);

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    const shape = shapeOf(text);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
  }
  return query.call(this, config, ...rest);
};

process.on('SIGUSR2', () => {
  const file = path.join(process.env.BENCH_QUERY_COUNTS_DIR, `${process.pid}.json`);
  writeFileSync(file, JSON.stringify(Object.fromEntries(counts)));
});
