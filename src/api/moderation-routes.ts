/**
 * HTTP routes of moderation (docs/protocol.md, "Moderation"): bans, mutes
 * and room settings. The API key acts as a moderator. Kept apart from
 * router.ts, which adds them to its table.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ModerationFeature } from '../features/moderation/moderation.js';
import { MAX_SLOW_MODE_SECONDS, MAX_TOPIC_CHARS } from '../features/moderation/moderation.js';
import type { ApiRoute } from './router.js';
import { EmptySchema } from './schemas.js';

const SecondsBody = Type.Object(
  {
    seconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10 * 365 * 24 * 3600,
        description: 'How long it lasts; absent = until lifted',
      }),
    ),
  },
  { additionalProperties: false },
);
type SecondsBody = Static<typeof SecondsBody>;

const SettingsBody = Type.Object(
  {
    slowModeSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SLOW_MODE_SECONDS,
        description: 'Non-moderators may send one message per this many seconds in the room; 0 turns it off',
      }),
    ),
    topic: Type.Optional(
      Type.String({
        maxLength: MAX_TOPIC_CHARS * 2,
        description: `At most ${MAX_TOPIC_CHARS} characters; "" clears it`,
      }),
    ),
  },
  { additionalProperties: false },
);
type SettingsBody = Static<typeof SettingsBody>;

const SettingsResult = Type.Object({
  slowModeSeconds: Type.Integer({ minimum: 0 }),
  topic: Type.Union([Type.String(), Type.Null()]),
});

/** Validates a body against a schema (router.ts's validator, passed in to keep imports one-way). */
export type BodyValidator = (schema: TSchema, value: unknown, what: string) => void;

/**
 * The moderation routes for the API table.
 *
 * @example
 * routes.push(...moderationRoutes(moderation, validate));
 * // curl -X PUT -H 'Authorization: Bearer $KEY' -d '{"seconds":600}' localhost:3000/api/rooms/lobby/bans/bob
 */
export function moderationRoutes(moderation: ModerationFeature, validate: BodyValidator): ApiRoute[] {
  const routes: ApiRoute[] = [];
  for (const kind of ['ban', 'mute'] as const) {
    const plural = `${kind}s`;
    const Kind = kind === 'ban' ? 'Ban' : 'Mute';
    routes.push(
      {
        method: 'PUT',
        path: `/api/rooms/{room}/${plural}/{user}`,
        operationId: `${kind}User`,
        summary: `${Kind} a user in a room`,
        description:
          kind === 'ban'
            ? 'The user\'s connections are taken out of the room on every node (each gets `{"type":"removed","reason":"banned"}`); `join`, `send` and `history` answer FORBIDDEN while it lasts. Body `{}` or `{seconds}`.'
            : 'The user stays joined and reads, but `send`, `edit`, `react` and `typing` answer FORBIDDEN while it lasts. Body `{}` or `{seconds}`.',
        tags: ['moderation'],
        body: SecondsBody,
        status: 200,
        result: EmptySchema,
        errors: [400],
        async handle({ params, body }) {
          validate(SecondsBody, body, 'body');
          await moderation.restrict(params.room!, kind, params.user!, (body as SecondsBody).seconds);
          return {};
        },
      },
      {
        method: 'DELETE',
        path: `/api/rooms/{room}/${plural}/{user}`,
        operationId: `un${kind}User`,
        summary: `Lift a user's ${kind} in a room`,
        description: 'Nothing happens when there is none.',
        tags: ['moderation'],
        status: 200,
        result: EmptySchema,
        errors: [400],
        async handle({ params }) {
          await moderation.lift(params.room!, kind, params.user!);
          return {};
        },
      },
    );
  }
  routes.push({
    method: 'PUT',
    path: '/api/rooms/{room}/settings',
    operationId: 'roomSettings',
    summary: "Change a room's slow mode and topic",
    description:
      'Fields left out keep their value; `0` / `""` turn them off. The topic is returned in the `join` reply and in `rooms` entries. Answers the settings after the change.',
    tags: ['moderation'],
    body: SettingsBody,
    status: 200,
    result: SettingsResult,
    errors: [400, 413],
    async handle({ params, body }) {
      validate(SettingsBody, body, 'body');
      const b = body as SettingsBody;
      const patch: { slowModeSeconds?: number; topic?: string } = {};
      if (b.slowModeSeconds !== undefined) patch.slowModeSeconds = b.slowModeSeconds;
      if (b.topic !== undefined) patch.topic = b.topic;
      return moderation.updateSettings(params.room!, patch);
    },
  });
  return routes;
}
