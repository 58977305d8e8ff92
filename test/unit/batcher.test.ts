import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/db/batcher.js';

/** A run that waits until released, recording each batch it was given. */
function gatedRun() {
  const batches: number[][] = [];
  const gates: Array<() => void> = [];
  const run = (items: number[]) =>
    new Promise<string[]>((resolve) => {
      batches.push(items);
      gates.push(() => resolve(items.map((i) => `r${i}`)));
    });
  const release = () => gates.shift()!();
  return { batches, run, release };
}

describe('createBatcher', () => {
  it('runs a lone item at once, and items that arrive during a run together in the next one', async () => {
    const g = gatedRun();
    const b = createBatcher<number, string>({ run: g.run });
    const first = b.push(1);
    const rest = [b.push(2), b.push(3), b.push(4)];
    expect(g.batches).toEqual([[1]]);
    g.release();
    expect(await first).toBe('r1');
    expect(g.batches).toEqual([[1], [2, 3, 4]]);
    g.release();
    expect(await Promise.all(rest)).toEqual(['r2', 'r3', 'r4']);
    await b.idle();
    expect(b.size()).toBe(0);
  });

  it('takes at most maxBatch items a run, in arrival order', async () => {
    const g = gatedRun();
    const b = createBatcher<number, string>({ run: g.run, maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => b.push(i));
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      g.release();
    }
    expect(await Promise.all(all)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(g.batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('rejects every item of a run that throws, and goes on with the next run', async () => {
    let calls = 0;
    const b = createBatcher<number, number>({
      run: async (items) => {
        calls++;
        if (calls === 1) throw new Error('statement failed');
        return items.map((i) => i * 10);
      },
    });
    const failed = b.push(1);
    const next = b.push(2);
    await expect(failed).rejects.toThrow('statement failed');
    expect(await next).toBe(20);
  });

  it('rejects a run that answers the wrong number of results', async () => {
    const b = createBatcher<number, number>({ run: async () => [] });
    await expect(b.push(1)).rejects.toThrow('0 results for 1 items');
  });

  it('starts the next run before resuming the callers of the finished one', async () => {
    const order: string[] = [];
    const g = gatedRun();
    const b = createBatcher<number, string>({
      run: (items) => {
        order.push(`run ${items.join(',')}`);
        return g.run(items);
      },
    });
    const first = b.push(1).then(() => order.push('answered 1'));
    void b.push(2);
    g.release();
    await first;
    expect(order).toEqual(['run 1', 'run 2', 'answered 1']);
    g.release();
    await b.idle();
  });
});
