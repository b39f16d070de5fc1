import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { AllotError } from '../../domain/errors.js'
import { strictJsonBodies } from '../validation.js'

/** What every admin scope needs: the bearer token. */
export type AdminScope = { adminToken: string }

/**
 * Registers a feature's `/admin/…` routes behind the bearer token, with JSON bodies read strictly (numbers
 * are JSON numbers, never strings read loosely). Each feature registers its own admin routes through it.
 */
export async function registerAdminRoutes<O extends object>(
  app: FastifyInstance,
  { adminToken }: AdminScope,
  routes: (scope: FastifyInstance, options: O) => Promise<void>,
  options: O,
): Promise<void> {
  await app.register(
    async (scope) => {
      strictJsonBodies(scope)
      const expected = Buffer.from(`Bearer ${adminToken}`)
      scope.addHook('onRequest', async (request) => {
        const given = Buffer.from(request.headers.authorization ?? '')
        if (given.length !== expected.length || !timingSafeEqual(given, expected))
          throw new AllotError('Unauthorized', 'Authorization header must be "Bearer <ADMIN_TOKEN>"')
      })
      await routes(scope, options)
    },
    { prefix: '/admin' },
  )
}
