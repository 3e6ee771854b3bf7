/**
 * The settings as code: `createParley(options)` takes the documented
 * settings with camelCase names (`PARLEY_API_KEY` -> `apiKey`, `REDIS_URL` ->
 * `redisUrl`, `PORT` -> `port`), derived from settings.ts's SETTINGS table and
 * validated by the same code as the environment (same errors). Also the
 * start-up check that warns about unknown `PARLEY_*` variables.
 */
import { configFromValues, type Config } from './config.js';
import { settingText } from './config-file.js';
import { ConfigError, SETTINGS, type SettingName } from './settings.js';

type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<Camel<Tail>>}`
  : Lowercase<S>;

/** The option name of a setting: camelCase without the `PARLEY_` prefix. */
export type OptionName<S extends string> = S extends `PARLEY_${infer Rest}` ? Camel<Rest> : Camel<S>;

interface KindValue {
  int: number;
  string: string;
  bool: boolean;
  list: readonly string[] | string;
}

/** Settings that make no sense as code (the config file is the caller's business). */
type NotAnOption = 'PARLEY_CONFIG';

/** Every documented setting as an optional, typed option. */
export type SettingOptions = {
  [K in Exclude<SettingName, NotAnOption> as OptionName<K>]?: KindValue[(typeof SETTINGS)[K]];
};

/** Variables of the `parley` CLI (bin/parley.mjs): known, but not server settings. */
const CLI_VARIABLES = new Set(['PARLEY_URL', 'PARLEY_USER', 'PARLEY_TOKEN']);

/**
 * The option name of a setting name (the runtime twin of OptionName).
 *
 * @example
 * optionName('PARLEY_MAX_FRAME_BYTES'); // 'maxFrameBytes'
 */
export function optionName(setting: string): string {
  const words = setting
    .replace(/^PARLEY_/, '')
    .toLowerCase()
    .split('_');
  return words.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

const settingOfOption = new Map<string, SettingName>(
  (Object.keys(SETTINGS) as SettingName[])
    .filter((name) => name !== 'PARLEY_CONFIG')
    .map((name) => [optionName(name), name]),
);

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest known name, when close enough to be a typo. */
function closest(name: string, known: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name.toUpperCase(), k.toUpperCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

/**
 * Validates options and turns them into a Config: each option becomes its
 * setting's text (as in a config file) and goes through the environment's
 * validation, so a bad value throws the same ConfigError (naming the
 * setting, with the option name added). Unknown options are errors.
 *
 * @example
 * const config = configFromOptions({ port: 0, apiKey: 'secret', maxFrameBytes: 128 * 1024 });
 */
export function configFromOptions(options: SettingOptions): Config {
  const values: Record<string, string> = {};
  const optionOf = new Map<string, string>();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const setting = settingOfOption.get(key);
    if (setting === undefined) {
      const guess = closest(key, settingOfOption.keys());
      throw new ConfigError(key, `unknown option${guess ? ` (did you mean "${guess}"?)` : ''}`);
    }
    values[setting] = settingText(setting, value, `option ${key}`);
    optionOf.set(setting, key);
  }
  try {
    return configFromValues(values);
  } catch (err) {
    const option = err instanceof ConfigError ? optionOf.get(err.setting) : undefined;
    if (err instanceof ConfigError && option !== undefined) {
      throw new ConfigError(err.setting, `${err.message.slice(err.setting.length + 2)} (option ${option})`);
    }
    throw err;
  }
}

/** One `PARLEY_*` variable that Parley does not know, and the setting it probably meant. */
export interface UnknownSetting {
  name: string;
  suggestion: string | null;
}

/**
 * The `PARLEY_*` variables of `env` that are no setting (nor a CLI variable),
 * each with the closest setting name: main.ts warns about each, so a typo
 * (`PARLEY_API_KEYS`) does not pass silently.
 *
 * @example
 * unknownSettings({ PARLEY_API_KEYS: 'x' }); // [{ name: 'PARLEY_API_KEYS', suggestion: 'PARLEY_API_KEY' }]
 */
export function unknownSettings(env: Record<string, string | undefined>): UnknownSetting[] {
  const known = new Set<string>(Object.keys(SETTINGS));
  const out: UnknownSetting[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('PARLEY_') || known.has(name) || CLI_VARIABLES.has(name)) continue;
    out.push({ name, suggestion: closest(name, known) });
  }
  return out;
}
