/** Throws a `RangeError` naming `what` unless `value` is an integer 0–255. */
export function assertByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not a byte`);
  }
}
