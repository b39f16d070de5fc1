import type { AddressInfo } from 'node:net'
import dynalite from 'dynalite'
import {
  type DynamoClientKind,
  type DynamoConnection,
  ensureDeviceTable,
  openDynamo,
} from '../../src/infra/dynamodb/dynamodb.js'
import { prepareDeviceTable } from '../../src/repositories/dynamodb-device.repository.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

export type TestDynamo = {
  endpoint: string
  table: string
  connection: DynamoConnection
  close(): Promise<void>
}

/** Test credentials for the local DynamoDB-compatible server (it accepts any). */
export const TEST_AWS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }

/**
 * Starts dynalite in this process on a random port, with the device table created (and marked, unless
 * `prepare` is false: a table as one from before device marks); `connection` speaks to it through `client`
 * (Allot's lean HTTP client unless told).
 */
export async function startDynamo(
  table = `allot_test_${Date.now()}`,
  client: DynamoClientKind = 'http',
  prepare = true,
): Promise<TestDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const connection = openDynamo({ region: 'us-east-1', endpoint, credentials: TEST_AWS_CREDENTIALS, client })
  const created = (await ensureDeviceTable(connection.client, table)) === 'created'
  if (prepare) await prepareDeviceTable(connection.transport, table, { created })
  return {
    endpoint,
    table,
    connection,
    async close() {
      await connection.close()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Idle keep-alive sockets of the service under test would delay the close by their timeout; a request
      // in flight is left to finish (dynalite closes its store once the server has closed).
      server.closeIdleConnections()
      await closed
    },
  }
}
