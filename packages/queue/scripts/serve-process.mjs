// The HTTP front as its own process, for the load run (needs a build): node serve-process.mjs URL QUEUE
// The token comes from MIGM_TOKEN. Prints `port N` once listening. A line `stats` on stdin prints one JSON line:
// the process's memory and the client's pending waits. SIGTERM closes it.
import { createInterface } from 'node:readline';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { createQueueClient, createQueueServer } from '../dist/http.js';

const [url, queue] = process.argv.slice(2);
const client = await createQueueClient({ redis: url, queue, bundle: bundleDir() });
const server = createQueueServer(client, { token: process.env.MIGM_TOKEN });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
console.log(`port ${server.address().port}`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stats') return;
  server.getConnections((_e, connections) => {
    const m = process.memoryUsage();
    console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, connections, ...client.pending() }));
  });
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void client.close().then(() => process.exit(0)));
});
