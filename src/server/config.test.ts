import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.js';

test('trustedProxies: none by default; a comma-separated list from the environment or flag; bad entries refused', () => {
  assert.deepEqual(loadConfig({}, {}).trustedProxies, []);
  assert.deepEqual(loadConfig({}, { SYNCPOINT_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8,fd00::/8' }).trustedProxies, ['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  assert.deepEqual(loadConfig({ trustedProxies: '::1' }, { SYNCPOINT_TRUSTED_PROXIES: '127.0.0.1' }).trustedProxies, ['::1'], 'the flag wins');
  assert.throws(() => loadConfig({}, { SYNCPOINT_TRUSTED_PROXIES: 'proxy.local' }), /trustedProxies\.0: must be an IP address or CIDR range/);
});

test('metricsAllow: loopback by default; a list from the environment or flag; empty from the flag closes /metrics', () => {
  assert.deepEqual(loadConfig({}, {}).metricsAllow, ['127.0.0.1', '::1']);
  assert.deepEqual(loadConfig({}, { SYNCPOINT_METRICS_ALLOW: '10.0.0.5, 192.0.2.0/24' }).metricsAllow, ['10.0.0.5', '192.0.2.0/24']);
  assert.deepEqual(loadConfig({ metricsAllow: '' }, {}).metricsAllow, []);
  assert.throws(() => loadConfig({}, { SYNCPOINT_METRICS_ALLOW: 'prometheus.local' }), /metricsAllow\.0: must be an IP address or CIDR range/);
});

test('syncByMail: on by default; off from the environment or flag; nothing else', () => {
  assert.equal(loadConfig({}, {}).syncByMail, 'on');
  assert.equal(loadConfig({}, { SYNCPOINT_SYNC_BY_MAIL: 'off' }).syncByMail, 'off');
  assert.equal(loadConfig({ syncByMail: 'on' }, { SYNCPOINT_SYNC_BY_MAIL: 'off' }).syncByMail, 'on', 'the flag wins');
  assert.throws(() => loadConfig({}, { SYNCPOINT_SYNC_BY_MAIL: 'false' }), /syncByMail/);
});
