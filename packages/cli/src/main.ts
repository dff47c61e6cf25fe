import { isMigmError } from '@migm/core';
import { compareCommand } from './commands/compare.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';
import { cancelCommand, resultCommand, statusCommand } from './commands/jobs.js';
import { recordCommand } from './commands/record.js';
import { serveCommand } from './commands/serve.js';
import { submitCommand } from './commands/submit.js';
import { workerCommand } from './commands/worker.js';
import { UsageError } from './errors.js';
import { METHOD_NAMES } from './methods.js';

/** Each command with its usage lines, printed by `migm --help` and by `migm <command> --help`. */
const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  generate: {
    run: generateCommand,
    usage: `migm generate --class <name|id|none> | --prompt "..." [--negative-prompt "..."] [--count C] [--steps N] [--budget B]
              [--method ${METHOD_NAMES.join('|')}] [--seed S] [--out migm.png|-]
              [--sampler auto|host|device] [--guidance-cutoff W]
              [--columns C] [--scale 4|1] [--bundle DIR] [--device cpu|cuda|auto] [--threads T]
              [--dtype fp32|fp16|int8|int4|GRAPH=PRECISION,...] [--quiet] [--json]
  (--class for class-conditioned bundles, --prompt for text-conditioned ones (aMUSEd: docs/amused.md);
   --count: images; default by image size: 16 up to 64 px, 8 up to 128, 4 up to 256, 1 above;
   --budget: full steps of an accelerated method; vanilla runs every step and refuses it;
   --dtype: the bundle's precision variants (python -m migm_train quantize); fp16 runs fp32 on the CPU;
   --sampler: where each step samples (auto: the backend's faster one, on the CPU the host; device: an onnxruntime
              sampler graph next to the logits, same tokens);
   --out -: the PNG to stdout, the result lines to stderr; --json: one JSON object on stdout instead of them;
   --guidance-cutoff: steps whose guidance weight is at most W skip the unconditional branch; default 0)`,
  },
  compare: {
    run: compareCommand,
    usage: `migm compare  (the flags of generate; runs vanilla and --method on the same seed, one PNG side by side,
               with the speed-up; --out defaults to migm-compare.png)`,
  },
  record: {
    run: recordCommand,
    usage: `migm record   --out DIR [--count 100] [--batch 16] [--class C] [--steps N] [--seed S] [--bundle DIR]
  (vanilla trajectories for training a shortcut; docs/trajectory-format.md)`,
  },
  info: {
    run: infoCommand,
    usage:
      'migm info     [--bundle DIR] [--json]\n  (what a bundle holds: image, tokens, sampling defaults, graphs, then the classes one per line; --json: the manifest)',
  },
  worker: {
    run: workerCommand,
    usage: `migm worker   --redis URL [--queue migm] [--batch 16] [--concurrency 1] [--wait-ms 20] [--bundle DIR] [--device D] [--threads T] [--quiet]
              [--max-images 1024] [--max-cost 1048576] [--max-pixels 4194304] [--max-memory-mb 4096]
              [--max-prompt-chars 2000]
  (runs queued jobs, merging compatible ones into one call of up to --batch images; every job is checked again
   against the limits before it runs; SIGTERM finishes held jobs; docs/queue.md)`,
  },
  submit: {
    run: submitCommand,
    usage: `migm submit   --redis URL --class C | --prompt "..." [--negative-prompt "..."] [--count C] [--steps N] [--budget B]
              [--method M] [--seed S] [--out migm.png] [--columns C] [--scale 4] [--queue migm] [--bundle DIR]
              [--timeout 600] [--detach] [--quiet]
  (queues one request and waits for its PNG; --detach prints the job id for status, result and cancel, and returns;
   --prompt for text-conditioned bundles, checked by the client and again by the worker; --count: generate's default)`,
  },
  status: { run: statusCommand, usage: "migm status   ID --redis URL [--queue migm]\n  (a job's state, last step and failure reason)" },
  result: { run: resultCommand, usage: 'migm result   ID --redis URL [--queue migm] [--out migm.png] [--timeout 600]\n  (waits for a job and writes its PNG)' },
  cancel: { run: cancelCommand, usage: 'migm cancel   ID --redis URL [--queue migm]\n  (removes a waiting job; a running one stops at its next step)' },
  serve: {
    run: serveCommand,
    usage: `migm serve    --redis URL [--port 8080] [--host 127.0.0.1] [--max-queued 10000] [--queue migm] [--bundle DIR]
              [--token-file FILE] [--allow-no-token] [--cors ORIGIN,...] [--max-connections 256]
              [--max-images 1024] [--max-cost 1048576] [--max-pixels 4194304] [--max-memory-mb 4096]
              [--max-prompt-chars 2000]
  (HTTP front: POST /jobs, GET /jobs/ID, /jobs/ID/png, /jobs/ID/events (server-sent progress), DELETE /jobs/ID,
   GET /health; the access token comes from MIGM_TOKEN or --token-file; a host other than loopback needs one
   unless --allow-no-token; docs/queue.md)`,
  },
};

const HELP = `migm: masked image generation with the learned MIGM-Shortcut

usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.replace(/\n/g, '\n  ')}`)
  .join('\n')}
  migm <command> --help | migm --help | migm --version

Without --bundle the embedded default bundle is used (Fashion-MNIST, 10 classes).`;

/** Runs the CLI; returns the exit code (0 ok, 1 runtime error, 2 usage error). Never throws. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    console.log((await import('../package.json', { with: { type: 'json' } })).default.version);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry && command === 'bench') {
    // The acceptance harness left the published CLI: it needs the repository (dataset, PyTorch peer, BENCHMARKS.md).
    console.error("migm: 'bench' is no longer part of the published CLI; in the migm repository run `pnpm bench [flags]` (the private @migm/bench package)");
    return 2;
  }
  if (!entry) {
    console.error(`migm: unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')}; see migm --help)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${entry.usage}`);
    return 0;
  }
  try {
    await entry.run(rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`migm ${command}: ${err.message} (see migm --help)`);
      return 2;
    }
    // @migm/queue's typed errors (QUEUE_FULL, CONNECTION_LOST, ...): one line, runtime failure.
    if (err instanceof Error && err.name === 'QueueError') {
      console.error(`migm ${command}: ${err.message}`);
      return 1;
    }
    if (isMigmError(err)) {
      console.error(`migm ${command}: ${err.message}`);
      return err.code === 'INVALID_OPTION' ? 2 : 1;
    }
    console.error(
      `migm ${command}: unexpected error: ${err instanceof Error ? err.message : String(err)}${process.env['MIGM_DEBUG'] ? `\n${(err as Error).stack}` : ' (set MIGM_DEBUG=1 for a stack trace)'}`,
    );
    return 1;
  }
}
