// Writes dashboard.json. Edit the panels here, run `node deploy/grafana/generate-dashboard.mjs`,
// and commit both files: the end-to-end test evaluates every expression against a real Prometheus.
import { writeFileSync } from 'node:fs';

const sel = 'job=~"$job",instance=~"$instance"';
const rate = (metric, extra = '') => `rate(${metric}{${sel}${extra}}[$__rate_interval])`;

let id = 0;
let y = 0;
const panels = [];
function row(title) {
  panels.push({ type: 'row', title, id: ++id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
}
function timeseries(title, targets, { unit = 'short', w = 12, description = '', exemplars = false } = {}) {
  const x = panels.length > 0 && panels.at(-1).type !== 'row' && panels.at(-1).gridPos.x + panels.at(-1).gridPos.w + w <= 24
    ? panels.at(-1).gridPos.x + panels.at(-1).gridPos.w
    : 0;
  if (x === 0 && panels.length > 0 && panels.at(-1).type !== 'row') y += 8;
  panels.push({
    type: 'timeseries',
    title,
    description,
    id: ++id,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w, x, y },
    fieldConfig: { defaults: { unit }, overrides: [] },
    options: { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi' } },
    targets: targets.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: { type: 'prometheus', uid: '${datasource}' },
      expr,
      legendFormat,
      exemplar: exemplars,
    })),
  });
}
function nextRow(title) {
  y += 8;
  row(title);
}

row('Requests (RED per route)');
timeseries('Request rate by route', [[`sum by (route) (${rate('http_requests_total')})`, '{{route}}']], { unit: 'reqps' });
timeseries('5xx error ratio by route', [
  [`sum by (route) (${rate('http_requests_total', ',status_code=~"5.."')}) / sum by (route) (${rate('http_requests_total')})`, '{{route}}'],
], { unit: 'percentunit' });
timeseries('Latency p50 / p95 / p99 by route', [0.5, 0.95, 0.99].map((q) => [
  `histogram_quantile(${q}, sum by (route, le) (${rate('http_request_duration_seconds_bucket')}))`,
  `p${Math.round(q * 100)} {{route}}`,
]), { unit: 's', exemplars: true, description: 'Exemplars link latency buckets to traces when tracing is on.' });
timeseries('Responses by status code', [[`sum by (status_code) (${rate('http_requests_total')})`, '{{status_code}}']], { unit: 'reqps' });
timeseries('Response size p95 by route', [[`histogram_quantile(0.95, sum by (route, le) (${rate('http_response_size_bytes_bucket')}))`, '{{route}}']], { unit: 'bytes' });
timeseries('In flight and open connections', [
  [`sum by (instance) (http_requests_in_flight{${sel}})`, 'in flight {{instance}}'],
  [`sum by (instance) (http_server_active_connections{${sel}})`, 'connections {{instance}}'],
]);

nextRow('Runtime');
timeseries('Event loop utilization', [[`nodejs_eventloop_utilization{${sel}}`, '{{instance}}']], { unit: 'percentunit' });
timeseries('Event loop lag p99', [[`nodejs_eventloop_lag_p99_seconds{${sel}}`, '{{instance}}']], { unit: 's' });
timeseries('Heap used and total', [
  [`nodejs_heap_size_used_bytes{${sel}}`, 'used {{instance}}'],
  [`nodejs_heap_size_total_bytes{${sel}}`, 'total {{instance}}'],
], { unit: 'bytes' });
timeseries('GC time per second by kind', [[`sum by (kind) (${rate('nodejs_gc_duration_seconds_sum')})`, '{{kind}}']], { unit: 's' });
timeseries('CPU and resident memory', [
  [`${rate('process_cpu_seconds_total')}`, 'cpu {{instance}}'],
  [`process_resident_memory_bytes{${sel}} / 1e9`, 'rss GB {{instance}}'],
]);

nextRow('Overload');
timeseries('Concurrency limit and requests in flight (overload limiter)', [
  [`min by (instance) (http_server_concurrency_limit{${sel}, partition="all"})`, 'limit {{instance}}'],
  [`max by (instance) (http_server_inflight{${sel}, partition="all"})`, 'in flight {{instance}}'],
]);
timeseries('Requests shed by route', [[`sum by (route) (${rate('http_server_requests_shed_total')})`, '{{route}}']], { unit: 'reqps' });

nextRow('Dependencies');
timeseries('Circuit breaker state', [[`max by (name, state) (circuit_breaker_state{${sel}}) == 1`, '{{name}}: {{state}}']]);
timeseries('Circuit breaker calls by outcome', [[`sum by (name, outcome) (${rate('circuit_breaker_calls_total')})`, '{{name}} {{outcome}}']], { unit: 'ops' });
timeseries('Health checks (1 healthy, 0.5 degraded, 0 unhealthy)', [[`min by (check) (health_check_status{${sel}})`, '{{check}}']]);
timeseries('Build info', [[`max by (service, version, commit, node_version) (app_build_info{${sel}})`, '{{service}} {{version}} ({{commit}}) on {{node_version}}']]);

nextRow('Databases');
timeseries('Database operations by system and operation', [[`sum by (db_system_name, db_operation_name) (${rate('db_client_operation_duration_seconds_count')})`, '{{db_system_name}} {{db_operation_name}}']], { unit: 'ops' });
timeseries('Database latency p95 by operation', [[
  `histogram_quantile(0.95, sum by (db_system_name, db_operation_name, le) (${rate('db_client_operation_duration_seconds_bucket')}))`,
  '{{db_system_name}} {{db_operation_name}}',
]], { unit: 's', exemplars: true, description: 'Exemplars link slow buckets to the request traces.' });
timeseries('Database errors and slow operations', [
  [`sum by (db_system_name, error_type) (${rate('db_client_operation_duration_seconds_count', ',error_type!=""')})`, 'error {{db_system_name}} {{error_type}}'],
  [`sum by (db_system_name, db_operation_name) (${rate('db_client_slow_operations_total')})`, 'slow {{db_system_name}} {{db_operation_name}}'],
], { unit: 'ops' });
timeseries('Pool connections and connection wait p95', [
  [`sum by (pool_name, state) (db_client_connections{${sel}})`, '{{pool_name}} {{state}}'],
  [`sum by (pool_name) (db_client_connection_pending_requests{${sel}})`, '{{pool_name}} waiting'],
  [`histogram_quantile(0.95, sum by (pool_name, le) (${rate('db_client_connection_wait_time_seconds_bucket')})) * 1000`, '{{pool_name}} wait p95 (ms)'],
]);

const dashboard = {
  title: 'periscope: HTTP service',
  uid: 'periscope-http',
  description: 'RED per route, runtime, dependencies, databases and build info for services instrumented with periscope.',
  tags: ['periscope', 'prometheus'],
  schemaVersion: 39,
  version: 1,
  editable: true,
  time: { from: 'now-1h', to: 'now' },
  refresh: '30s',
  templating: {
    list: [
      { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus' },
      {
        name: 'job', label: 'Service', type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' },
        query: { query: 'label_values(app_build_info, job)', refId: 'job' }, definition: 'label_values(app_build_info, job)',
        includeAll: true, multi: true, refresh: 2,
      },
      {
        name: 'instance', label: 'Instance', type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' },
        query: { query: 'label_values(app_build_info{job=~"$job"}, instance)', refId: 'instance' },
        definition: 'label_values(app_build_info{job=~"$job"}, instance)', includeAll: true, multi: true, refresh: 2,
      },
    ],
  },
  panels,
};

writeFileSync(new URL('./dashboard.json', import.meta.url), `${JSON.stringify(dashboard, null, 2)}\n`);
