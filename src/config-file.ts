/**
 * The JSON config file (`PARLEY_CONFIG`): keys named like the environment
 * variables, values turned into the text the environment would hold.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './settings.js';

/** Keys of a config file that are not settings. */
const FILE_META_KEYS = new Set(['$schema', '$comment']);

/**
 * Reads a JSON config file: an object whose keys are setting names (as the
 * environment variables) and whose values are strings, numbers, booleans,
 * lists (joined with commas) or null (unset).
 *
 * @example
 * // /etc/parley/parley.json: {"PORT": 3000, "PARLEY_ALLOWED_ORIGINS": ["https://chat.example.com"]}
 * const values = readConfigFile('/etc/parley/parley.json'); // { PORT: '3000', PARLEY_ALLOWED_ORIGINS: 'https://chat.example.com' }
 */
export function readConfigFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError('PARLEY_CONFIG', `cannot read config file ${path} (${code})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('PARLEY_CONFIG', `config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('PARLEY_CONFIG', `config file ${path} must hold a JSON object of settings`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (FILE_META_KEYS.has(key) || value === null) continue;
    out[key] = settingText(key, value, `in ${path}`);
  }
  return out;
}

/**
 * A setting's value as the environment would hold it: strings as they are,
 * numbers and booleans as text, lists joined with commas (config files and
 * `createParley(options)` share this).
 *
 * @example
 * settingText('PARLEY_ALLOWED_ORIGINS', ['https://a.example', 'https://b.example'], 'in options'); // 'https://a.example,https://b.example'
 */
export function settingText(key: string, value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  throw new ConfigError(key, `${where}: must be a string, number, boolean or list of strings`);
}
