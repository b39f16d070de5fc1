import { type Kysely, MysqlAdapter, sql } from 'kysely'

/**
 * MySQL/MariaDB: several grants in one round trip (issue #20). `allot_grant_batch` takes a JSON array whose
 * elements are `allot_grant`'s 24 arguments in order, and calls `allot_grant` for each, in order: every grant
 * keeps its own transaction and answers its own one-row result set, as if it had been called alone. A grant
 * that fails (a deadlock, a lock wait timeout: `allot_grant` has rolled it back) answers
 * `('error', <MySQL error number>, 0)` and the batch goes on with the next; the caller decides about that one.
 *
 * JSON_TABLE needs MariaDB 10.6 or MySQL 8.0. repositories/mysql-grant.ts falls back to one CALL per grant
 * when this procedure is missing (a server not migrated yet).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  await sql.raw(BATCH_PROCEDURE).execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  await sql.raw('drop procedure if exists allot_grant_batch').execute(db)
}

/** allot_grant's parameters: name, SQL type. */
const PARAMS: [string, string][] = [
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

const text = (type: string) => (/char|text/.test(type) ? `${type} character set utf8mb4` : type)

const BATCH_PROCEDURE = `
create procedure allot_grant_batch(in p_grants longtext character set utf8mb4)
modifies sql data
begin
  declare v_done int default 0;
  declare v_errno int default 0;
  ${PARAMS.map(([name, type]) => `declare v_${name} ${text(type)};`).join('\n  ')}
  declare grants cursor for
    select * from json_table(p_grants, '$[*]' columns(
      ${PARAMS.map(([name, type], i) => `g_${name} ${text(type)} path '$[${i}]'`).join(',\n      ')})) as g;
  declare continue handler for not found set v_done = 1;
  open grants;
  each_grant: loop
    fetch grants into ${PARAMS.map(([name]) => `v_${name}`).join(', ')};
    if v_done = 1 then
      leave each_grant;
    end if;
    begin
      declare continue handler for sqlexception begin
        get diagnostics condition 1 v_errno = mysql_errno;
        select 'error' as outcome, v_errno as point, 0 as base_point;
      end;
      call allot_grant(${PARAMS.map(([name]) => `v_${name}`).join(', ')});
    end;
  end loop;
  close grants;
end`
