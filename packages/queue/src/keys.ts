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
