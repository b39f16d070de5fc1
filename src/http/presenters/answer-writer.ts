/** The size of the blocks answers are written into (each answer a slice of one; a larger answer gets its own). */
const SLAB_SIZE = 256 * 1024
/**
 * Emptied blocks kept for the answers to come (4 MiB); more are left to the GC. A burst must fit: one batch of
 * device reads resumes tens of allocations in one run of microtasks, and all are written before any of their
 * responses is done. With 4 spares, production-sql at 50 connections took a new block every ~17 answers, each
 * one mapped by glibc (it is over the 128 KiB mmap threshold that `MALLOC_TRIM_THRESHOLD_` fixes) and faulted
 * in page by page: 0.305 → 0.209 ms of CPU per cold allocation with 16 (docs/benchmarks.md).
 */
const SPARE_BLOCKS = 16

/** A block's answers handed out and not yet released. */
type Lent = { block: Buffer; answers: number }

/**
 * Builds one answer's bytes: pre-encoded static parts are copied in, the few request-made values (plain
 * ASCII: numbers, base64url, query-escaped text) are written as they are. No string of the whole answer
 * is ever made, so there is no rope to flatten and no UTF-8 encoding of it on the socket.
 *
 * Answers are written straight into a block shared by the answers that follow it, and each is handed out as
 * a slice of it (as Node pools small buffers), so an answer is never copied once written nor allocated on
 * its own. A socket that cannot take its answer keeps that answer's block alive until it does, which bounds
 * what a slow client holds to one block (the kernel's send buffer usually takes a whole answer at once).
 *
 * Blocks are written again once every answer in them is released (`release`: its response is done, sent or
 * aborted), as the current block from its start or as a spare block kept for later: under load, answers
 * then take no new memory at all. Left to the GC instead, the blocks of a thousand answers or more wait for
 * the next scavenge, and glibc keeps the tens of MB they took. An answer never released (a caller that does
 * not know when it is sent) only keeps its block from being reused; the GC frees it as before.
 */
export class AnswerWriter {
  private block: Buffer
  /** Where the answer being written starts in the block. */
  private start = 0
  private at = 0
  /** Blocks with answers out, by their memory; weak, so that a block whose answers are never released is freed. */
  private readonly lent = new WeakMap<ArrayBufferLike, Lent>()
  private readonly spare: Buffer[] = []

  constructor(private readonly slabSize = SLAB_SIZE) {
    this.block = Buffer.allocUnsafeSlow(slabSize)
  }

  /** Starts a new answer, dropping one left unfinished (rendering is synchronous: no two interleave). */
  reset(): this {
    // A block with less than a sixteenth left is not started on (the bench catalogs' answers are 40-75 KiB).
    if (this.block.length - this.start < this.slabSize >> 4) this.moveTo(this.slabSize, 0)
    this.at = this.start
    return this
  }

  bytes(part: Buffer): this {
    this.room(part.length)
    // Uint8Array's own set: a plain memory copy, without Buffer#copy's argument handling (in a profile of
    // 100,000-campaign answers, copying the parts in took 40 % less time).
    this.block.set(part, this.at)
    this.at += part.length
    return this
  }

  /** ASCII text (escaped URLs, base64url, digits): one byte per character. */
  ascii(text: string): this {
    this.room(text.length)
    this.at += this.block.write(text, this.at, 'latin1')
    return this
  }

  /** The answer written since `reset`: its own bytes, which no later answer writes over until it is released. */
  finish(): Buffer {
    const answer = this.block.subarray(this.start, this.at)
    const lent = this.lent.get(this.block.buffer)
    if (lent) lent.answers++
    else this.lent.set(this.block.buffer, { block: this.block, answers: 1 })
    // The next answer starts on an 8-byte boundary, as Node's own pool aligns its slices.
    this.start = Math.min(this.block.length, (this.at + 7) & ~7)
    this.at = this.start
    return answer
  }

  /**
   * Told that nobody reads `answer` any more (its response has finished or was aborted): once a block's every
   * answer is released, it is written again. Call it once per answer, and never before the socket is done
   * with it; answers that are not from this writer are ignored.
   */
  release(answer: Buffer): void {
    const lent = this.lent.get(answer.buffer)
    if (!lent) return
    if (--lent.answers > 0) return
    this.lent.delete(answer.buffer)
    // Rendering is synchronous, so no answer is being written here: the current block starts over.
    if (lent.block === this.block) this.start = this.at = 0
    else if (lent.block.length === this.slabSize && this.spare.length < SPARE_BLOCKS)
      this.spare.push(lent.block)
  }

  private room(more: number): void {
    if (this.at + more <= this.block.length) return
    const written = this.at - this.start
    this.moveTo(Math.max(this.slabSize, 2 * (written + more)), written)
  }

  /** Continues in a new block of `size` bytes, the answer's first `written` bytes copied over. */
  private moveTo(size: number, written: number): void {
    const block = (size === this.slabSize && this.spare.pop()) || Buffer.allocUnsafeSlow(size)
    this.block.copy(block, 0, this.start, this.start + written)
    this.block = block
    this.start = 0
    this.at = written
  }
}
