/**
 * The kinds of value settings take. Each reads the text of an environment variable; its messages say
 * what was expected, and the loader prefixes them with `Invalid setting NAME`.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Digits only: "1.5", "64k" or "-1" are more likely slips than intent, so they are refused, not rounded. */
export function integer(min: number, max: number, unit: string) {
  return z
    .string()
    .refine(
      (value) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max,
      `expected a whole number of ${unit} from ${min} to ${max}`,
    )
    .transform(Number);
}

export const port = z
  .string()
  .refine((value) => /^\d+$/.test(value) && Number(value) <= 65535, 'expected a port number from 0 to 65535')
  .transform(Number);

/** Only the spellings shells and compose files use; "yes" or "on" are refused rather than guessed at. */
export const boolean = z
  .enum(['true', '1', 'false', '0'], 'expected true or false')
  .transform((value) => value === 'true' || value === '1');

export const nonEmpty = z.string().refine((value) => value.trim() !== '', 'must not be empty');

/** Checked for length only; the loader never echoes a secret's value. */
export function secret(minLength: number) {
  return z.string().min(minLength, `must be at least ${minLength} characters long`);
}

export const claimName = z.string().regex(/^[\x21-\x7e]{1,100}$/, 'expected a claim name');

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, `expected one of ${values.join(', ')}`);
}

/** A path relative to the working directory, resolved, that must be readable now rather than at first use. */
export function readableFile(cwd: string) {
  return z.string().transform((value, ctx) => {
    const file = path.resolve(cwd, value);
    try {
      accessSync(file, constants.R_OK);
    } catch {
      ctx.addIssue(`cannot read ${file}`);
      return z.NEVER;
    }
    return file;
  });
}

/** Parses a URL, or reports `message`; for the kinds that go on to check its parts. */
export function parsedUrl(value: string, ctx: z.RefinementCtx, message: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    ctx.addIssue(message);
    return undefined;
  }
}
