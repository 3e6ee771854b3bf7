import { describe, expect, it } from 'vitest';
import { encodeTextFrame, prepareFrame, textFrame, wsTextFrame } from '../../src/transport/ws-frame.js';

describe('textFrame: one Buffer per server text frame', () => {
  const texts = [
    '',
    'x'.repeat(125),
    'x'.repeat(126),
    'x'.repeat(65_535),
    'x'.repeat(65_536),
    // multi-byte UTF-8: the length is in bytes, not in characters
    '{"text":"héllo 你好 👋"}',
    '你'.repeat(42), // 126 bytes
  ];

  it.each(texts.map((t) => [t.length, t]))('is byte-identical to RFC 6455 framing (%i chars)', (_n, text) => {
    const expected = Buffer.concat(encodeTextFrame(Buffer.from(text)));
    expect(textFrame(text)).toEqual(expected);
    expect(textFrame(text)).toEqual(Buffer.concat(wsTextFrame(Buffer.from(text))));
  });

  it('a prepared frame keeps the payload as the tail of its wire bytes', () => {
    for (const text of texts) {
      const f = prepareFrame(text);
      expect(f.payload.toString()).toBe(text);
      expect(f.wire.subarray(f.wire.length - f.payload.length)).toEqual(f.payload);
      expect(f.json).toBe(text);
    }
  });
});
