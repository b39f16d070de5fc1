import { type Kysely, MysqlAdapter, sql } from 'kysely'

/**
 * MySQL/MariaDB: up to GRANT_BATCH_SLOTS grants in one CALL (issue #20). `allot_grant_batch` takes the
 * arguments of `allot_grant` (migration 0014) once per slot, positionally, and calls it for each slot whose
 * unit is not null, in order: each grant is still its own transaction and answers its own one-row result set.
 * A grant that fails (a deadlock, a lock wait timeout) answers `error` with its MySQL error number in `point`
 * and the next slot runs; the caller retries that grant alone (repositories/mysql-grant.ts).
 *
 * Positional arguments, not a JSON array: an earlier batch that read its grants with JSON_TABLE into a cursor
 * cost MariaDB more CPU per grant than the round trips it saved (docs/benchmarks.md).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  await sql.raw(batchProcedure()).execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  await sql.raw('drop procedure if exists allot_grant_batch').execute(db)
}

/** Grants per CALL of `allot_grant_batch`. */
export const GRANT_BATCH_SLOTS = 8

/** `allot_grant`'s parameters, in its order (migration 0014). */
const PARAMETERS: [string, string][] = [
  ['unit', 'bigint'],
  ['user', 'varchar(255)'],
  ['hour', 'bigint'],
  ['hour_limit', 'int'],
  ['device', 'bigint'],
  ['base_period', 'varchar(32)'],
  ['base_point', 'int'],
  ['base_limit', 'int'],
  ['tx', 'varchar(32)'],
  ['campaign', 'bigint'],
  ['action', 'varchar(4)'],
  ['period', 'varchar(32)'],
  ['point', 'int'],
  ['at', 'bigint'],
  ['day', 'varchar(10)'],
  ['points_metric', 'varchar(32)'],
  ['postbacks_metric', 'varchar(32)'],
  ['count_metric', 'varchar(32)'],
  ['shards', 'int'],
  ['url', 'varchar(2048)'],
  ['headers', 'text'],
  ['body', 'text'],
  ['base_headers', 'text'],
  ['base_body', 'text'],
]

/** Arguments per grant. */
export const GRANT_ARGUMENTS = PARAMETERS.length

function batchProcedure(): string {
  const slots = Array.from({ length: GRANT_BATCH_SLOTS }, (_, i) => i + 1)
  const name = (slot: number, parameter: string) => `s${slot}_${parameter}`
  const declared = slots.flatMap((s) => PARAMETERS.map(([p, type]) => `in ${name(s, p)} ${type}`))
  const calls = slots.map(
    (s) => `
  if ${name(s, 'unit')} is not null then
    begin
      declare continue handler for sqlexception begin
        get diagnostics condition 1 v_errno = mysql_errno;
        select 'error' as outcome, v_errno as point, 0 as base_point;
      end;
      call allot_grant(${PARAMETERS.map(([p]) => name(s, p)).join(', ')});
    end;
  end if;`,
  )
  return `
create procedure allot_grant_batch(${declared.join(', ')})
modifies sql data
begin
  declare v_errno int default 0;${calls.join('')}
end`
}
