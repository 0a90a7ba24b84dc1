import type { AvgMinMax, Gauge, Histogram, MetricsRegister } from '@libp2p/gossipsub/metrics';

/**
 * gossipsub checks signatures (StrictSign) itself, before any topic validator runs, and drops an
 * unsigned or badly signed message without telling the application. Its only report is a metric
 * (`gossipsub_msg_received_invalid_total{error}`), so this register implements every metric as a
 * no-op except that one, which it forwards: that is how such rejections get counted.
 *
 * `onInvalid` receives gossipsub's reason: `invalid_signature`, `invalid_seqno`, `invalid_peerid`,
 * `signature_present`, `seqno_present`, `from_present`, `transform_failed`, or `reject`/`ignore`
 * for a topic validator's verdict (which the transport counts itself).
 */
export function rejectionMetricsRegister(onInvalid: (error: string) => void): MetricsRegister {
  const noop = (): void => {};
  const gauge = (name: string): Gauge<never> => {
    const inc: (labels?: unknown) => void =
      name === 'gossipsub_msg_received_invalid_total'
        ? (labels?: unknown) => {
            const error = (labels as { error?: unknown } | undefined)?.error;
            if (typeof error === 'string') onInvalid(error);
          }
        : noop;
    const g: unknown = { inc, set: noop, addCollect: noop };
    return g as Gauge<never>;
  };
  const histogram = { startTimer: () => noop, observe: noop, reset: noop } as unknown as Histogram<never>;
  const avgMinMax = { set: noop } as unknown as AvgMinMax<never>;
  return {
    gauge: ((config: { name: string }) => gauge(config.name)) as unknown as MetricsRegister['gauge'],
    histogram: (() => histogram) as unknown as MetricsRegister['histogram'],
    avgMinMax: (() => avgMinMax) as unknown as MetricsRegister['avgMinMax'],
  };
}
