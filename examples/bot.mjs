/**
 * A bot: a Node program that answers in a room, built on the client SDK
 * (`parley/client`). It joins PARLEY_ROOM (default "general") and answers
 * `!ping` with `pong` and `!echo <text>` with the text; it ignores its own
 * messages. The SDK reconnects by itself and rejoins the room.
 *
 *   npm start                         # a server on ws://127.0.0.1:3000 (dev mode)
 *   node examples/bot.mjs             # then say "!ping" in the room from the web page
 *
 * Against a server with JWT auth, set PARLEY_TOKEN to a token for the bot.
 */
import WebSocket from 'ws';
import { ParleyClient } from 'parley/client';

const room = process.env.PARLEY_ROOM ?? 'general';
const options = { url: process.env.PARLEY_URL ?? 'ws://127.0.0.1:3000/ws', WebSocket };
if (process.env.PARLEY_TOKEN) options.token = process.env.PARLEY_TOKEN;
else Object.assign(options, { user: 'bot', name: 'Bot' });
const bot = new ParleyClient(options);

/** The answer to a message, or null when the bot stays quiet. */
function answer(text) {
  if (text.trim() === '!ping') return 'pong';
  const echo = /^!echo\s+(.+)$/s.exec(text.trim());
  return echo ? echo[1] : null;
}

bot.on('message', (m) => {
  if (m.room !== room || m.from === bot.userId) return;
  const reply = answer(m.text);
  if (reply !== null) {
    bot.send(room, reply).catch((err) => console.error(`bot: could not answer: ${err.code}: ${err.message}`));
  }
});
bot.on('state', (s) => {
  if (s.state === 'closed' && s.error) console.error(`bot: disconnected: ${s.error.message}`);
});

await bot.connect();
await bot.join(room);
console.log(`bot: answering in ${room} as ${bot.userId}`);

const stop = () => {
  bot.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
