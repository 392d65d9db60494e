import { Controller, Get, Header, HttpCode, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { MetricsService } from './metrics.service.js';

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    private readonly changes: ChangeFeed,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('healthz')
  @HttpCode(200)
  healthz() {
    return { status: 'ok' };
  }

  /**
   * The database answers within 2 s and the change feed listens; load balancers route traffic only
   * when this is 200. A replica whose feed is down serves correctly but slowly (its caches are
   * bypassed), and may have missed changes: better taken out of rotation until the feed is back.
   */
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: Response) {
    let database = 'ok';
    try {
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
    } catch {
      database = 'unreachable';
    }
    const changeFeed = this.changes.healthy ? 'ok' : 'down';
    if (database === 'ok' && changeFeed === 'ok') return { status: 'ok', database, changeFeed };
    res.status(503);
    return { status: 'unavailable', database, changeFeed };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metricsText() {
    return this.metrics.registry.metrics();
  }
}
