import { type Kysely, MysqlAdapter, sql } from 'kysely'

/**
 * MySQL/MariaDB: the reward grant as one stored procedure (issue #20), so a grant is one round trip instead of
 * two and no transaction ever stays open between round trips. The rules are the SQLite grant's
 * (repositories/reward.repository.ts) and are documented in repositories/mysql-grant.ts, which calls it; the
 * reward contract suites run on both. SQLite has no stored procedures and grants in process.
 *
 * Report rows are written in the order of their keys (points_<a>, postbacks, rewards_<a>), as every other
 * writer of report_counters does, so two grants never lock the same rows in opposite orders.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  await sql.raw(GRANT_PROCEDURE).execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  await sql.raw('drop procedure if exists allot_grant').execute(db)
}

const HOUR_KEY = 'unit_id = p_unit and user_id = p_user and hour = p_hour'
const COUNTER = "('campaign', p_day, p_unit, p_campaign, %metric, connection_id() % p_shards, %value, p_at)"
const counters = (rows: [string, string][]) =>
  'insert into report_counters (kind, day, unit_id, campaign_id, metric, shard, value, updated_at) values ' +
  rows.map(([metric, value]) => COUNTER.replace('%metric', metric).replace('%value', value)).join(', ') +
  ' on duplicate key update value = value + values(value), updated_at = values(updated_at)'

const GRANT_PROCEDURE = `
create procedure allot_grant(
  in p_unit bigint, in p_user varchar(255), in p_hour bigint, in p_hour_limit int,
  in p_device bigint, in p_base_period varchar(32), in p_base_point int, in p_base_limit int,
  in p_tx varchar(32), in p_campaign bigint, in p_action varchar(4), in p_period varchar(32),
  in p_point int, in p_at bigint, in p_day varchar(10),
  in p_points_metric varchar(32), in p_postbacks_metric varchar(32), in p_count_metric varchar(32),
  in p_shards int,
  in p_url varchar(2048), in p_headers text, in p_body text, in p_base_headers text, in p_base_body text)
modifies sql data
begin
  declare v_grants bigint;
  declare v_base int default 0;
  declare v_taken int default 0;
  declare v_point int;
  -- The ledger's unique keys: this (device, campaign, action, period) or transaction is already recorded.
  declare exit handler for 1062 begin
    rollback;
    select 'duplicate' as outcome, 0 as point, 0 as base_point;
  end;
  -- Anything else (a deadlock, a lock wait timeout): nothing stays open on the connection; the caller decides.
  declare exit handler for sqlexception begin
    rollback;
    resignal;
  end;
  start transaction;
  -- The user's grants this hour, plus one (a new row starts at 1; an existing one reads back its new count).
  insert into reward_user_hours (unit_id, user_id, hour, grants, base_grants) values (p_unit, p_user, p_hour, 1, 0)
    on duplicate key update grants = last_insert_id(grants + 1);
  set v_grants = if(row_count() = 1, 1, last_insert_id());
  if p_hour_limit > 0 and v_grants > p_hour_limit then
    rollback;
    select 'limited' as outcome, 0 as point, 0 as base_point;
  else
    -- The base part: due when this grant claims its period and the user is within its base parts this hour.
    if p_base_period is not null and p_base_point > 0 then
      -- A plain insert in a block of its own: its duplicate means another grant claimed the period (insert
      -- ignore's warning would reach the procedure's 1062 handler as if the ledger row were the duplicate).
      begin
        declare continue handler for 1062 set v_taken = 1;
        insert into reward_base_claims (device_id, unit_id, period, transaction_id)
          values (p_device, p_unit, p_base_period, p_tx);
      end;
      if v_taken = 0 then
        update reward_user_hours set base_grants = last_insert_id(base_grants + 1) where ${HOUR_KEY};
        if p_base_limit <= 0 or last_insert_id() <= p_base_limit then
          set v_base = p_base_point;
        else
          update reward_user_hours set base_grants = base_grants - 1 where ${HOUR_KEY};
          delete from reward_base_claims where device_id = p_device and unit_id = p_unit and period = p_base_period;
        end if;
      end if;
    end if;
    set v_point = p_point + v_base;
    if v_point <= 0 then
      rollback;
      select 'nothing' as outcome, 0 as point, 0 as base_point;
    else
      insert into reward_ledger (transaction_id, device_id, unit_id, campaign_id, source_campaign_id, action_type,
          period, point, base_point, created_at)
        values (p_tx, p_device, p_unit, p_campaign, p_campaign, p_action, p_period, v_point, v_base, p_at);
      if p_url is not null then
        insert into postback_outbox (ledger_id, transaction_id, unit_id, url, headers, body, status, attempts,
            next_attempt_at, claim, last_status, last_error, created_at, updated_at, campaign_id, report_day)
          values (last_insert_id(), p_tx, p_unit, p_url, if(v_base > 0, p_base_headers, p_headers),
            if(v_base > 0, p_base_body, p_body), 'pending', 0, p_at, null, null, null, p_at, p_at, p_campaign, p_day);
        ${counters([
          ['p_points_metric', 'v_point'],
          ['p_postbacks_metric', '1'],
          ['p_count_metric', '1'],
        ])};
      else
        ${counters([
          ['p_points_metric', 'v_point'],
          ['p_count_metric', '1'],
        ])};
      end if;
      commit;
      select 'granted' as outcome, v_point as point, v_base as base_point;
    end if;
  end if;
end`
