import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instantFromWall, parseWall, wallDateTime, wallFromInstant } from './timezone.js';

const iso = (ms: number) => new Date(ms).toISOString();

test('wall times convert to instants and back across a DST change', () => {
  assert.equal(iso(instantFromWall(parseWall('2024-03-30T09:00'), 'Europe/Berlin')), '2024-03-30T08:00:00.000Z');
  assert.equal(iso(instantFromWall(parseWall('2024-03-31T09:00'), 'Europe/Berlin')), '2024-03-31T07:00:00.000Z');
  assert.equal(wallDateTime(wallFromInstant(Date.parse('2024-10-27T01:30:00Z'), 'Europe/Berlin')), '2024-10-27T02:30');
});

test('a time skipped by spring-forward lands after the gap', () => {
  assert.equal(iso(instantFromWall(parseWall('2024-03-31T02:30'), 'Europe/Berlin')), '2024-03-31T01:30:00.000Z');
});

test('parseWall takes dates and datetime-local values only', () => {
  assert.equal(iso(parseWall('2024-03-04')), '2024-03-04T00:00:00.000Z');
  assert.equal(iso(parseWall('2024-03-04T09:05')), '2024-03-04T09:05:00.000Z');
  assert.ok(Number.isNaN(parseWall('4 March')));
});
