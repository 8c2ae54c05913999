/**
 * One scrape for several workers: their Prometheus bodies summed series by
 * series (counters, gauges and histogram buckets all add up), plus
 * per-worker series of the connection counts, so a dashboard can see how
 * the kernel spreads clients.
 *
 * @module
 */

// Families that also get one series per worker, under `edgesocks_worker_*`.
const PER_WORKER = [
  ["connections_active", "gauge", "Client connections open now, per worker."],
  [
    "connections_accepted_total",
    "counter",
    "Client connections accepted and served, per worker.",
  ],
] as const;

/**
 * Sums the scrape bodies of every worker (in worker order) into one.
 *
 * @example
 * ```ts
 * import { sumExpositions } from "./metrics_sum.ts";
 * const body = sumExpositions([
 *   "# TYPE edgesocks_connections_active gauge\nedgesocks_connections_active 2\n",
 *   "# TYPE edgesocks_connections_active gauge\nedgesocks_connections_active 3\n",
 * ]);
 * console.log(body.includes("edgesocks_connections_active 5")); // true
 * ```
 */
export function sumExpositions(bodies: readonly string[]): string {
  // Series and comment lines in the order first seen; values summed.
  const order: string[] = [];
  const sums = new Map<string, number>();
  const perWorker = new Map<string, number[]>();
  bodies.forEach((body, worker) => {
    for (const line of body.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("#")) {
        if (!sums.has(line)) {
          sums.set(line, NaN);
          order.push(line);
        }
        continue;
      }
      const space = line.lastIndexOf(" ");
      const series = line.slice(0, space);
      const value = Number(line.slice(space + 1));
      const sum = sums.get(series);
      if (sum === undefined) order.push(series);
      sums.set(series, (sum ?? 0) + value);
      for (const [family] of PER_WORKER) {
        if (series === `edgesocks_${family}`) {
          const values = perWorker.get(family) ?? [];
          values[worker] = value;
          perWorker.set(family, values);
        }
      }
    }
  });
  const lines = order.map((key) => {
    const sum = sums.get(key)!;
    return Number.isNaN(sum) ? key : `${key} ${formatSum(sum)}`;
  });
  for (const [family, type, help] of PER_WORKER) {
    const name = `edgesocks_worker_${family}`;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    bodies.forEach((_, worker) => {
      const value = perWorker.get(family)?.[worker] ?? 0;
      lines.push(`${name}{worker="${worker}"} ${formatSum(value)}`);
    });
  }
  return lines.join("\n") + "\n";
}

// Integers as integers; sums of float seconds rounded off at a nanosecond.
function formatSum(value: number): string {
  return Number.isInteger(value) ? String(value) : String(+value.toFixed(9));
}
