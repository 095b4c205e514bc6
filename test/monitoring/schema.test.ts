/**
 * The monitoring JSON validated against the API schemas: the dashboard against
 * google.monitoring.dashboard.v1.Dashboard and every alert policy against google.monitoring.v3.AlertPolicy
 * (the protos @google-cloud/monitoring-dashboards and @google-cloud/monitoring ship, loaded with
 * protobufjs; strict: unknown keys, bad enums, malformed durations, two oneof members fail), every
 * metric they reference is a log-based metric of LOG_METRICS or a listed built-in type, and every
 * LogMetric matches a strict schema of the documented REST fields. The gRPC conversion round-trips.
 */
import protobuf from 'protobufjs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ALERT_NAMES, buildAlertPolicies } from '../../infra/monitoring/alert-policies.js';
import { buildNotificationChannels, sameAsStored } from '../../infra/monitoring/apply.js';
import { buildDashboard } from '../../infra/monitoring/dashboard.js';
import { LOG_METRICS, logMetricType } from '../../infra/monitoring/log-metrics.js';
import { jsonToProto, PROTO_TYPES, protoToJson, validateJson, type ProtoTypeName } from '../../infra/monitoring/proto-json.js';
import { BUILTIN, deadLetterRetentionSubscriptions } from '../../infra/monitoring/targets.js';
import { topologySpecs } from '../../infra/bus/topology.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';

type Json = Record<string, unknown>;
const dashboard = buildDashboard();
const policies = buildAlertPolicies({ notificationChannels: ['projects/p/notificationChannels/1'] });

/** Every `metric.type="..."` in the JSON's strings. */
function metricTypes(x: unknown): string[] {
  return [...JSON.stringify(x).matchAll(/metric\.type=\\"([^\\]+)\\"/g)].map((m) => m[1]!);
}

describe('dashboard and alert policies against the API protos (strict)', () => {
  it('the dashboard is a valid google.monitoring.dashboard.v1.Dashboard', () => {
    expect(validateJson(PROTO_TYPES.dashboard, dashboard)).toEqual([]);
  });

  it('every alert policy is a valid google.monitoring.v3.AlertPolicy; the channel a valid NotificationChannel', () => {
    expect(policies.map((p) => p.displayName)).toEqual(Object.values(ALERT_NAMES));
    for (const p of policies) expect(validateJson(PROTO_TYPES.alertPolicy, p)).toEqual([]);
    expect(validateJson(PROTO_TYPES.notificationChannel, buildNotificationChannels({ alertEmail: 'a@b.c' })[0])).toEqual([]);
  });

  it('the validator is strict: a typo, a bad enum, a malformed duration, two oneof members, a wrong scalar all fail', () => {
    const p = structuredClone(policies[0]!) as Json;
    const cond = (p.conditions as Json[])[0]!;
    const th = cond.conditionThreshold as Json;
    expect(validateJson(PROTO_TYPES.alertPolicy, { ...p, displayNam: 'x' })).toEqual(['displayNam: not a field of google.monitoring.v3.AlertPolicy']);
    expect(validateJson(PROTO_TYPES.alertPolicy, { ...p, conditions: [{ ...cond, conditionThreshold: { ...th, comparison: 'GREATER' } }] })[0]).toMatch(/comparison: "GREATER" is not a google.monitoring.v3.ComparisonType value/);
    expect(validateJson(PROTO_TYPES.alertPolicy, { ...p, conditions: [{ ...cond, conditionThreshold: { ...th, duration: '60' } }] })[0]).toMatch(/duration: a duration must be a string like "60s"/);
    expect(validateJson(PROTO_TYPES.alertPolicy, { ...p, conditions: [{ ...cond, conditionAbsent: { filter: 'x' } }] })[0]).toMatch(/oneof condition has more than one member set/);
    expect(validateJson(PROTO_TYPES.alertPolicy, { ...p, conditions: [{ ...cond, conditionThreshold: { ...th, thresholdValue: '0.05' } }] })[0]).toMatch(/thresholdValue: must be a finite number/);
    expect(validateJson(PROTO_TYPES.alertPolicy, { ...p, conditions: [{ ...cond, condition_threshold: th }] })[0]).toMatch(/condition_threshold: not a field/);
    const d = structuredClone(dashboard) as { mosaicLayout: { tiles: Array<{ widget: Json }> } };
    d.mosaicLayout.tiles[1]!.widget.xyChart = { ...(d.mosaicLayout.tiles[1]!.widget.xyChart as Json), dataSet: [] };
    expect(validateJson(PROTO_TYPES.dashboard, d)).toEqual(['mosaicLayout.tiles[1].widget.xyChart.dataSet: not a field of google.monitoring.dashboard.v1.XyChart']);
    expect(validateJson(PROTO_TYPES.dashboard, { ...dashboard, gridLayout: { columns: '2' } })[0]).toMatch(/oneof layout has more than one member set/);
  });

  it('every metric a chart or a policy reads is a LOG_METRICS metric or a listed built-in type', () => {
    const allowed = new Set<string>([...LOG_METRICS.map((m) => logMetricType(m.name)), ...Object.values(BUILTIN)]);
    const used = [...metricTypes(dashboard), ...metricTypes(policies)];
    expect(used.length).toBeGreaterThan(15);
    for (const t of used) expect(allowed, t).toContain(t);
    // and every log-based metric is on the dashboard
    for (const m of LOG_METRICS) expect(used).toContain(logMetricType(m.name));
  });

  it('the DLQ alert watches every dead-letter retention subscription of the topology; the drawdown alert uses the config level', () => {
    const dlq = JSON.stringify(policies.find((p) => p.displayName === ALERT_NAMES.deadLetters));
    const subs = deadLetterRetentionSubscriptions();
    expect(subs.length).toBe(new Set(topologySpecs().map((s) => s.topic)).size);
    for (const s of subs) expect(dlq).toContain(JSON.stringify(JSON.stringify(s)).slice(1, -1));
    const dd = policies.find((p) => p.displayName === ALERT_NAMES.drawdown) as { conditions: Array<{ conditionThreshold: { thresholdValue: number; comparison: string } }> };
    expect(dd.conditions[0]!.conditionThreshold).toMatchObject({ thresholdValue: DEFAULT_STRATEGY_CONFIGS.protections.accountGuards.dailyDrawdownAlertPct, comparison: 'COMPARISON_GE' });
    expect(DEFAULT_STRATEGY_CONFIGS.protections.accountGuards.dailyDrawdownAlertPct).toBe(3);
  });

  it('the gRPC conversion round-trips through the wire format (what the client sends and gets back equals the JSON)', () => {
    const require = createRequire(import.meta.url);
    const root = (p: string) => protobuf.Root.fromJSON(require(p) as protobuf.INamespace);
    const mon = root('@google-cloud/monitoring/build/protos/protos.json');
    const dash = root('@google-cloud/monitoring-dashboards/build/protos/protos.json');
    const cases: Array<[ProtoTypeName, protobuf.Root, Json]> = [
      [PROTO_TYPES.dashboard, dash, dashboard],
      ...policies.map((p): [ProtoTypeName, protobuf.Root, Json] => [PROTO_TYPES.alertPolicy, mon, p]),
    ];
    for (const [type, r, json] of cases) {
      const T = r.lookupType(type);
      const wire = T.encode(T.fromObject(jsonToProto(type, json))).finish();
      // the options google-gax's proto-loader decodes answers with
      const answer = T.toObject(T.decode(wire), { longs: String, enums: String, defaults: true, oneofs: true });
      const back = protoToJson(type, answer);
      expect(sameAsStored(json, back), String(json.displayName)).toBe(true);
    }
  });
});

