import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ChangeFeed } from '../../common/events/change-feed.js';

/** One Prometheus registry per application instance (tests boot several in one process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(changes: ChangeFeed) {
    collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_' });
    new Gauge({
      name: 'latchkey_change_feed_up',
      help: '1 while the change feed listens and its heartbeat comes back; 0 while caches are bypassed',
      registers: [this.registry],
      collect() {
        this.set(changes.healthy ? 1 : 0);
      },
    });
    this.httpDuration = new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  httpMiddleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        // Route pattern, not the raw path: ids must not explode the label set.
        const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        this.httpDuration.observe(
          { method: req.method, route: `${req.baseUrl}${route}`, status: String(res.statusCode) },
          seconds,
        );
      });
      next();
    };
  }
}
