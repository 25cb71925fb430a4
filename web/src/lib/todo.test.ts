import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareTasks, emptyTask, parseTask, serializeTask, setTaskCompleted, type Task } from './todo.js';

const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;
const now = new Date('2024-05-01T10:20:30Z');

const original = crlf([
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Other//App//EN',
  'BEGIN:VTODO',
  'UID:todo-1',
  'DTSTAMP:20240101T000000Z',
  'SUMMARY:Buy milk',
  'DESCRIPTION:Two litres',
  'DUE;VALUE=DATE:20240502',
  'PRIORITY:5',
  'CATEGORIES:Errands',
  'X-APPLE-SORT-ORDER:12',
  'BEGIN:VALARM',
  'ACTION:DISPLAY',
  'TRIGGER:-PT15M',
  'DESCRIPTION:Reminder',
  'END:VALARM',
  'END:VTODO',
  'END:VCALENDAR',
]);

test('parses a VTODO into the model', () => {
  const task = parseTask(original);
  assert.deepEqual(task, {
    uid: 'todo-1',
    summary: 'Buy milk',
    description: 'Two litres',
    due: '2024-05-02',
    priority: 5,
    completed: false,
    completedAt: null,
  });
});

test('completing sets STATUS, COMPLETED and PERCENT-COMPLETE; reopening removes them', () => {
  const done = setTaskCompleted(original, true, now);
  assert.match(done, /\r\nSTATUS:COMPLETED\r\n/);
  assert.match(done, /\r\nCOMPLETED:20240501T102030Z\r\n/);
  assert.match(done, /\r\nPERCENT-COMPLETE:100\r\n/);
  assert.deepEqual(parseTask(done), { ...parseTask(original), completed: true, completedAt: now.toISOString() });
  const open = setTaskCompleted(done, false, now);
  assert.match(open, /\r\nSTATUS:NEEDS-ACTION\r\n/);
  assert.doesNotMatch(open, /COMPLETED:|PERCENT-COMPLETE/);
  assert.equal(parseTask(open).completed, false);
});

test('an edit keeps unknown properties and sub-components, and stamps the change', () => {
  const out = serializeTask({ ...parseTask(original), summary: 'Buy oat milk' }, original, now);
  for (const kept of ['CATEGORIES:Errands', 'X-APPLE-SORT-ORDER:12', 'BEGIN:VALARM', 'TRIGGER:-PT15M', 'DUE;VALUE=DATE:20240502', 'PRODID:-//Other//App//EN']) {
    assert.ok(out.includes(kept), kept);
  }
  assert.match(out, /\r\nSUMMARY:Buy oat milk\r\n/);
  assert.match(out, /\r\nDTSTAMP:20240501T102030Z\r\n/);
  assert.match(out, /\r\nLAST-MODIFIED:20240501T102030Z\r\n/);
  assert.ok(out.endsWith('END:VCALENDAR\r\n'));
});

test('a new task: DUE as DATE or DATE-TIME, optional priority', () => {
  const task: Task = { ...emptyTask('new-1'), summary: 'Call Bob', due: '2024-06-01T09:30', priority: 1, description: 'About; the, thing' };
  const out = serializeTask(task, undefined, now);
  assert.match(out, /^BEGIN:VCALENDAR\r\nVERSION:2\.0\r\nPRODID:/);
  assert.match(out, /\r\nUID:new-1\r\n/);
  assert.match(out, /\r\nDUE:20240601T093000\r\n/);
  assert.match(out, /\r\nSTATUS:NEEDS-ACTION\r\n/);
  assert.deepEqual(parseTask(out), task);
  const dated = serializeTask({ ...task, due: '2024-06-02', priority: 0 }, out, now);
  assert.match(dated, /\r\nDUE;VALUE=DATE:20240602\r\n/);
  assert.doesNotMatch(dated, /PRIORITY/);
  assert.doesNotMatch(serializeTask({ ...task, due: '' }, out, now), /DUE/);
});

test('open tasks by due date (undated last), completed ones at the bottom', () => {
  const t = (summary: string, fields: Partial<Task>): Task => ({ ...emptyTask(summary), summary, ...fields });
  const list = [
    t('done', { completed: true, completedAt: '2024-01-01T00:00:00.000Z' }),
    t('undated', {}),
    t('later', { due: '2024-07-01' }),
    t('sooner', { due: '2024-06-01T08:00' }),
  ];
  assert.deepEqual(list.sort(compareTasks).map((x) => x.summary), ['sooner', 'later', 'undated', 'done']);
});
