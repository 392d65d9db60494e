/**
 * Group commit: merges writes submitted while another is in flight into one batch, written by one
 * statement (one round trip, one commit) instead of one each. A write submitted while nothing is
 * in flight starts at once (in the same turn's microtasks, with whatever else that turn
 * submitted), so an idle process waits for nothing; under load, batches grow by themselves to
 * what arrived during the previous write.
 *
 * Each `submit` settles when its batch has been written: resolved once the write returned (for a
 * statement outside a transaction: committed, durable), rejected with the write's error if it
 * failed. A failed batch fails every submission in it and nothing of it was written (one
 * statement); the writer goes on with the next batch.
 */
export class GroupCommit<T> {
  private queue: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  private writing = false;

  /**
   * @param write writes a batch in one statement (atomically: all or nothing).
   * @param maxBatch the most items one write takes (bounds a statement's size).
   */
  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.writing) return;
      this.writing = true;
      queueMicrotask(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await this.write(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.writing = false;
  }
}
