/** JWT authentication. PLACEHOLDER: implemented in the security work (issue 5). */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { ParleyError } from '../protocol/errors.js';
import type { Authenticator } from './authenticator.js';
import type { Identity } from './identity.js';

export class JwtAuthenticator implements Authenticator {
  readonly mode = 'jwt' as const;
  constructor(readonly config: Config) {}
  async authenticate(_req: IncomingMessage, _url: URL): Promise<Identity> {
    throw new ParleyError('UNAUTHORIZED', 'JWT authentication is not implemented yet');
  }
}
