/**
 * Incremental indicators for the 15-second evaluation: `update` commits a CLOSED candle's value,
 * `peek` evaluates the FORMING candle's value without committing it. They reproduce the batch
 * functions in ./tulind.ts exactly (same seeding), so a snapshot decision equals the decision the
 * batch code would take on the same data.
 */

export class IncrementalEma {
  private value = Number.NaN;
  private readonly k: number;

  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new Error(`ema period must be a positive integer, got ${period}`);
    this.k = 2 / (period + 1);
  }

  /** tulind seeds the EMA with the first value. */
  private next(x: number): number {
    return Number.isNaN(this.value) ? x : (x - this.value) * this.k + this.value;
  }

  update(x: number): number {
    this.value = this.next(x);
    return this.value;
  }

  peek(x: number): number {
    return this.next(x);
  }

  current(): number {
    return this.value;
  }
}

/** Wilder's RSI as tulind computes it: the first `period` changes seed simple averages. */
export class IncrementalRsi {
  private prev = Number.NaN;
  private count = 0;
  private avgGain = 0;
  private avgLoss = 0;
  private value = Number.NaN;

  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new Error(`rsi period must be a positive integer, got ${period}`);
  }

  private step(x: number): { prev: number; count: number; avgGain: number; avgLoss: number; value: number } {
    if (Number.isNaN(this.prev)) return { prev: x, count: 0, avgGain: 0, avgLoss: 0, value: Number.NaN };
    const change = x - this.prev;
    const gain = Math.max(change, 0);
    const loss = Math.max(-change, 0);
    const count = this.count + 1;
    let avgGain: number;
    let avgLoss: number;
    if (count <= this.period) {
      avgGain = this.avgGain + gain;
      avgLoss = this.avgLoss + loss;
      if (count < this.period) return { prev: x, count, avgGain, avgLoss, value: Number.NaN };
      avgGain /= this.period;
      avgLoss /= this.period;
    } else {
      avgGain = (this.avgGain * (this.period - 1) + gain) / this.period;
      avgLoss = (this.avgLoss * (this.period - 1) + loss) / this.period;
    }
    // tulind yields NaN (0/0) when nothing moved over the window; so do we: no RSI, no signal.
    const value = (100 * avgGain) / (avgGain + avgLoss);
    return { prev: x, count, avgGain, avgLoss, value };
  }

  update(x: number): number {
    const s = this.step(x);
    this.prev = s.prev;
    this.count = s.count;
    this.avgGain = s.avgGain;
    this.avgLoss = s.avgLoss;
    this.value = s.value;
    return this.value;
  }

  peek(x: number): number {
    return this.step(x).value;
  }

  current(): number {
    return this.value;
  }
}
