import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs (strict, no positionals) with its errors as one-line usage errors. */
export function parse<O extends Options>(
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option'));
  }
}

/** An integer flag within [min, max]; `fallback` when not given. */
export function intFlag(name: string, value: string | undefined, fallback: number | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

/** A comma-separated flag, each item checked by `item`; undefined when not given. */
export function listFlag<T>(name: string, value: string | undefined, item: (v: string) => T): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((v) => v.trim());
  if (items.some((v) => v === '')) throw new UsageError(`--${name} must be a comma-separated list without empty items, got '${value}'`);
  return items.map(item);
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}
