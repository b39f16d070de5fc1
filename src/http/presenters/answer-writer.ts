/**
 * Builds one answer's bytes: pre-encoded static parts are copied in, the few request-made values (plain
 * ASCII: numbers, base64url, query-escaped text) are written as they are. No string of the whole answer
 * is ever made, so there is no rope to flatten and no UTF-8 encoding of it on the socket.
 */
export class AnswerWriter {
  private buffer: Buffer
  private at = 0

  constructor(size = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(size)
  }

  /** Starts a new answer, reusing the scratch space (rendering is synchronous: no two answers interleave). */
  reset(): this {
    this.at = 0
    return this
  }

  bytes(part: Buffer): this {
    this.room(part.length)
    this.at += part.copy(this.buffer, this.at)
    return this
  }

  /** ASCII text (escaped URLs, base64url, digits): one byte per character. */
  ascii(text: string): this {
    this.room(text.length)
    this.at += this.buffer.write(text, this.at, 'latin1')
    return this
  }

  /** A copy of what was written, for the socket (the scratch space is reused by the next answer). */
  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.at))
  }

  private room(more: number): void {
    if (this.at + more <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + more))
    this.buffer.copy(grown, 0, 0, this.at)
    this.buffer = grown
  }
}
