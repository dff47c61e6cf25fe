import { writeFile } from 'node:fs/promises';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { choiceFlag, intFlag, parse } from '../args.js';
import { checkOutPath, fmtMs } from '../common.js';
import { METHOD_NAMES, predictorOf } from '../methods.js';
import { plural } from '../output.js';
import { defaultCount } from '../progress.js';
import { conditionFlags, conditionOptions, generateFlags } from './generate.js';
import { queueFlag, queueFlags, redisFlag } from './queue-flags.js';

// generate's flags but the model-loading ones: a client never loads the model.
const { device: _device, threads: _threads, dtype: _dtype, ...requestFlags } = generateFlags;
export const submitFlags = {
  ...requestFlags,
  ...queueFlags,
  timeout: { type: 'string' },
  detach: { type: 'boolean' },
} as const;

/**
 * `migm submit`: queues one request (checked by core against the bundle, and by the queue's limits, before it
 * is queued) and, unless --detach, waits for its PNG. --count takes what `migm generate --count` takes (1 to
 * the queue's MAX_IMAGES, 1024); beyond the flags' ranges core's checks decide, as they do for generate().
 */
export async function submitCommand(argv: string[]): Promise<void> {
  const values = parse(argv, submitFlags);
  const redis = redisFlag(values.redis);
  const queue = queueFlag(values.queue);
  const out = values.detach ? undefined : checkOutPath('out', values.out ?? 'migm.png');
  const method = values.method === undefined ? undefined : choiceFlag('method', values.method, 'shortcut', METHOD_NAMES);
  const timeoutS = intFlag('timeout', values.timeout, 600, 1, 86_400)!;
  // The client entry: submitting loads no model and no onnxruntime.
  const { createQueueClient, MAX_IMAGES } = await import('@migm/queue/client');
  const num = (name: 'count' | 'steps' | 'budget' | 'seed' | 'columns' | 'scale', min: number, max: number) => intFlag(name, values[name], undefined, min, max);
  const fields = {
    batch: num('count', 1, MAX_IMAGES),
    steps: num('steps', 1, 4096),
    budget: num('budget', 1, 4096),
    seed: num('seed', 0, Number.MAX_SAFE_INTEGER),
    columns: num('columns', 1, 4096),
    scale: num('scale', 1, 32),
  };
  const client = await createQueueClient({ redis, queue, bundle: values.bundle ?? bundleDir() });
  try {
    const request = Object.fromEntries(
      Object.entries({
        // --class for a class bundle, --prompt (and --negative-prompt) for a text bundle; the queue checks them again.
        ...conditionOptions(conditionFlags(client.manifest, values)),
        ...fields,
        // generate's default by image size: 16 up to 64 px ... 1 above 256 px.
        batch: fields.batch ?? defaultCount(client.manifest.image),
        predictor: method === undefined ? undefined : predictorOf(method),
        // generate's default: 4x for small images (the 28 px default bundle), 1x from 256 px up.
        scale: fields.scale ?? Math.max(1, Math.min(4, Math.floor(256 / client.manifest.image.width))),
      }).filter(([, v]) => v !== undefined),
    );
    const s = await client.submit(request);
    console.log(`queued ${s.id} (seed ${s.seed})${s.deduplicated ? ': an identical request was already queued or done, this is that job' : ''}`);
    if (out === undefined) {
      const where = `--redis ${redis.replace(/\/\/([^@/]*)@/, '//***@')}${queue === 'migm' ? '' : ` --queue ${queue}`}`;
      console.log(`follow it with: migm status ${s.id} ${where} | migm result ${s.id} ${where} --out FILE | migm cancel ${s.id} ${where}`);
      return;
    }
    const stop = values.quiet
      ? () => {}
      : client.progress(s.id, (p) => process.stderr.isTTY && process.stderr.write(`\rstep ${p.step}/${p.steps} on ${p.worker}   `));
    try {
      const r = await client.result(s.id, { timeoutMs: timeoutS * 1000 });
      await writeFile(out, r.png);
      const c = client.manifest.condition;
      if (r.text?.truncated && c.type === 'text')
        console.error(`migm: warning: a prompt of this job was longer than ${c.maxLength} tokens and was truncated, as CLIP does`);
      console.log(
        `wrote ${out}: ${plural(r.images, 'image')}, seed ${r.seed}, by worker ${r.worker} in ${fmtMs(r.latencyMs)} (its call: ${plural(r.call.jobs, 'job')}, ${plural(r.call.images, 'image')}, ${fmtMs(r.call.totalMs)})`,
      );
    } finally {
      stop();
      if (!values.quiet && process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
    }
  } finally {
    await client.close();
  }
}
