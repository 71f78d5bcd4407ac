export { createRegistry, type Registry, type Counter, type Gauge, type Histogram, type Labels } from './registry.ts'
export { CONTENT_TYPE } from './exposition.ts'
export { createCollectorMetrics, type CollectorMetrics, type CollectorMetricsDeps } from './collector-metrics.ts'
export { processStatsReader, watchOpenFiles, type ProcessStats, type FdWatch } from './process-stats.ts'
