// Issue 27, finding 5: idle and half-sent sockets are closed. A silent socket may be closed by either timeout:
// the idle one (no bytes) or Node's headers timeout, which first writes a 408. The client socket must consume what
// it is sent, or a paused socket holding those 408 bytes never emits 'close' (the cause of earlier flaky runs).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { createQueueClient, createQueueServer } from '../src/http-entry.js';
import { RedisServer } from './redis.js';
import { closedWithin, rawSocket } from './raw-socket.js';

const redis = new RedisServer();
beforeAll(() => redis.start());
afterAll(() => redis.stop());

it('idle sockets are closed after idleTimeoutMs; half-sent headers after headersTimeoutMs', async () => {
  const client = await createQueueClient({ redis: redis.url, queue: 'idle', bundle: bundleDir() });
  const server = createQueueServer(client, { token: 'test-token-0123456789abcdef', idleTimeoutMs: 400, headersTimeoutMs: 300 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const silent = await rawSocket(port);
  const slow = await rawSocket(port);
  slow.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  const keepSending = setInterval(() => slow.write('X-Slow: 1\r\n'), 100); // never idle, never done
  try {
    // Generous bounds: the timeouts are 0.3-0.4 s, but a loaded 2-core CI machine can delay the server's checks.
    expect(await closedWithin(silent, 30_000)).toBe(true);
    expect(await closedWithin(slow, 30_000)).toBe(true);
  } finally {
    clearInterval(keepSending);
    silent.destroy();
    slow.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await client.close();
  }
});
