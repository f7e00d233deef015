/** A Server-Sent Events frame as the stream carries it (comments and `retry:` are not frames). */
export interface SseFrame {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Reads `text/event-stream` from a fetch body, calling `onFrame` per frame and `onActivity` per chunk
 * (heartbeat comments included). Resolves when the stream ends.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onFrame: (frame: SseFrame) => void,
  onActivity: () => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onFrame({ event: event || 'message', data: data.join('\n'), id });
      event = '';
      data = [];
      id = undefined;
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    const value = colon === -1 ? '' : text.slice(colon + (text[colon + 1] === ' ' ? 2 : 1));
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onActivity();
      buffer += decoder.decode(value, { stream: true });
      // A trailing \r may be the first half of \r\n: hold it back with the unfinished last line.
      const held = buffer.endsWith('\r') ? 1 : 0;
      const lines = buffer.slice(0, buffer.length - held).split(/\r\n|\r|\n/);
      buffer = (lines.pop() ?? '') + buffer.slice(buffer.length - held);
      for (const text of lines) line(text);
    }
  } finally {
    reader.releaseLock();
  }
}
