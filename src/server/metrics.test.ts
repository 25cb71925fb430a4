import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { PrometheusMetrics } from './metrics.js';

/** Reads one sample (`name` or `name{labels}`) from the registry's text. */
async function sample(metrics: PrometheusMetrics, series: string): Promise<number | undefined> {
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

test('the retry counter follows the store’s own count across scrapes, and the pool gauges read the pool when scraped', async () => {
  const metrics = new PrometheusMetrics();
  let retries = 0;
  const pool = { totalCount: 3, idleCount: 2, waitingCount: 0 };
  metrics.watch(() => ({ websocket: 1, sse: 0, 'long-poll': 2, 'eas-ping': 0 }), { store: undefined as never, postgres: { pool: pool as unknown as pg.Pool, retries: () => retries } });
  assert.equal(await sample(metrics, 'syncpoint_store_transaction_retries_total'), 0);
  retries = 2;
  assert.equal(await sample(metrics, 'syncpoint_store_transaction_retries_total'), 2);
  retries = 5;
  pool.waitingCount = 4;
  assert.equal(await sample(metrics, 'syncpoint_store_transaction_retries_total'), 5, 'counted once, not added up again at each scrape');
  assert.equal(await sample(metrics, 'syncpoint_store_pool_waiting'), 4);
  assert.equal(await sample(metrics, 'syncpoint_store_pool_connections'), 3);
  assert.equal(await sample(metrics, 'syncpoint_store_pool_idle_connections'), 2);
  assert.equal(await sample(metrics, 'syncpoint_push_channels{kind="long-poll"}'), 2);
});

test('a store without a pool (SQLite) adds no pool or retry metrics', async () => {
  const metrics = new PrometheusMetrics();
  metrics.watch(() => ({ websocket: 0, sse: 0, 'long-poll': 0, 'eas-ping': 0 }), { store: undefined as never });
  const text = await metrics.registry.metrics();
  assert.doesNotMatch(text, /syncpoint_store_pool|syncpoint_store_transaction_retries/);
  assert.match(text, /syncpoint_push_channels\{kind="websocket"\} 0/);
});
