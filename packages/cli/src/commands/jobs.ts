import { writeFile } from 'node:fs/promises';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { intFlag, parse } from '../args.js';
import { checkOutPath, fmtMs } from '../common.js';
import { jobIdArg, queueFlag, queueFlags, redisFlag } from './queue-flags.js';

export const statusFlags = { ...queueFlags } as const;
export const resultFlags = { ...queueFlags, out: { type: 'string' }, timeout: { type: 'string' } } as const;
export const cancelFlags = { ...queueFlags } as const;

async function connect(values: { redis?: string | undefined; queue?: string | undefined; bundle?: string | undefined }) {
  const redis = redisFlag(values.redis);
  const queue = queueFlag(values.queue);
  const { createQueueClient } = await import('@migm/queue/client');
  return createQueueClient({ redis, queue, bundle: values.bundle ?? bundleDir() });
}

/** `migm status ID`: the job's state, its last step and why it failed. */
export async function statusCommand(argv: string[]): Promise<void> {
  const [id, rest] = jobIdArg(argv, 'status');
  const client = await connect(parse(rest, statusFlags));
  try {
    const s = await client.status(id);
    const step = s.progress ? `, step ${s.progress.step}/${s.progress.steps} on ${s.progress.worker}` : '';
    console.log(`${id}: ${s.state}${step}${s.cancelled ? ', cancelled' : ''}${s.failedReason ? ` (${s.failedReason})` : ''}`);
  } finally {
    await client.close();
  }
}

/** `migm result ID --out FILE`: waits for the job (up to --timeout seconds) and writes its PNG. */
export async function resultCommand(argv: string[]): Promise<void> {
  const [id, rest] = jobIdArg(argv, 'result');
  const values = parse(rest, resultFlags);
  const out = checkOutPath('out', values.out ?? 'migm.png');
  const timeoutS = intFlag('timeout', values.timeout, 600, 1, 86_400)!;
  const client = await connect(values);
  try {
    const r = await client.result(id, { timeoutMs: timeoutS * 1000 });
    await writeFile(out, r.png);
    console.log(`wrote ${out}: ${r.images} images, seed ${r.seed}, by worker ${r.worker} in ${fmtMs(r.latencyMs)}`);
  } finally {
    await client.close();
  }
}

/** `migm cancel ID`: removes a waiting job, stops a running one at its next step. */
export async function cancelCommand(argv: string[]): Promise<void> {
  const [id, rest] = jobIdArg(argv, 'cancel');
  const client = await connect(parse(rest, cancelFlags));
  try {
    const what = await client.cancel(id);
    const said = { removed: 'removed before it started', signalled: 'running; it stops at its next step', finished: 'already finished; nothing changed' };
    console.log(`${id}: ${said[what]}`);
  } finally {
    await client.close();
  }
}
