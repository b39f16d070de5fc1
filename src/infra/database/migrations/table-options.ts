import { type CreateTableBuilder, type Kysely, MysqlAdapter, sql } from 'kysely'

/** Wraps a CREATE TABLE so MySQL/MariaDB get InnoDB and utf8mb4 (Korean text); SQLite takes it as is. */
export function tableOptions(db: Kysely<unknown>) {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter
  return <T extends string, C extends string>(t: CreateTableBuilder<T, C>) =>
    mysql ? t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci`) : t
}
