/**
 * The floor for held requests on this machine, run as its own process by bench/eas.bench.ts so its
 * memory can be read apart: a bare Node HTTP server that holds every POST until it is told (over IPC)
 * to answer them all.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const held: ServerResponse[] = [];
const http = createServer((req, res) => {
  req.resume();
  req.on('end', () => held.push(res));
});
http.keepAliveTimeout = 0;
http.listen(0, '127.0.0.1', () => process.send?.({ port: (http.address() as AddressInfo).port }));

process.on('message', (command: 'count' | 'answer') => {
  if (command === 'answer') for (const res of held.splice(0)) res.end('changed');
  process.send?.({ held: held.length });
});
