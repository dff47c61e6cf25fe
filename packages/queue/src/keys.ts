import { randomBytes } from 'node:crypto';

/** BullMQ's key prefix (its default); every key of a queue lives under `bull:<queue>:`. */
export const PREFIX = 'bull';

/** The key that marks a job cancelled (read by a worker before it runs the job; kept as long as results are). */
export function cancelKey(queue: string, id: string): string {
  return `${PREFIX}:${queue}:migm-cancel:${id}`;
}

/** The channel on which cancellations reach the workers running those jobs. */
export function cancelChannel(queue: string): string {
  return `${PREFIX}:${queue}:migm-cancel`;
}

/** A Redis URL for messages, without its password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * What every job id of this package looks like: `migm-` and 64 lowercase hex digits (random, or with `dedupe`
 * a sha256). Ids from outside (HTTP paths, the command line) are checked against it before Redis sees them,
 * so no id can name one of BullMQ's own keys (`meta`, `id`, `events`, ...).
 */
export const JOB_ID_PATTERN = /^migm-[0-9a-f]{64}$/;

/** True when `id` has the shape of a job id of this package. */
export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && JOB_ID_PATTERN.test(id);
}

/** A fresh job id: 256 random bits, so nobody can compute another client's id from its request. */
export function randomJobId(): string {
  return `migm-${randomBytes(32).toString('hex')}`;
}
