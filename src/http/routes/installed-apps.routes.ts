import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { INSTALLED_APPS_UPDATE_PERIOD } from '../../domain/sdk-v1.js'
import type { InstalledApps } from '../../services/installed-apps.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  UpdateInstalledAppsFormSchema,
  UpdateInstalledAppsResponseSchema,
} from '../dto/installed-apps.dto.js'
import { appIdOf, packagesFromUpload } from '../presenters/installed-apps.presenter.js'

type Deps = { installedApps: InstalledApps }

/** `POST /api/update_installed_apps/`: the SDK's daily upload of the device's installed packages. */
export async function installedAppsRoutes(fastify: FastifyInstance, { installedApps }: Deps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.post(
    '/api/update_installed_apps/',
    {
      schema: {
        tags: ['sdk'],
        body: UpdateInstalledAppsFormSchema,
        response: { 200: UpdateInstalledAppsResponseSchema, ...errorResponses },
      },
      // v1 bound an empty number field as 0: `app_id=&unit_id=7` means unit 7, not a malformed app_id.
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | undefined
        if (body && typeof body === 'object') {
          for (const field of ['app_id', 'unit_id']) if (body[field] === '') delete body[field]
        }
      },
    },
    async (request): Promise<Static<typeof UpdateInstalledAppsResponseSchema>> => {
      const form = request.body
      const appId = appIdOf(form)
      await installedApps.update(appId, form.ifa, packagesFromUpload(form.installed_apps))
      return { update_period: INSTALLED_APPS_UPDATE_PERIOD }
    },
  )
}
