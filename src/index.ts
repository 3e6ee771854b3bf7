/**
 * Parley's server API (`import ... from 'parley'`): run a node on its own
 * port, or add Parley to an HTTP server your app owns. The client SDK is
 * `parley/client`.
 *
 * @example
 * import { createParley } from 'parley';
 * const node = await createParley({ port: 3000, apiKey: process.env.PARLEY_API_KEY });
 * await node.start(); // ws://localhost:3000/ws, http://localhost:3000/api
 *
 * @example
 * import { createServer } from 'node:http';
 * import { attachParley } from 'parley';
 * const server = createServer(app);
 * const parley = await attachParley(server, { redisUrl: 'redis://127.0.0.1:6379' });
 * server.listen(3000);
 */
export { createParley, attachParley, type ParleyNode, type ParleyOptions, type AttachRoutes } from './server/parley.js';
export { loadConfig, defaultLimits, type Config, type Limits } from './config.js';
export { ConfigError, SETTINGS, type SettingName, type SettingKind } from './settings.js';
export { configFromOptions, optionName, unknownSettings, type SettingOptions, type UnknownSetting } from './options.js';
export { createLogger, type Logger } from './logger.js';
export { ParleyError, type ErrorBody } from './protocol/errors.js';
export { ErrorCodes, CloseCodes, type ErrorCode, type CloseCode } from './protocol/codes.js';
export { dmRoom, isValidId } from './protocol/ids.js';
export type { Message, PresenceEntry, PresenceStatus, ChosenStatus } from './protocol/frames.js';
