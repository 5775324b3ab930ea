// The parser's API as the metrics tests use it (the package ships no types).
declare module 'parse-prometheus-text-format' {
  /** One sample (counter, gauge, untyped) or one labelled histogram / summary. */
  export interface PrometheusMetric {
    labels?: Record<string, string>;
    value?: string;
    /** Histograms: upper bound → cumulative count. */
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  /** A metric family: its name, `# HELP`, `# TYPE` (upper case) and samples. */
  export interface PrometheusFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: PrometheusMetric[];
  }
  /** Parses the Prometheus text format; throws on a malformed line. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
