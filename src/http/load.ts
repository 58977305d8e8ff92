/**
 * How many requests a second this process is answering: counted as each arrives (one increment,
 * nothing kept per request) and turned into a rate over windows of at least a quarter second
 * when asked. The notification worker gives way while the rate is high.
 */
export class WebLoad {
  private arrivedCount = 0;
  private sampleCount = 0;
  private sampleAt = performance.now();
  private rate = 0;

  /** Called once per request, as it arrives. */
  arrived(): void {
    this.arrivedCount++;
  }

  /** Requests a second over the last window (a window closes when asked at least 250 ms after it opened). */
  perSecond(): number {
    const now = performance.now();
    const elapsed = now - this.sampleAt;
    if (elapsed >= 250) {
      this.rate = ((this.arrivedCount - this.sampleCount) * 1000) / elapsed;
      this.sampleCount = this.arrivedCount;
      this.sampleAt = now;
    }
    return this.rate;
  }
}
