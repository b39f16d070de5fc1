import closeWithGrace from 'close-with-grace'
import { createApp } from './app.js'
import { ConfigError, loadConfig } from './config/config.js'

/** The only file that listens: boot, print how to reach the service, shut down gracefully on signals. */
async function main(): Promise<void> {
  const config = loadConfig()
  const app = await createApp({ config })
  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ port: config.port, host: config.host })
  if (config.generatedSecrets) {
    app.log.info(
      { admin_token: config.adminToken },
      'embedded mode: generated ADMIN_TOKEN and PAYLOAD_SECRET are kept beside the SQLite file (allot-secrets.json)',
    )
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`allot: ${err.message}`)
  } else {
    console.error('allot: failed to start:', err)
  }
  process.exit(1)
})
