import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/**
 * The value of the sample of counter or gauge `name` whose labels include
 * `labels`, summed over the samples that match (0 when none does), as
 * Prometheus would scrape `GET /metrics` from loopback.
 */
export async function metricValue(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`);
  const family = parsePrometheusTextFormat(await response.text()).find((entry) => entry.name === name);
  let total = 0;
  for (const metric of family?.metrics ?? []) {
    const matches = Object.entries(labels).every(([label, value]) => metric.labels?.[label] === value);
    if (matches) total += Number(metric.value);
  }
  return total;
}
