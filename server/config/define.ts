/**
 * How a setting is declared. One declaration carries everything about a setting: its environment
 * name, its default, the README text and the zod schema that turns the text into the `Config` value.
 * Parsing (server/config.ts) and the generated docs (docs.ts) both read these declarations.
 */
import { z } from 'zod';

/** The part of a setting the docs need; `MICROCHATTER_CONFIG` has only this, it is read before the rest. */
export interface SettingDoc {
  /** Environment variable, and key in the JSON settings file. */
  env: string;
  /** Written as it would be in the environment; it goes through `schema` like any other value. */
  default?: string;
  /** Shown as the default where there is no value to write, e.g. `generated`. */
  shownDefault?: string;
  /** One line for the README table and .env.example (Markdown). */
  doc: string;
}

export interface Setting<T = unknown> extends SettingDoc {
  /** Turns the text into the value; a failure's message says what was expected. */
  schema: z.ZodType<T> | ((cwd: string) => z.ZodType<T>);
  /** Never echo the value in an error message (secrets, URLs that carry a password). */
  secret?: true;
}

/** Settings of one group, keyed by their `Config` field. */
export type Settings = Record<string, Setting>;

type SchemaOf<S extends Setting> = S['schema'] extends (cwd: string) => infer Z ? Z : S['schema'];

/** The parsed values of a group: a setting with a default always has a value, one without may not. */
export type Values<S extends Settings> = {
  [K in keyof S]: z.output<SchemaOf<S[K]>> | (S[K] extends { default: string } ? never : undefined);
};

/** A check across settings of one group; it names the setting the message is about. */
export type Rule<V> = (values: V) => { field: keyof V & string; message: string } | undefined;

export interface Group<Out> {
  /** Heading in .env.example. */
  title: string;
  settings: Settings;
  /** Raw text keyed by `Config` field in (undefined: unset), the group's `Config` fields out. */
  schema(cwd: string): z.ZodType<Out>;
}

/** Declares a group; only there to infer `Out` from `schema`. */
export function group<Out>(declared: Group<Out>): Group<Out> {
  return declared;
}

/** The zod object of a group's settings, with its cross-setting rules. */
export function settingsObject<S extends Settings>(
  settings: S,
  cwd: string,
  rules: Rule<Values<S>>[] = [],
): z.ZodType<Values<S>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [field, setting] of Object.entries(settings)) {
    const schema = typeof setting.schema === 'function' ? setting.schema(cwd) : setting.schema;
    shape[field] = setting.default === undefined ? schema.optional() : schema;
  }
  // z.object cannot type a shape built in a loop; `Values` states the same rule the loop follows.
  const object = z.object(shape) as unknown as z.ZodType<Values<S>>;
  return object.superRefine((values, ctx) => {
    for (const rule of rules) {
      const problem = rule(values);
      if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
    }
  });
}
