/**
 * DDL derived from `shared/warehouse-schema.ts` (the one definition of every table): DuckDB
 * `CREATE TABLE` statements for the embedded warehouse and BigQuery table metadata for the cloud.
 * No column list is repeated here; everything is computed from `TABLES`.
 */
import type { TableField, TableMetadata } from '@google-cloud/bigquery';
import { TABLES, type Column, type ColumnType, type TableName, type TableSchema } from '../../shared/warehouse-schema.js';

export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

// ---------------------------------------------------------------------------------------------
// DuckDB

/** DuckDB column types of the stored tables. */
const DUCKDB_TYPES: Record<ColumnType, string> = {
  STRING: 'VARCHAR',
  INT64: 'BIGINT',
  FLOAT64: 'DOUBLE',
  BOOL: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP',
  JSON: 'JSON',
};

/**
 * Types of the staging tables rows are appended into before the idempotent merge: TIMESTAMP travels
 * as epoch-ms BIGINT and JSON as text, converted by `duckDbMergeSql`.
 */
const DUCKDB_STAGING_TYPES: Record<ColumnType, string> = {
  ...DUCKDB_TYPES,
  TIMESTAMP: 'BIGINT',
  JSON: 'VARCHAR',
};

/** Double-quoted DuckDB identifier (`interval` is a keyword). */
export function duckIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function duckDbCreateTable(table: TableName): string {
  const t = TABLES[table];
  const cols = t.columns.map(
    (c: Column) => `  ${duckIdent(c.name)} ${DUCKDB_TYPES[c.type]}${c.required ? ' NOT NULL' : ''}`,
  );
  cols.push(`  PRIMARY KEY (${t.key.map(duckIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${duckIdent(t.name)} (\n${cols.join(',\n')}\n)`;
}

export function duckDbStagingName(table: TableName): string {
  return `_stage_${TABLES[table].name}`;
}

/** A connection-local TEMP table with the staging types and no constraints. */
export function duckDbCreateStaging(table: TableName): string {
  const cols = TABLES[table].columns.map((c: Column) => `${duckIdent(c.name)} ${DUCKDB_STAGING_TYPES[c.type]}`);
  return `CREATE TEMP TABLE IF NOT EXISTS ${duckIdent(duckDbStagingName(table))} (${cols.join(', ')})`;
}

/** SQL expression converting a staging column to its stored type. */
function fromStaging(c: Column): string {
  const id = duckIdent(c.name);
  if (c.type === 'TIMESTAMP') return `epoch_ms(${id})`;
  if (c.type === 'JSON') return `CAST(${id} AS JSON)`;
  return id;
}

/** Moves the staged rows into the table; rows whose key already exists are skipped. */
export function duckDbMergeSql(table: TableName): string {
  const t = TABLES[table];
  const names = t.columns.map((c: Column) => duckIdent(c.name)).join(', ');
  const exprs = t.columns.map(fromStaging).join(', ');
  return (
    `INSERT INTO ${duckIdent(t.name)} (${names}) SELECT ${exprs} FROM ${duckIdent(duckDbStagingName(table))} ` +
    `ON CONFLICT DO NOTHING`
  );
}

/**
 * Columns added to a table after it was first created: a stored table keeps its rows and gets each
 * missing NULLABLE column (`ALTER TABLE ... ADD COLUMN`; its old rows read null). A missing REQUIRED
 * column cannot be added to rows that exist: that is an error naming it (a schema change must be additive).
 */
export function missingColumns(table: TableName, existing: ReadonlySet<string>): Column[] {
  const missing = (TABLES[table].columns as readonly Column[]).filter((c) => !existing.has(c.name));
  const required = missing.filter((c) => c.required);
  if (required.length > 0) {
    throw new Error(`warehouse table ${TABLES[table].name} lacks required column(s) ${required.map((c) => c.name).join(', ')}: a stored table can only gain nullable columns; migrate it by hand`);
  }
  return missing;
}

/** DuckDB statements adding the missing nullable columns of a stored table (see missingColumns). */
export function duckDbAddColumnsSql(table: TableName, existing: ReadonlySet<string>): string[] {
  return missingColumns(table, existing).map((c) => `ALTER TABLE ${duckIdent(TABLES[table].name)} ADD COLUMN ${duckIdent(c.name)} ${DUCKDB_TYPES[c.type]}`);
}

/** BigQuery fields of a stored table's schema with its missing nullable columns appended (null: none missing). */
export function bigQueryFieldsWithAdded(table: TableName, existing: readonly TableField[]): TableField[] | null {
  const missing = new Set(missingColumns(table, new Set(existing.map((f) => f.name ?? ''))).map((c) => c.name));
  if (missing.size === 0) return null;
  return [...existing, ...bigQueryFields(table).filter((f) => missing.has(f.name ?? ''))];
}

/** Every CREATE TABLE statement of the warehouse. */
export function duckDbSchemaSql(): string[] {
  return TABLE_NAMES.map(duckDbCreateTable);
}

/** SQL expression reading a stored column back in `Row` form (TIMESTAMP -> epoch ms). */
export function duckDbSelectExpr(c: Column, alias = c.name): string {
  const id = duckIdent(c.name);
  if (c.type === 'TIMESTAMP') return `epoch_ms(${id}) AS ${duckIdent(alias)}`;
  if (c.type === 'JSON') return `CAST(${id} AS VARCHAR) AS ${duckIdent(alias)}`;
  return `${id} AS ${duckIdent(alias)}`;
}

// ---------------------------------------------------------------------------------------------
// BigQuery

/** Backquoted BigQuery identifier (`interval` is reserved). */
export function bqIdent(name: string): string {
  return '`' + name.replace(/`/g, '\\`') + '`';
}

function bigQueryFields(table: TableName): TableField[] {
  return TABLES[table].columns.map((c: Column) => {
    const f: TableField = { name: c.name, type: c.type, mode: c.required ? 'REQUIRED' : 'NULLABLE' };
    if (c.description) f.description = c.description;
    return f;
  });
}

/** The metadata `dataset.createTable(name, metadata)` sends (tables.insert body, minus the reference). */
export function bigQueryTableMetadata(table: TableName): TableMetadata {
  const t: TableSchema = TABLES[table];
  const meta: TableMetadata = {
    description: t.description,
    schema: { fields: bigQueryFields(table) },
  };
  if (t.partitionBy) meta.timePartitioning = { type: 'DAY', field: t.partitionBy };
  if (t.clusterBy && t.clusterBy.length > 0) meta.clustering = { fields: [...t.clusterBy] };
  return meta;
}