/** The documented REST fields of a LogMetric (https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.metrics). */
const label = z.strictObject({ key: z.string().regex(/^[a-z][a-z0-9_]*$/), valueType: z.enum(['STRING', 'BOOL', 'INT64']), description: z.string().optional() });
const bucketOptions = z.union([
  z.strictObject({ linearBuckets: z.strictObject({ numFiniteBuckets: z.number().int().positive(), width: z.number().positive(), offset: z.number().optional() }) }),
  z.strictObject({ exponentialBuckets: z.strictObject({ numFiniteBuckets: z.number().int().positive(), growthFactor: z.number().gt(1), scale: z.number().positive() }) }),
  z.strictObject({ explicitBuckets: z.strictObject({ bounds: z.array(z.number()).min(1) }) }),
]);
const logMetric = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_\-.\/]{1,100}$/),
    description: z.string().min(1),
    filter: z.string().min(1),
    bucketName: z.string().optional(),
    disabled: z.boolean().optional(),
    metricDescriptor: z
      .strictObject({
        metricKind: z.literal('DELTA'),
        valueType: z.enum(['INT64', 'DISTRIBUTION']),
        unit: z.string().optional(),
        labels: z.array(label).optional(),
        displayName: z.string().optional(),
        description: z.string().optional(),
      })
      .optional(),
    valueExtractor: z.string().regex(/^(EXTRACT|REGEXP_EXTRACT)\(/).optional(),
    labelExtractors: z.record(z.string(), z.string().regex(/^(EXTRACT|REGEXP_EXTRACT)\(/)).optional(),
    bucketOptions: bucketOptions.optional(),
  })
  .superRefine((m, ctx) => {
    const distribution = m.metricDescriptor?.valueType === 'DISTRIBUTION';
    if (distribution !== (m.valueExtractor !== undefined)) ctx.addIssue({ code: 'custom', message: 'valueExtractor goes with (and only with) a DISTRIBUTION metric' });
    if (distribution && !m.bucketOptions) ctx.addIssue({ code: 'custom', message: 'a DISTRIBUTION metric needs bucketOptions' });
    const keys = (m.metricDescriptor?.labels ?? []).map((l) => l.key).sort();
    if (JSON.stringify(keys) !== JSON.stringify(Object.keys(m.labelExtractors ?? {}).sort())) ctx.addIssue({ code: 'custom', message: 'every label has an extractor and every extractor a label' });
  });

describe('log-based metrics against the LogMetric REST schema (strict)', () => {
  for (const m of LOG_METRICS) {
    it(`${m.name} is a valid LogMetric`, () => {
      const r = logMetric.safeParse(m);
      expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
    });
  }
  it('the schema refuses a typo', () => {
    expect(logMetric.safeParse({ ...LOG_METRICS[0], fliter: 'x' }).success).toBe(false);
  });
});
